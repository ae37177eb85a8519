// Phi-3-V's HD image processor (the reference's Phi3VImageProcessor, image_processing_phi3_v.py,
// after InternLM-XComposer2-4KHD) and its prompt handling (Phi3VProcessor, processing_phi3_v.py),
// as VLM2Vec V1 calls them (`num_crops` 16 by default; 4 is the checkpoint's own setting).
//
// Per image:
//   1. RGB; a portrait image is transposed (x ↔ y) so the work below sees width ≥ height;
//   2. scale = the largest s with s · ⌈s / ratio⌉ ≤ num_crops (ratio = w / h, float64);
//      resized with Pillow BILINEAR to w' = 336·s, h' = int(w' / ratio);
//   3. padded with white rows to a multiple of 336 (top gets ⌊pad/2⌋), transposed back;
//   4. to float32 in [0, 1] (v / 255) and normalized with the CLIP mean / std;
//   5. the global view: the whole normalized image resized to 336×336 by torch's float32 bicubic;
//   6. the crops: 336×336 tiles of the HD image, row-major.
// pixel_values = [global, crop 1, …, crop h·w] (the reference pads to num_crops + 1 with zero
// crops, which the model never reads; we keep only the real ones). The image takes
// (h·w + 1)·144 + 1 + (h + 1)·12 tokens in the prompt.
//
// Prompts: the text is split at `<|image_N|>` tags; each chunk is tokenized on its own WITH the
// tokenizer's BOS (the reference calls the tokenizer per chunk), and image N's tokens are N
// repeated as −N. A prompt without images is tokenized whole (BOS + text).

import { Vlm2VecError } from '../../errors.ts';
import type { RgbImage } from '../../io/media/image-types.ts';
import type { HfTokenizer } from '../../io/text/tokenizer.ts';
import { OPENAI_CLIP_MEAN, OPENAI_CLIP_STD } from '../clip-vision/index.ts';
import { resizeBicubicTorch, resizeBilinearPillow } from './resample.ts';

/** The crop side the processor and the CLIP tower share. */
export const CROP_SIZE = 336;

/** VLM2Vec's default `--num_crops`. */
export const DEFAULT_NUM_CROPS = 16;

/** Options of {@link processPhi3VImage}. */
export interface Phi3VImageOptions {
  /** At most this many 336-pixel crops (VLM2Vec: 16). */
  numCrops?: number | undefined;
  imageMean?: readonly [number, number, number] | undefined;
  imageStd?: readonly [number, number, number] | undefined;
}

/** One processed image. */
export interface Phi3VImage {
  /** [1 + rows·cols, 3, 336, 336]: the global view, then the crops row-major. */
  pixelValues: Float32Array;
  /** Crop rows and columns of the HD image (image_sizes / 336). */
  rows: number;
  cols: number;
  /** Tokens the image takes in the prompt. */
  numImgTokens: number;
}

/** (h·w + 1)·144 + 1 + (h + 1)·12: every crop's 12×12 merged tokens with a newline per row. */
export function phi3VImageTokens(rows: number, cols: number): number {
  return (rows * cols + 1) * 144 + 1 + (rows + 1) * 12;
}

/**
 * The HD size (width, height) an image is resized to before padding: the reference's HD_transform
 * arithmetic (portrait images computed transposed).
 *
 * @example hdResizeSize(234, 74, 16) // [2016, 637]
 */
export function hdResizeSize(width: number, height: number, numCrops: number): [number, number] {
  const transposed = width < height;
  const [w, h] = transposed ? [height, width] : [width, height];
  const ratio = w / h;
  let scale = 1;
  while (scale * Math.ceil(scale / ratio) <= numCrops) scale++;
  scale--;
  const newW = Math.trunc(scale * CROP_SIZE);
  const newH = Math.trunc(newW / ratio);
  return transposed ? [newH, newW] : [newW, newH];
}

function transpose(img: RgbImage): RgbImage {
  const { width: w, height: h, data } = img;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = (y * w + x) * 3;
      const d = (x * h + y) * 3;
      out[d] = data[s]!;
      out[d + 1] = data[s + 1]!;
      out[d + 2] = data[s + 2]!;
    }
  }
  return { width: h, height: w, data: out };
}

/** Per channel, float32((float32(v / 255) − mean) / std) for the 256 byte values (ToTensor + Normalize). */
function normalizationLut(mean: readonly number[], std: readonly number[]): Float32Array {
  const lut = new Float32Array(3 * 256);
  for (let c = 0; c < 3; c++) {
    const m = Math.fround(mean[c]!);
    const s = Math.fround(std[c]!);
    for (let v = 0; v < 256; v++) lut[c * 256 + v] = Math.fround(Math.fround(Math.fround(v / 255) - m) / s);
  }
  return lut;
}

