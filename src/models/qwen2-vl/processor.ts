// Qwen2-VL image and video preprocessing, identical to the reference used by VLM2Vec:
// transformers' Pillow-based `Qwen2VLImageProcessorPil` for images (and the VLM2Vec repo's
// Qwen2VLImageProcessor video path, which runs the same per-frame Pillow pipeline), plus
// VLM2Vec's collator rule for tiny images. See docs/vlm2vec.md §1.3–§1.5.
//
// image → (side < 28: Pillow-resize to 56×56) → smart_resize target (banker's rounding, float64)
//       → Pillow BICUBIC resize (bit-exact port) → rescale 1/255 → CLIP normalise (float32)
//       → temporal pad to 2 frames → patches [N, 1176] + grid (t, h, w)
// video → every frame resized to the FIRST frame's smart_resize target → same layout, grid_t = T/2.

import { Vlm2VecError } from '../../errors.ts';
import { concatFloat32 } from '../../util/arrays.ts';
import { checkPositiveInt } from '../../util/checks.ts';
import type { RgbImage } from '../../io/media/image-types.ts';
import { resizeBicubic } from '../../io/media/pillow-resample.ts';
import type { ImageProcessorSettings } from '../encoder.ts';
import { OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, normalizationTable, patchifyFrames } from './processor-patches.ts';

export { OPENAI_CLIP_MEAN, OPENAI_CLIP_STD } from './processor-patches.ts';
export { expandPlaceholders, IMAGE_PAD, VIDEO_PAD } from './processor-placeholders.ts';

/** Processor settings (models/encoder.ts); the defaults are VLM2Vec's (QWEN2VL_DEFAULTS). */
export type Qwen2VLProcessorOptions = ImageProcessorSettings;

type Resolved = Required<Qwen2VLProcessorOptions>;

export const QWEN2VL_DEFAULTS: Resolved = {
  minPixels: 4 * 28 * 28,
  maxPixels: 1280 * 28 * 28,
  patchSize: 14,
  mergeSize: 2,
  temporalPatchSize: 2,
  rescaleFactor: 1 / 255,
  imageMean: OPENAI_CLIP_MEAN,
  imageStd: OPENAI_CLIP_STD,
  tinyImageRule: true,
};

function resolve(o: Qwen2VLProcessorOptions | undefined): Resolved {
  const r: Resolved = { ...QWEN2VL_DEFAULTS, ...o };
  for (const k of ['minPixels', 'maxPixels', 'patchSize', 'mergeSize', 'temporalPatchSize'] as const) {
    checkPositiveInt('processor', `option ${k}`, r[k]);
  }
  if (r.minPixels > r.maxPixels) throw new Vlm2VecError('processor', `minPixels ${r.minPixels} exceeds maxPixels ${r.maxPixels}`);
  return r;
}

/** Python's round(): half to even (70/28 = 2.5 → 2, so 70 px becomes 56, not 84). */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * Target (height, width) of Qwen2-VL's smart_resize, in float64 with the reference's order of
 * operations: both multiples of `factor`, area within [minPixels, maxPixels], aspect kept.
 * Extreme inputs (a side < factor, or aspect > 200) are first squared to max(factor, h, w), as
 * the VLM2Vec repo's version does (transformers' own version raises for aspect > 200).
 *
 * @example
 * smartResize(480, 640) // → [476, 644]
 * smartResize(70, 70)   // → [56, 56]
 */
export function smartResize(
  height: number, width: number, opts: { factor?: number; minPixels?: number; maxPixels?: number } = {},
): [number, number] {
  const factor = opts.factor ?? 28;
  const minPixels = opts.minPixels ?? QWEN2VL_DEFAULTS.minPixels;
  const maxPixels = opts.maxPixels ?? QWEN2VL_DEFAULTS.maxPixels;
  if (!(height > 0 && width > 0)) throw new Vlm2VecError('processor', `image size must be positive, got ${width}×${height}`);
  let h = height;
  let w = width;
  if (h < factor || w < factor || Math.max(h, w) / Math.min(h, w) > 200) {
    h = w = Math.max(factor, h, w);
  }
  let hBar = roundHalfEven(h / factor) * factor;
  let wBar = roundHalfEven(w / factor) * factor;
  if (hBar * wBar > maxPixels) {
    const beta = Math.sqrt((h * w) / maxPixels);
    hBar = Math.max(factor, Math.floor(h / beta / factor) * factor);
    wBar = Math.max(factor, Math.floor(w / beta / factor) * factor);
  } else if (hBar * wBar < minPixels) {
    const beta = Math.sqrt(minPixels / (h * w));
    hBar = Math.ceil((h * beta) / factor) * factor;
    wBar = Math.ceil((w * beta) / factor) * factor;
  }
  return [hBar, wBar];
}

