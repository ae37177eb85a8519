// LLaVA-NeXT's image processor (transformers' LlavaNextImageProcessor, the Pillow-based one the
// reference loads) and the <image> expansion of LlavaNextProcessor, exactly:
//   image (h, w) → best resolution among the grid pinpoints (most effective pixels, then least
//   waste) → aspect-kept Pillow BICUBIC resize into it (ceil on the short side) → zero padding
//   centred (the odd pixel after) → S×S patches row-major; first a base image resized to S×S
//   (aspect not kept) → each rescaled 1/255 and CLIP-normalized → pixel_values [1 + n, 3, S, S].
// The features the model makes of one image (and the <image> tokens it takes): the base image's
// G² patch tokens (G = S / CLIP patch), then the anyres grid of (rows·G) × (cols·G) tokens with the
// padding's rows or columns cut away ("unpadding") and one image_newline after every row.
// The unpadding size is computed in exact integers (floor(h·W / w)); transformers' processor
// rounds the float quotient to 7 decimals first and its model does the same, which agree for any
// image under 2·10⁷ pixels a side. (The reference repo's own modeling copy truncates the float,
// which can come out one row short when the quotient is an integer; it then refuses the batch
// for a token / feature mismatch.)

import { Vlm2VecError } from '../../errors.ts';
import type { RgbImage } from '../../io/media/image-types.ts';
import { resizeBicubic } from '../../io/media/pillow-resample.ts';
import { CLIP_NORMALIZATION, normalizationLut, normalizeChw, type PixelNormalization } from '../clip-vision/index.ts';

/** The image processor's settings (preprocessor_config.json). */
export interface LlavaNextImageSettings extends PixelNormalization {
  /** Side of the base image and of every grid patch (size.shortest_edge = crop_size = 336). */
  size: number;
  /** Candidate (height, width) resolutions. */
  pinpoints: readonly (readonly [number, number])[];
}

/** One processed image. */
export interface LlavaNextImage {
  /** [n, 3, S, S]: the base image, then the grid patches row-major. */
  pixels: Float32Array;
  numPatches: number;
  /** (height, width) of the input image (the processor's image_sizes). */
  imageSize: readonly [number, number];
  /** (height, width) of the chosen pinpoint. */
  bestResolution: readonly [number, number];
}

/**
 * The pinpoint that keeps the most of the image's pixels after an aspect-kept downscale, ties
 * going to the least padding (transformers' select_best_resolution, float64 as Python computes it).
 *
 * @example selectBestResolution(480, 640, DEFAULT_GRID_PINPOINTS) // [672, 672]
 */
export function selectBestResolution(height: number, width: number, pinpoints: readonly (readonly [number, number])[]): [number, number] {
  let best: [number, number] | undefined;
  let maxEffective = 0;
  let minWasted = Infinity;
  for (const [h, w] of pinpoints) {
    const scale = Math.min(w / width, h / height);
    const dw = Math.trunc(width * scale);
    const dh = Math.trunc(height * scale);
    const effective = Math.min(dw * dh, width * height);
    const wasted = w * h - effective;
    if (effective > maxEffective || (effective === maxEffective && wasted < minWasted)) {
      maxEffective = effective;
      minWasted = wasted;
      best = [h, w];
    }
  }
  if (best === undefined) throw new Vlm2VecError('processor', `no grid pinpoint fits a ${width}×${height} image (pinpoints: ${JSON.stringify(pinpoints)})`);
  return best;
}

/**
 * The aspect-kept size inside a pinpoint (transformers' get_patch_output_size).
 *
 * @example patchOutputSize(300, 4096, [336, 1008]) // [74, 1008]
 */
export function patchOutputSize(height: number, width: number, target: readonly [number, number]): [number, number] {
  const [th, tw] = target;
  const scaleW = tw / width;
  const scaleH = th / height;
  if (scaleW < scaleH) return [Math.min(Math.ceil(height * scaleW), th), tw];
  return [th, Math.min(Math.ceil(width * scaleH), tw)];
}

/**
 * `image_processor(images=[img])` for one image: base image + grid patches, normalized.
 *
 * @example const { pixels, numPatches } = processImage(img, { size: 336, pinpoints: DEFAULT_GRID_PINPOINTS, ...CLIP_NORMALIZATION }); // 5 patches for 640×480
 */