/**
 * One image → pixel_values and its token count, as the reference's Phi3VImageProcessor.
 *
 * @example const { pixelValues, numImgTokens } = processPhi3VImage(img, { numCrops: 16 }); // 1909 tokens for a 234×74 image
 */
export function processPhi3VImage(img: RgbImage, opts: Phi3VImageOptions = {}): Phi3VImage {
  const numCrops = opts.numCrops ?? DEFAULT_NUM_CROPS;
  if (!Number.isInteger(numCrops) || numCrops < 1) throw new Vlm2VecError('phi3_v', `num_crops must be a positive integer, got ${numCrops}`);
  const transposed = img.width < img.height;
  const src = transposed ? transpose(img) : img;
  const [newW, newH] = hdResizeSize(src.width, src.height, numCrops);
  if (newH < 1) {
    throw new Vlm2VecError('phi3_v', `a ${img.width}×${img.height} image is too elongated for ${numCrops} crops (its short side would resize to 0 pixels)`);
  }
  const resized = resizeBilinearPillow(src, newW, newH);
  const padH = Math.ceil(newH / CROP_SIZE) * CROP_SIZE;
  const top = Math.trunc((padH - newH) / 2);
  const padded = new Uint8Array(newW * padH * 3).fill(255);
  padded.set(resized.data, top * newW * 3);
  const hd = transposed ? transpose({ width: newW, height: padH, data: padded }) : { width: newW, height: padH, data: padded };
  const { width: W, height: H } = hd;
  const lut = normalizationLut(opts.imageMean ?? OPENAI_CLIP_MEAN, opts.imageStd ?? OPENAI_CLIP_STD);
  const hw = W * H;
  const chw = new Float32Array(3 * hw);
  for (let i = 0; i < hw; i++) {
    chw[i] = lut[hd.data[3 * i]!]!;
    chw[hw + i] = lut[256 + hd.data[3 * i + 1]!]!;
    chw[2 * hw + i] = lut[512 + hd.data[3 * i + 2]!]!;
  }
  const rows = H / CROP_SIZE;
  const cols = W / CROP_SIZE;
  const crop = 3 * CROP_SIZE * CROP_SIZE;
  const out = new Float32Array((1 + rows * cols) * crop);
  out.set(resizeBicubicTorch(chw, 3, H, W, CROP_SIZE, CROP_SIZE), 0);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const base = (1 + r * cols + c) * crop;
      for (let ch = 0; ch < 3; ch++) {
        for (let y = 0; y < CROP_SIZE; y++) {
          const from = ch * hw + (r * CROP_SIZE + y) * W + c * CROP_SIZE;
          out.set(chw.subarray(from, from + CROP_SIZE), base + (ch * CROP_SIZE + y) * CROP_SIZE);
        }
      }
    }
  }
  return { pixelValues: out, rows, cols, numImgTokens: phi3VImageTokens(rows, cols) };
}

const IMAGE_TAG = /<\|image_(\d+)\|>/g;

/**
 * Token ids of a prompt as the reference's Phi3VProcessor builds them: without images the whole
 * text (BOS + tokens); with images, BOS + tokens per chunk between `<|image_N|>` tags and
 * `numImgTokens[N-1]` copies of −N for each tag. Tags must be `<|image_1|>` … `<|image_n|>`, each
 * once and in order (the reference pairs features with tokens in image order).
 *
 * @example phi3VPromptIds(tok, '<|image_1|>\nRepresent the given image.', [1909]) // [1, -1 ×1909, 1, 28705, 13, …]
 */
export function phi3VPromptIds(tok: HfTokenizer, text: string, numImgTokens: readonly number[], bosId: number | undefined): number[] {
  const withBos = (chunk: string): number[] => (bosId === undefined ? tok.encode(chunk) : [bosId, ...tok.encode(chunk)]);
  if (numImgTokens.length === 0) return withBos(text);
  const tags = [...text.matchAll(IMAGE_TAG)].map((m) => Number(m[1]));
  if (tags.length !== numImgTokens.length || tags.some((n, i) => n !== i + 1)) {
    throw new Vlm2VecError('phi3_v', `the prompt has image tags [${tags.map((n) => `<|image_${n}|>`).join(', ')}] for ${numImgTokens.length} image(s); ` +
      `expected <|image_1|> … <|image_${numImgTokens.length}|>, each once and in order`);
  }
  const chunks = text.split(/<\|image_\d+\|>/);
  const ids: number[] = [];
  chunks.forEach((chunk, i) => {
    ids.push(...withBos(chunk));
    if (i < tags.length) for (let k = 0; k < numImgTokens[i]!; k++) ids.push(-tags[i]!);
  });
  return ids;
}