/**
 * The uint8 image the reference feeds to rescale/normalise: tiny-image rule, then smart_resize
 * target, then Pillow BICUBIC (a copy when the size is unchanged).
 *
 * @example
 * const resized = resizeForQwen2VL(await loadImageRGB('cat.jpg')); // e.g. 644×476
 */
export function resizeForQwen2VL(img: RgbImage, opts?: Qwen2VLProcessorOptions): RgbImage {
  const r = resolve(opts);
  let src = img;
  if (r.tinyImageRule && (src.width < 28 || src.height < 28)) src = resizeBicubic(src, 56, 56);
  const [h, w] = smartResize(src.height, src.width, { factor: r.patchSize * r.mergeSize, minPixels: r.minPixels, maxPixels: r.maxPixels });
  return resizeBicubic(src, w, h);
}

/** Patches and grids of a processor call (`pixel_values` / `image_grid_thw`, or the video pair). */
export interface ProcessedVision {
  /** [numPatches, 3·temporalPatch·patch²] = [N, 1176] with the defaults */
  pixelValues: Float32Array;
  numPatches: number;
  patchDim: number;
  /** One (t, h, w) per image or video, in input order. */
  gridThw: [number, number, number][];
}

/**
 * `processor(images=[...])`: every image is resized on its own, patches are concatenated.
 *
 * @example
 * const { pixelValues, gridThw } = processImages([await loadImageRGB('a.jpg')]);
 * // gridThw[0] = [1, 34, 46] for a 640×480 photo; pixelValues.length = 1564 * 1176
 */
export function processImages(images: readonly RgbImage[], opts?: Qwen2VLProcessorOptions): ProcessedVision {
  const r = resolve(opts);
  const lut = normalizationTable(r);
  const parts: Float32Array[] = [];
  const gridThw: [number, number, number][] = [];
  for (const img of images) {
    const { pixelValues, grid } = patchifyFrames([resizeForQwen2VL(img, r)], r, lut);
    parts.push(pixelValues);
    gridThw.push(grid);
  }
  return concat(parts, gridThw, r);
}

/**
 * `processor(videos=[frames])`: all frames are resized to the smart_resize target of the FIRST
 * frame (no tiny-image rule, no fps logic); an odd frame count repeats the last frame.
 *
 * @example
 * const v = processVideo(frames); // 8 frames of 640×480 → gridThw [[4, 34, 46]]
 */
export function processVideo(frames: readonly RgbImage[], opts?: Qwen2VLProcessorOptions): ProcessedVision {
  const r = resolve(opts);
  if (frames.length === 0) throw new Vlm2VecError('processor', 'video has no frames');
  const first = frames[0]!;
  const [h, w] = smartResize(first.height, first.width, { factor: r.patchSize * r.mergeSize, minPixels: r.minPixels, maxPixels: r.maxPixels });
  const resized = frames.map((f) => resizeBicubic(f, w, h));
  const { pixelValues, grid } = patchifyFrames(resized, r);
  return concat([pixelValues], [grid], r);
}

function concat(parts: Float32Array[], gridThw: [number, number, number][], r: Resolved): ProcessedVision {
  const patchDim = 3 * r.temporalPatchSize * r.patchSize * r.patchSize;
  const total = parts.reduce((s, p) => s + p.length, 0);
  const pixelValues = parts.length === 1 ? parts[0]! : concatFloat32(parts);
  return { pixelValues, numPatches: total / patchDim, patchDim, gridThw };
}
