// The reference's `--resize_use_processor false --image_resolution high|mid|low` (docs/mmeb.md §4
// "Resizing"; the published VLM2Vec-V1-Qwen2VL MMEB-V2 scores were run with `high`). The loaders
// of the reference put `RESOLUTION_MAPPING[image_resolution]` on every image and frame of every
// item, except on the frames of the five video-QA parsers (resolution None); the eval collator
// then calls `Image.open(path).resize((s, s))` with Pillow's default filter (BICUBIC; NEAREST for
// palette images; premultiplied alpha for RGBA) before the Qwen2-VL processor sees the image.
// Facts and upstream sources: docs/mmeb.md §4 ("Resizing"): RESOLUTION_MAPPING in
// src/data/eval_dataset/base_eval_dataset.py, the resize in src/data/collator/eval_collator.py.
//
// We reproduce that by writing the resized image as a lossless PNG under OUT/.resized/ (named by
// the sha256 of the source bytes and the target size, so reruns reuse it) and handing the
// embedder that file instead of the source: every embedder, local or remote, then sees the
// reference's pixels, and the embedding cache (keyed by file contents) keys the resized image.

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import type { FileEmbedItem } from '../../embed/types.ts';
import type { FileHasher } from '../../embed/hash.ts';
import type { ParserKind } from '../tasks/types.ts';
import { Vlm2VecError } from '../../errors.ts';
import { pillowDefaultResize } from '../legacy-v1/pillow-resize.ts';
import { writeFileAtomic } from '../../util/fs.ts';

/** The values of `--image_resolution` the reference maps to a size. */
export const IMAGE_RESOLUTIONS = ['high', 'mid', 'low'] as const;
export type ImageResolution = (typeof IMAGE_RESOLUTIONS)[number];

/** `RESOLUTION_MAPPING` of the reference's base_eval_dataset.py: the side of the square target. */
export const RESOLUTION_SIDE: Readonly<Record<ImageResolution, number>> = { high: 1344, mid: 672, low: 128 };

/** Parsers whose query frames carry resolution None in the reference: never resized. */
const NEVER_RESIZED: ReadonlySet<ParserKind> = new Set<ParserKind>(['videomme', 'nextqa', 'egoschema', 'mvbench', 'activitynetqa']);

/** The folder of the resized copies inside an output folder. */
export const RESIZED_DIR = '.resized';

/**
 * Whether the reference resizes the images and frames of a parser kind's items. Every other
 * parser puts the resolution on every image/frame it emits, on whichever side it appears.
 *
 * @example
 * resizesMedia('image_t2i'); // true (its candidate images)
 * resizesMedia('videomme');  // false (query frames carry resolution None)
 */
export function resizesMedia(parser: ParserKind): boolean {
  return !NEVER_RESIZED.has(parser);
}

/** Type guard for a CLI or settings value. */
export function isImageResolution(v: unknown): v is ImageResolution {
  return typeof v === 'string' && (IMAGE_RESOLUTIONS as readonly string[]).includes(v);
}

/** What {@link ImageResizer} did so far. */
export interface ResizeStats {
  /** Distinct source files seen. */
  files: number;
  /** Resized copies written now (the others were found from an earlier run or needed no resize). */
  written: number;
  /** Sources we cannot resize bit-exactly (CMYK, 16-bit): resized from their RGB conversion. */
  approximate: string[];
}

/**
 * Substitutes resized copies for the images and frames of embedding items.
 *
 * @example
 * const r = new ImageResizer('high', 'out/run1/.resized', new FileHasher());
 * const [item] = await r.resizeItems([{ text: '<|image_pad|> a cat', images: ['/data/cat.jpg'] }], 'OK-VQA');
 * item.images; // ['out/run1/.resized/3f…-1344x1344.png']
 */
export class ImageResizer {
  readonly side: number;
  readonly #memo = new Map<string, Promise<string>>();
  readonly #stats: ResizeStats = { files: 0, written: 0, approximate: [] };

  constructor(readonly resolution: ImageResolution, readonly workDir: string, readonly hasher: FileHasher) {
    this.side = RESOLUTION_SIDE[resolution];
  }

  get stats(): ResizeStats {
    return { ...this.#stats, approximate: [...this.#stats.approximate] };
  }

  /**
   * The items with every image and video frame replaced by its resized copy (text unchanged);
   * `onItem` is called after each item (a large task resizes for minutes before it embeds).
   */
  async resizeItems(items: readonly FileEmbedItem[], task: string, onItem?: (done: number) => void): Promise<FileEmbedItem[]> {
    const out: FileEmbedItem[] = [];
    for (const item of items) {
      const next: FileEmbedItem = { ...item };
      if (item.images) next.images = await Promise.all(item.images.map((p) => this.resizeFile(p, task)));
      if (item.video) next.video = await Promise.all(item.video.map((p) => this.resizeFile(p, task)));
      out.push(next);
      onItem?.(out.length);
    }
    return out;
  }

  /** The path to embed for one source image: its resized copy, or itself when already s×s. */
  resizeFile(path: string, task: string): Promise<string> {
    let p = this.#memo.get(path);
    if (!p) {
      p = this.#resize(path, task);
      this.#memo.set(path, p);
      this.#stats.files++;
    }
    return p;
  }

  async #resize(path: string, task: string): Promise<string> {
    const s = this.side;
    let digest: string;
    try {
      digest = await this.hasher.hashFile(path);
    } catch (err) {
      throw new Vlm2VecError('eval', `task ${task}: image ${path} cannot be read for --image-resolution ${this.resolution}: ` +
        `${(err as Error).message}`, { cause: err });
    }
    const out = join(this.workDir, `${digest}-${s}x${s}.png`);
    if (existsSync(out)) return out;
    const bytes = await readFile(path).catch((err: unknown) => {
      throw new Vlm2VecError('eval', `task ${task}: image ${path} cannot be read: ${(err as Error).message}`, { cause: err });
    });
    let size: { width?: number | undefined; height?: number | undefined };
    try {
      size = await sharp(bytes, { autoOrient: false, pages: 1, page: 0, limitInputPixels: false }).metadata();
    } catch (err) {
      throw new Vlm2VecError('eval', `task ${task}: image ${path} cannot be decoded: ${(err as Error).message}`, { cause: err });
    }
    // Pillow's resize returns a copy when the size does not change: the source is what it embeds.
    if (size.width === s && size.height === s) return path;
    const r = await pillowDefaultResize(bytes, path, s, s).catch((err: unknown) => {
      throw new Vlm2VecError('eval', `task ${task}: image ${path}: ${(err as Error).message}`, { cause: err });
    });
    if (!r.exact) this.#stats.approximate.push(path);
    // RGBA stays RGBA: the processor's RGB conversion happens model-side, as for any image.
    const png = await sharp(r.data, { raw: { width: r.width, height: r.height, channels: r.channels } }).png().toBuffer();
    await writeFileAtomic(out, png);
    this.#stats.written++;
    return out;
  }
}
