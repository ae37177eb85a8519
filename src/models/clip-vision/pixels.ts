// CLIP's pixel normalization for an already resized 8-bit image: what transformers' image
// processors compute after resizing, `float32(float64(u8) · rescale)` then
// `(x − float32(mean)) / float32(std)` in float32, laid out channels-first [3, H, W] as the Conv2d
// patch embedding reads it. 256 levels per channel make it a lookup table.

import type { RgbImage } from '../../io/media/image-types.ts';

/** OpenAI CLIP statistics (transformers' OPENAI_CLIP_MEAN / OPENAI_CLIP_STD). */
export const OPENAI_CLIP_MEAN: readonly [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
export const OPENAI_CLIP_STD: readonly [number, number, number] = [0.26862954, 0.26130258, 0.27577711];

/** Rescale and normalization settings (preprocessor_config.json's fields). */
export interface PixelNormalization {
  rescaleFactor: number;
  imageMean: readonly [number, number, number];
  imageStd: readonly [number, number, number];
}

export const CLIP_NORMALIZATION: PixelNormalization = { rescaleFactor: 1 / 255, imageMean: OPENAI_CLIP_MEAN, imageStd: OPENAI_CLIP_STD };

/**
 * Per channel, the float32 value of each uint8 level, [3 · 256].
 *
 * @example normalizationLut(CLIP_NORMALIZATION)[255] // (1 − 0.48145466) / 0.26862954 ≈ 1.9303
 */
export function normalizationLut(o: PixelNormalization): Float32Array {
  const lut = new Float32Array(3 * 256);
  for (let c = 0; c < 3; c++) {
    const m = Math.fround(o.imageMean[c]!);
    const s = Math.fround(o.imageStd[c]!);
    for (let v = 0; v < 256; v++) {
      const x = Math.fround(v * o.rescaleFactor);
      // float32 − float32 and float32 / float32 computed in float64 and rounded once are exact.
      lut[c * 256 + v] = Math.fround(Math.fround(x - m) / s);
    }
  }
  return lut;
}

/**
 * The image as normalized channels-first float32 [3, H, W], written into `out` at `offset`
 * (a new array when `out` is absent).
 *
 * @example const chw = normalizeChw(resized, normalizationLut(CLIP_NORMALIZATION)); // length 3·H·W
 */
export function normalizeChw(img: RgbImage, lut: Float32Array, out?: Float32Array, offset = 0): Float32Array {
  const hw = img.width * img.height;
  const dst = out ?? new Float32Array(3 * hw);
  const src = img.data;
  for (let i = 0; i < hw; i++) {
    dst[offset + i] = lut[src[3 * i]!]!;
    dst[offset + hw + i] = lut[256 + src[3 * i + 1]!]!;
    dst[offset + 2 * hw + i] = lut[512 + src[3 * i + 2]!]!;
  }
  return dst;
}
