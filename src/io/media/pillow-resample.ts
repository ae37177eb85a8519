// A bit-exact port of Pillow's separable resampler (src/libImaging/Resample.c, 8 bits per channel)
// for the BICUBIC filter, written from the algorithm. Qwen2-VL's reference processor resizes with
// `PIL.Image.resize(size, BICUBIC)`, so identical bytes here mean identical pixel_values downstream.
//
// The algorithm, and the details that make it bit-exact:
// - per output position, a window of input taps centred on `(xx + 0.5) * scale`, with the filter
//   support widened by the down-scale factor (`support = 2 * max(1, scale)`), window ends rounded
//   by `(int)(v + 0.5)` (C truncation) and clamped to the image;
// - tap weights from the cubic convolution kernel with a = -0.5, evaluated in float64 with the
//   same operation order as Pillow, normalised to sum 1, then turned into fixed point with
//   PRECISION_BITS = 22 and round-half-away-from-zero;
// - horizontal pass first (only on the rows the vertical pass will read), then vertical pass;
//   each pass accumulates integers starting at 1 << 21 and clips `sum >> 22` to [0, 255];
// - a pass is skipped when its dimension is unchanged; same size in both is a plain copy;
// - Image.resize's special case for images taller than 100× their width (vertical pass first).
//
// Two implementations of the passes: the plain-JS ones below (the reference, and the fallback for
// 1/2/4 channels or runtimes without WebAssembly SIMD) and ./pillow-resample-wasm.ts (RGB, several
// times faster). Both are checked against Pillow's bytes and against each other in the tests.

import { Vlm2VecError } from '../../errors.ts';
import { checkPositiveInt } from '../../util/checks.ts';
import type { RgbImage } from './image-types.ts';
import { HALF, ONE, PRECISION_BITS, precomputeCoeffs, type AxisCoeffs } from './pillow-resample-coeffs.ts';
import { resampleSeparableRgbWasm } from './pillow-resample-wasm.ts';

// Sums are int32 like Pillow's `int ss`: |partial sum| ≤ 2^21 + 255 · 1.2 · 2^22 < 2^31 for the
// bicubic kernel (its positive lobe sums to < 1.2 after normalisation), so int32 arithmetic is exact.

