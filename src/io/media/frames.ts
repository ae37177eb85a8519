// Video frame folders as the VLM2Vec harness reads them (docs/mmeb.md §4, docs/vlm2vec.md §1.5):
// which files count as frames, their natural order, and the 8-frame linspace sampling rule.

import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Vlm2VecError } from '../../errors.ts';
import { checkPositiveInt } from '../../util/checks.ts';

/** File extensions (lower-cased) the reference treats as frames. */
export const FRAME_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png'];

/** Python's natural-sort key: `re.split(r'(\d+)', s)` with digit runs as ints, other runs lower-cased.
 * The split always alternates text, digits, text, … so positions of equal parity compare like with like. */
function naturalKey(s: string): (string | bigint)[] {
  const parts = s.split(/(\d+)/);
  // BigInt: digit runs like timestamps can exceed 2^53, and Python ints never overflow.
  return parts.map((p, i) => (i % 2 === 1 ? BigInt(p) : p.toLowerCase()));
}

/** Compares strings by Unicode code point, like Python's `str` comparison (JS `<` compares UTF-16 units). */
function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done === y.done ? 0 : x.done ? -1 : 1;
    const cx = x.value.codePointAt(0)!;
    const cy = y.value.codePointAt(0)!;
    if (cx !== cy) return cx < cy ? -1 : 1;
  }
}

/**
 * Natural order of file names: digit runs compare as integers, other runs case-insensitively.
 * Names with equal keys (e.g. `f01.jpg` / `f1.jpg`) are ordered by their raw code points so the
 * result is deterministic (Python's stable sort would keep the arbitrary `os.listdir` order there).
 *
 * @example
 * ['frame10.jpg', 'frame2.jpg', 'Frame1.jpg'].sort(naturalCompare)
 * // → ['Frame1.jpg', 'frame2.jpg', 'frame10.jpg']
 */
export function naturalCompare(a: string, b: string): number {
  const ka = naturalKey(a);
  const kb = naturalKey(b);
  const n = Math.min(ka.length, kb.length);
  for (let i = 0; i < n; i++) {
    const x = ka[i]!;
    const y = kb[i]!;
    if (typeof x === 'bigint' && typeof y === 'bigint') {
      if (x !== y) return x < y ? -1 : 1;
    } else {
      const c = compareCodePoints(x as string, y as string);
      if (c !== 0) return c;
    }
  }
  if (ka.length !== kb.length) return ka.length < kb.length ? -1 : 1;
  return compareCodePoints(a, b);
}

/** True when `name` has a frame extension (.jpg/.jpeg/.png, any case), judged like Python's
 * `os.path.splitext`: leading dots do not start an extension, so a file named `.jpg` is not a frame. */
export function isFrameFile(name: string): boolean {
  const stem = name.replace(/^\.+/, '');
  const dot = stem.lastIndexOf('.');
  if (dot < 0) return false;
  return FRAME_EXTENSIONS.includes(stem.slice(dot).toLowerCase());
}

/**
 * Lists the frame files of a directory (full paths), naturally sorted by file name.
 *
 * @example
 * const frames = await listFrames('data/video/msrvtt/frames/video7020');
 * const picked = sampleFrameIndices(frames.length).map((i) => frames[i]!);
 */
export async function listFrames(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    throw new Vlm2VecError('frames', `cannot read frame directory '${dir}': ${(err as Error).message}`, {
      cause: err,
    });
  }
  const names = entries
    .filter((e) => !e.isDirectory() && isFrameFile(e.name))
    .map((e) => e.name)
    .sort(naturalCompare);
  return names.map((name) => join(dir, name));
}

/**
 * Indices of the frames the reference keeps out of `n`: `np.linspace(0, n-1, k)` cast to int
 * (truncation), or all `n` frames when `n < k`.
 *
 * @example
 * sampleFrameIndices(20) // → [0, 2, 5, 8, 10, 13, 16, 19]
 * sampleFrameIndices(5)  // → [0, 1, 2, 3, 4]
 */
export function sampleFrameIndices(n: number, k = 8): number[] {
  if (!Number.isInteger(n) || n < 0) {
    throw new Vlm2VecError('frames', `frame count must be a non-negative integer, got ${n}`);
  }
  checkPositiveInt('frames', 'number of frames to sample', k);
  if (n < k) return Array.from({ length: n }, (_, i) => i);
  if (k === 1) return [0];
  // numpy computes i * step with step = (stop - start) / (num - 1) in float64, then pins the last
  // sample to `stop` exactly; we repeat those operations so truncation lands on the same integers.
  const step = (n - 1) / (k - 1);
  const out = Array.from({ length: k }, (_, i) => Math.trunc(i * step));
  out[k - 1] = n - 1;
  return out;
}

/**
 * VLM2Vec's `process_video_frames(dir, num_frames)`: the frame paths of a folder, naturally
 * sorted, sampled with {@link sampleFrameIndices} (all of them when fewer than `k`).
 *
 * @example
 * const eight = await sampleFramePaths('frames/video7020'); // 8 paths in temporal order
 */
export async function sampleFramePaths(dir: string, k = 8): Promise<string[]> {
  const files = await listFrames(dir);
  return sampleFrameIndices(files.length, k).map((i) => files[i]!);
}