export function processImage(img: RgbImage, s: LlavaNextImageSettings, lut = normalizationLut(s)): LlavaNextImage {
  const S = s.size;
  if (img.width < 1 || img.height < 1) throw new Vlm2VecError('processor', `image size must be positive, got ${img.width}×${img.height}`);
  const best = selectBestResolution(img.height, img.width, s.pinpoints);
  const [bh, bw] = best;
  if (bh % S !== 0 || bw % S !== 0) throw new Vlm2VecError('processor', `grid pinpoint [${bh}, ${bw}] is not a multiple of the patch size ${S}`);
  const [nh, nw] = patchOutputSize(img.height, img.width, best);
  const resized = resizeBicubic(img, nw, nh);
  // np.pad((paste_y, paste_y + r_y), (paste_x, paste_x + r_x)) with zeros: the odd pixel after.
  const padY = Math.floor((bh - nh) / 2);
  const padX = Math.floor((bw - nw) / 2);
  const rows = bh / S;
  const cols = bw / S;
  const n = 1 + rows * cols;
  const plane = S * S;
  const pixels = new Float32Array(n * 3 * plane);
  normalizeChw(resizeBicubic(img, S, S), lut, pixels, 0);
  // A padded pixel is the uint8 0, normalized like any other.
  const zero = [lut[0]!, lut[256]!, lut[512]!];
  const src = resized.data;
  for (let pr = 0; pr < rows; pr++) {
    for (let pc = 0; pc < cols; pc++) {
      const base = (1 + pr * cols + pc) * 3 * plane;
      for (let y = 0; y < S; y++) {
        const sy = pr * S + y - padY;
        for (let x = 0; x < S; x++) {
          const sx = pc * S + x - padX;
          const o = base + y * S + x;
          if (sy < 0 || sy >= nh || sx < 0 || sx >= nw) {
            pixels[o] = zero[0]!;
            pixels[o + plane] = zero[1]!;
            pixels[o + 2 * plane] = zero[2]!;
          } else {
            const i = (sy * nw + sx) * 3;
            pixels[o] = lut[src[i]!]!;
            pixels[o + plane] = lut[256 + src[i + 1]!]!;
            pixels[o + 2 * plane] = lut[512 + src[i + 2]!]!;
          }
        }
      }
    }
  }
  return { pixels, numPatches: n, imageSize: [img.height, img.width], bestResolution: best };
}

/** Geometry of one image's features (see {@link imageFeatureLayout}). */
export interface FeatureLayout {
  /** Tokens per side of one patch's feature map (S / CLIP patch size). */
  grid: number;
  /** Patch rows and columns of the anyres grid. */
  patchRows: number;
  patchCols: number;
  /** Kept rows [rowStart, rowEnd) and columns [colStart, colEnd) of the (patchRows·G) × (patchCols·G) map. */
  rowStart: number;
  rowEnd: number;
  colStart: number;
  colEnd: number;
  /** G² + kept rows · (kept cols + 1): the image's features and <image> tokens. */
  numFeatures: number;
}

/**
 * Where an image's features come from: the best pinpoint's grid and the unpadded window of the
 * feature map (integer arithmetic, see the file comment).
 *
 * @example imageFeatureLayout([480, 640], 336, 14, DEFAULT_GRID_PINPOINTS).numFeatures // 2340 (576 + 36·(48 + 1))
 */
export function imageFeatureLayout(imageSize: readonly [number, number], size: number, patchSize: number, pinpoints: readonly (readonly [number, number])[]): FeatureLayout {
  const [h, w] = imageSize;
  const grid = size / patchSize;
  const [bh, bw] = selectBestResolution(h, w, pinpoints);
  const patchRows = bh / size;
  const patchCols = bw / size;
  const ch = patchRows * grid;
  const cw = patchCols * grid;
  let rowStart = 0;
  let rowEnd = ch;
  let colStart = 0;
  let colEnd = cw;
  if (w * ch > cw * h) {
    // wider than the grid: rows of padding above and below
    const newH = Math.floor((h * cw) / w);
    const pad = Math.floor((ch - newH) / 2);
    rowStart = pad;
    rowEnd = ch - pad;
  } else {
    const newW = Math.floor((w * ch) / h);
    const pad = Math.floor((cw - newW) / 2);
    colStart = pad;
    colEnd = cw - pad;
  }
  const rows = rowEnd - rowStart;
  return { grid, patchRows, patchCols, rowStart, rowEnd, colStart, colEnd, numFeatures: grid * grid + rows * (colEnd - colStart + 1) };
}

/**
 * For each feature of an image, in the order the model packs them, its row in the projected
 * patch features [n·G², D] of that image (patch-major), or `newline` for image_newline: the base
 * patch's G² tokens, then row by row the kept columns and a newline.
 *
 * @example featureRows(layout, 16 * 5) // Int32Array of layout.numFeatures rows, 80 = newline
 */
export function featureRows(l: FeatureLayout, newline: number): Int32Array {
  const g = l.grid;
  const out = new Int32Array(l.numFeatures);
  let k = 0;
  for (let t = 0; t < g * g; t++) out[k++] = t;
  for (let y = l.rowStart; y < l.rowEnd; y++) {
    const pr = Math.floor(y / g);
    const gy = y % g;
    for (let x = l.colStart; x < l.colEnd; x++) {
      const pc = Math.floor(x / g);
      out[k++] = (1 + pr * l.patchCols + pc) * g * g + gy * g + (x % g);
    }
    out[k++] = newline;
  }
  return out;
}

export { CLIP_NORMALIZATION };