/** clip8 for float64 sums (may exceed int32 transiently in grouping): exact floor(sum / 2^22). */
function clip8f(sum: number): number {
  const v = Math.floor(sum / ONE);
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** clip8: `sum >> 22` (arithmetic shift, i.e. floor) clamped to a byte. */
function clip8(sum: number): number {
  const v = sum >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

function resampleHorizontal(
  src: Uint8Array, inW: number, ch: number, rowOffset: number, rows: number, outW: number, c: AxisCoeffs,
): Uint8Array {
  const out = new Uint8Array(rows * outW * ch); // [rows, outW, ch]
  const { ksize, bounds, kk } = c;
  for (let yy = 0; yy < rows; yy++) {
    const rowBase = (yy + rowOffset) * inW * ch;
    const outBase = yy * outW * ch;
    for (let xx = 0; xx < outW; xx++) {
      const xmin = bounds[xx * 2]!;
      const n = bounds[xx * 2 + 1]!;
      const kBase = xx * ksize;
      if (ch === 3) {
        // RGB fast path: one sweep over the taps for all three channels (same sums, same order).
        let s0 = HALF;
        let s1 = HALF;
        let s2 = HALF;
        let p = rowBase + xmin * 3;
        for (let x = 0; x < n; x++, p += 3) {
          const k = kk[kBase + x]!;
          s0 = (s0 + Math.imul(src[p]!, k)) | 0;
          s1 = (s1 + Math.imul(src[p + 1]!, k)) | 0;
          s2 = (s2 + Math.imul(src[p + 2]!, k)) | 0;
        }
        const o = outBase + xx * 3;
        out[o] = clip8(s0);
        out[o + 1] = clip8(s1);
        out[o + 2] = clip8(s2);
        continue;
      }
      for (let k = 0; k < ch; k++) {
        let sum = HALF;
        let p = rowBase + xmin * ch + k;
        for (let x = 0; x < n; x++, p += ch) sum = (sum + Math.imul(src[p]!, kk[kBase + x]!)) | 0;
        out[outBase + xx * ch + k] = clip8(sum);
      }
    }
  }
  return out;
}

function resampleVertical(
  src: Uint8Array, width: number, ch: number, outH: number, c: AxisCoeffs, boundShift: number,
): Uint8Array {
  const rowLen = width * ch;
  const out = new Uint8Array(outH * rowLen); // [outH, width, ch]
  const { ksize, bounds, kk } = c;
  // Accumulate whole rows, four taps per sweep (cache-friendly, fewer passes over `acc`). Every
  // product and partial sum is an integer below 2^33 in magnitude, so float64 holds them exactly
  // and the grouping cannot change the result: the sum equals Pillow's int32 sum.
  const acc = new Float64Array(rowLen);
  for (let yy = 0; yy < outH; yy++) {
    const ymin = bounds[yy * 2]! - boundShift;
    const n = bounds[yy * 2 + 1]!;
    const kBase = yy * ksize;
    acc.fill(HALF);
    let y = 0;
    for (; y + 4 <= n; y += 4) {
      const k0 = kk[kBase + y]!;
      const k1 = kk[kBase + y + 1]!;
      const k2 = kk[kBase + y + 2]!;
      const k3 = kk[kBase + y + 3]!;
      const b0 = (ymin + y) * rowLen;
      const b1 = b0 + rowLen;
      const b2 = b1 + rowLen;
      const b3 = b2 + rowLen;
      for (let i = 0; i < rowLen; i++) {
        acc[i] = acc[i]! + src[b0 + i]! * k0 + src[b1 + i]! * k1 + src[b2 + i]! * k2 + src[b3 + i]! * k3;
      }
    }
    for (; y < n; y++) {
      const k = kk[kBase + y]!;
      const b = (ymin + y) * rowLen;
      for (let i = 0; i < rowLen; i++) acc[i] = acc[i]! + src[b + i]! * k;
    }
    const outBase = yy * rowLen;
    for (let i = 0; i < rowLen; i++) out[outBase + i] = clip8f(acc[i]!);
  }
  return out;
}

function checkArgs(data: Uint8Array, inW: number, inH: number, channels: number, outW: number, outH: number): void {
  for (const [name, v] of [['input width', inW], ['input height', inH], ['output width', outW], ['output height', outH]] as const) {
    checkPositiveInt('resize', name, v);
  }
  if (data.length !== inW * inH * channels) {
    throw new Vlm2VecError('resize', `pixel buffer has ${data.length} bytes, expected ${inW}×${inH}×${channels} = ${inW * inH * channels}`);
  }
}

type Separable = (data: Uint8Array, inW: number, inH: number, channels: number, outW: number, outH: number) => Uint8Array;

function resampleWith(
  sep: Separable, data: Uint8Array, inW: number, inH: number, channels: number, outW: number, outH: number,
): Uint8Array {
  checkArgs(data, inW, inH, channels, outW, outH);
  if (outW === inW && outH === inH) return data.slice();
  // Pillow's Image.resize (Python side, ≥ 10): for very tall images (height > 100 × width) that
  // shrink vertically it resizes vertically first, then horizontally — different rounding order.
  if (inH > inW * 100 && outH < inH) {
    const tall = sep(data, inW, inH, channels, inW, outH);
    return sep(tall, inW, outH, channels, outW, outH);
  }
  return sep(data, inW, inH, channels, outW, outH);
}

/** WebAssembly SIMD passes for RGB when available, otherwise the JS passes. */
function resampleSeparableFast(
  data: Uint8Array, inW: number, inH: number, channels: number, outW: number, outH: number,
): Uint8Array {
  if (channels === 3 && (outW !== inW || outH !== inH)) {
    const vert = outH !== inH ? precomputeCoeffs(inH, 0, inH, outH) : null;
    const horiz = outW !== inW ? precomputeCoeffs(inW, 0, inW, outW) : null;
    const out = resampleSeparableRgbWasm(data, inW, inH, outW, outH, vert, horiz);
    if (out) return out;
  }
  return resampleSeparable(data, inW, inH, channels, outW, outH);
}

/**
 * Resizes interleaved 8-bit pixels like `PIL.Image.resize((outW, outH), Image.BICUBIC)` on an
 * 8-bit image without alpha (modes L / RGB), byte for byte. RGB runs on WebAssembly SIMD when
 * the runtime has it; the result is identical to {@link resampleBicubicU8Reference}.
 *
 * @example
 * const small = resampleBicubicU8(rgb, 640, 480, 3, 308, 252); // [252, 308, 3]
 */
export function resampleBicubicU8(
  data: Uint8Array, inW: number, inH: number, channels: number, outW: number, outH: number,
): Uint8Array {
  return resampleWith(resampleSeparableFast, data, inW, inH, channels, outW, outH);
}

/**
 * The plain-JS resampler, same contract and bytes as {@link resampleBicubicU8}: kept as the
 * straightforward reference the fast path is tested against, and used for non-RGB inputs.
 *
 * @example
 * const small = resampleBicubicU8Reference(rgb, 640, 480, 3, 308, 252);
 */
export function resampleBicubicU8Reference(
  data: Uint8Array, inW: number, inH: number, channels: number, outW: number, outH: number,
): Uint8Array {
  return resampleWith(resampleSeparable, data, inW, inH, channels, outW, outH);
}

/** ImagingResampleInner: horizontal pass (on the rows the vertical pass reads), then vertical. */
function resampleSeparable(
  data: Uint8Array, inW: number, inH: number, channels: number, outW: number, outH: number,
): Uint8Array {
  const needH = outW !== inW;
  const needV = outH !== inH;
  if (!needH && !needV) return data.slice();
  const vert = precomputeCoeffs(inH, 0, inH, outH);
  // Rows the vertical pass reads: the horizontal pass runs only on these (as Pillow does).
  const yFirst = vert.bounds[0]!;
  const yLast = vert.bounds[outH * 2 - 2]! + vert.bounds[outH * 2 - 1]!;
  let cur = data;
  let shift = 0;
  if (needH) {
    const horiz = precomputeCoeffs(inW, 0, inW, outW);
    cur = resampleHorizontal(data, inW, channels, yFirst, yLast - yFirst, outW, horiz);
    shift = yFirst;
  }
  if (!needV) return cur;
  return resampleVertical(cur, outW, channels, outH, vert, shift);
}

/**
 * Resizes an RGB image with Pillow's BICUBIC filter, bit-exactly.
 *
 * @example
 * const resized = resizeBicubic(await loadImageRGB('cat.jpg'), 644, 476);
 */
export function resizeBicubic(img: RgbImage, width: number, height: number): RgbImage {
  return { width, height, data: resampleBicubicU8(img.data, img.width, img.height, 3, width, height) };
}
