// The image-resolution rule of the legacy V1 harness (docs/mmeb.md §11; reference `v1:src/dataset.py`
// `process_image`), applied to every image before it reaches the embedder (except for phi3_v):
//   high → 1344×1344, mid → 672×672, low → 128×128 (always, whatever the aspect ratio),
//   any other value → 1344×1344 only when the longer side exceeds 1344, not given → untouched.
// The reference calls `Image.resize((s, s))` with Pillow's default filter (BICUBIC, or NEAREST
// for palette images; premultiplied alpha for RGBA: ./pillow-resize.ts reproduces each). The
// embedder is handed a lossless PNG of the result, so any embedder (local or remote) sees the
// reference's pixels, and the embedding cache (keyed by file bytes) keys the resized image.

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp, { type Metadata } from 'sharp';
import { Vlm2VecError } from '../../errors.ts';
import { pillowDefaultResize } from './pillow-resize.ts';
import { writeFileAtomic } from '../../util/fs.ts';

/** The named settings of `--image_resolution`; any other non-empty string means "cap at 1344". */
export const V1_RESOLUTIONS = { high: 1344, mid: 672, low: 128 } as const;

/** The cap of the "other value" branch (`max_dim` of `process_image`). */
export const V1_MAX_DIM = 1344;

/**
 * The size an image of `width`×`height` is resized to under `resolution`, or undefined when the
 * reference leaves it untouched (no resolution, or the "other" branch with a small image).
 * Python's `if image_resolution:` treats `''` as not given.
 *
 * @example
 * v1TargetSize(640, 480, 'low');    // [128, 128]
 * v1TargetSize(2000, 100, 'other'); // [1344, 1344]
 * v1TargetSize(640, 480, 'other');  // undefined
 * v1TargetSize(640, 480, undefined); // undefined
 */
export function v1TargetSize(width: number, height: number, resolution: string | undefined): [number, number] | undefined {
  if (resolution === undefined || resolution === '') return undefined;
  const named = (V1_RESOLUTIONS as Record<string, number>)[resolution];
  if (named !== undefined) return [named, named];
  return Math.max(width, height) > V1_MAX_DIM ? [V1_MAX_DIM, V1_MAX_DIM] : undefined;
}

/** One image to prepare: its absolute path and where it was referenced (for errors). */
export interface V1ImageRef {
  path: string;
  origin: string;
}

/** What {@link prepareV1Images} did. */
export interface PreparedImages {
  /** Source path → the file to embed (the source itself, or its resized PNG). */
  files: Map<string, string>;
  /** Images resized now (not found already prepared). */
  resized: number;
  /** Images whose Pillow mode we do not resize exactly (CMYK, 16-bit), with the reason. */
  approximate: string[];
}

/**
 * Check that every image exists and, when `resolution` asks for it, write its resized copy into
 * `workDir` (named by the sha256 of the source bytes and the target size, written atomically,
 * reused by later runs).
 *
 * @example
 * const p = await prepareV1Images([{ path: '/img/cat.jpg', origin: 'row 0' }], { resolution: 'low', workDir: 'out/.v1-images' });
 * p.files.get('/img/cat.jpg'); // 'out/.v1-images/3f…-128x128.png'
 */
export async function prepareV1Images(
  refs: readonly V1ImageRef[],
  opts: { resolution: string | undefined; workDir: string; onProgress?: (done: number, total: number) => void },
): Promise<PreparedImages> {
  const files = new Map<string, string>();
  const approximate: string[] = [];
  let resized = 0;
  const unique = [...new Map(refs.map((r) => [r.path, r] as const)).values()];
  for (const [i, ref] of unique.entries()) {
    if (!existsSync(ref.path)) {
      throw new Vlm2VecError('mmeb-v1', `image ${ref.path} (${ref.origin}) not found: expected the images of MMEB-eval's images.zip unzipped into --image-dir`);
    }
    if (opts.resolution === undefined || opts.resolution === '') {
      files.set(ref.path, ref.path);
      continue;
    }
    const bytes = await readFile(ref.path).catch((err: unknown) => {
      throw new Vlm2VecError('mmeb-v1', `image ${ref.path} (${ref.origin}): cannot read it: ${(err as Error).message}`, { cause: err });
    });
    let meta: Metadata;
    try {
      meta = await sharp(bytes, { autoOrient: false, pages: 1, page: 0, limitInputPixels: false }).metadata();
    } catch (err) {
      throw new Vlm2VecError('mmeb-v1', `image ${ref.path} (${ref.origin}): cannot read its size: ${(err as Error).message}`, { cause: err });
    }
    const [w, h] = [meta.width, meta.height];
    const target = v1TargetSize(w, h, opts.resolution);
    // Pillow returns a copy when the size does not change: the source pixels are what it embeds.
    if (target === undefined || (target[0] === w && target[1] === h)) {
      files.set(ref.path, ref.path);
      continue;
    }
    const digest = createHash('sha256').update(bytes).digest('hex');
    const out = join(opts.workDir, `${digest}-${target[0]}x${target[1]}.png`);
    if (!existsSync(out)) {
      const r = await pillowDefaultResize(bytes, ref.path, target[0], target[1]).catch((err: unknown) => {
        throw new Vlm2VecError('mmeb-v1', `image ${ref.path} (${ref.origin}): ${(err as Error).message}`, { cause: err });
      });
      if (!r.exact) approximate.push(`${ref.path}: CMYK or 16-bit image, resized from its RGB conversion (Pillow resizes it in its own mode)`);
      const png = await sharp(r.data, { raw: { width: r.width, height: r.height, channels: r.channels } }).png().toBuffer();
      await writeFileAtomic(out, png);
      resized++;
    }
    files.set(ref.path, out);
    opts.onProgress?.(i + 1, unique.length);
  }
  opts.onProgress?.(unique.length, unique.length);
  return { files, resized, approximate };
}
