// The two resamplers Phi-3-V's HD image processor uses, each reproducing its reference exactly:
//
// - `resizeBilinearPillow`: torchvision's `resize(pil_image, [h, w])` (default BILINEAR), which
//   calls `PIL.Image.resize((w, h), BILINEAR)`: Pillow's separable 8-bit resampler
//   (libImaging/Resample.c) with the triangle filter, support 1 widened by the down-scale factor,
//   float64 taps normalised to sum 1, fixed point with 22 bits and round-half-away-from-zero,
//   horizontal pass (on the rows the vertical pass reads) then vertical pass, each clipping
//   `sum >> 22` to a byte. io/media/pillow-resample.ts is the same algorithm for BICUBIC.
// - `resizeBicubicTorch`: `torch.nn.functional.interpolate(x, size, mode='bicubic',
//   align_corners=False)` on float32 CHW planes (ATen's CPU upsample_bicubic2d): per output
//   index the source coordinate `scale·(i + 0.5) − 0.5` with scale = in/out in float32, the four
//   taps around floor() clamped to the edge, cubic convolution weights with A = −0.75, rows of
//   the 4×4 neighbourhood mixed along x first, then those four results along y, every step
//   rounded to float32 as the kernel computes in float.

import { Vlm2VecError } from '../../errors.ts';
import type { RgbImage } from '../../io/media/image-types.ts';

const PRECISION_BITS = 22;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);

interface Taps {
  ksize: number;
  /** [out, 2]: first input index, tap count */
  bounds: Int32Array;
  /** [out, ksize] fixed point */
  kk: Int32Array;
}

/** Pillow's precompute_coeffs + normalize_coeffs_8bpc for the triangle (bilinear) filter. */
function bilinearTaps(inSize: number, outSize: number): Taps {
  const scale = Math.fround(inSize) / outSize;
  const filterscale = scale < 1 ? 1 : scale;
  const support = 1.0 * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Int32Array(outSize * ksize);
  const w = new Float64Array(ksize);
  const ss = 1.0 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      let d = (x + xmin - center + 0.5) * ss;
      if (d < 0) d = -d;
      const v = d < 1 ? 1 - d : 0;
      w[x] = v;
      ww += v;
    }
    for (let x = 0; x < xmax; x++) {
      const v = ww !== 0 ? w[x]! / ww : w[x]!;
      kk[xx * ksize + x] = v < 0 ? Math.trunc(-0.5 + v * ONE) : Math.trunc(0.5 + v * ONE);
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, kk };
}

const clip8 = (s: number): number => {
  const v = Math.floor(s / ONE);
  return v < 0 ? 0 : v > 255 ? 255 : v;
};

/**
 * `PIL.Image.resize((width, height), Image.BILINEAR)` of an RGB image, byte for byte.
 *
 * @example const r = resizeBilinearPillow(img, 2016, 637);
 */
export function resizeBilinearPillow(img: RgbImage, width: number, height: number): RgbImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Vlm2VecError('phi3_v', `cannot resize a ${img.width}×${img.height} image to ${width}×${height}`);
  }
  if (width === img.width && height === img.height) return { width, height, data: img.data.slice() };
  const inW = img.width;
  const inH = img.height;
  const vert = height !== inH ? bilinearTaps(inH, height) : undefined;
  let src = img.data;
  let rowShift = 0;
  let rows = inH;
  if (width !== inW) {
    const h = bilinearTaps(inW, width);
    // Only the rows the vertical pass reads, as Pillow does (identical values either way).
    const first = vert ? vert.bounds[0]! : 0;
    const last = vert ? vert.bounds[height * 2 - 2]! + vert.bounds[height * 2 - 1]! : inH;
    rows = last - first;
    const out = new Uint8Array(rows * width * 3);
    for (let y = 0; y < rows; y++) {
      const rowBase = (y + first) * inW * 3;
      for (let xx = 0; xx < width; xx++) {
        const xmin = h.bounds[xx * 2]!;
        const n = h.bounds[xx * 2 + 1]!;
        let s0 = HALF;
        let s1 = HALF;
        let s2 = HALF;
        for (let x = 0; x < n; x++) {
          const k = h.kk[xx * h.ksize + x]!;
          const p = rowBase + (xmin + x) * 3;
          s0 += src[p]! * k;
          s1 += src[p + 1]! * k;
          s2 += src[p + 2]! * k;
        }
        const o = (y * width + xx) * 3;
        out[o] = clip8(s0);
        out[o + 1] = clip8(s1);
        out[o + 2] = clip8(s2);
      }
    }
    src = out;
    rowShift = first;
  }
  if (!vert) return { width, height, data: src };
  const rowLen = width * 3;
  const out = new Uint8Array(height * rowLen);
  const acc = new Float64Array(rowLen);
  for (let yy = 0; yy < height; yy++) {
    const ymin = vert.bounds[yy * 2]! - rowShift;
    const n = vert.bounds[yy * 2 + 1]!;
    acc.fill(HALF);
    for (let y = 0; y < n; y++) {
      const k = vert.kk[yy * vert.ksize + y]!;
      const b = (ymin + y) * rowLen;
      for (let i = 0; i < rowLen; i++) acc[i] = acc[i]! + src[b + i]! * k;
    }
    for (let i = 0; i < rowLen; i++) out[yy * rowLen + i] = clip8(acc[i]!);
  }
  return { width, height, data: out };
}

/** ATen's cubic convolution weights of fraction t (A = −0.75), in float32. */
function cubicWeights(t: number): [number, number, number, number] {
  const f = Math.fround;
  const A = -0.75;
  const c1 = (x: number): number => f(f(f(f(f(f((A + 2) * x) - (A + 3)) * x) * x)) + 1);
  const c2 = (x: number): number => f(f(f(f(f(f(f(A * x) - 5 * A) * x) + 8 * A) * x)) - 4 * A);
  const u = f(1 - t);
  return [c2(f(t + 1)), c1(t), c1(u), c2(f(u + 1))];
}

function bicubicAxis(inSize: number, outSize: number): { idx: Int32Array; w: Float32Array } {
  const f = Math.fround;
  const scale = f(inSize / outSize);
  const idx = new Int32Array(outSize * 4);
  const w = new Float32Array(outSize * 4);
  for (let i = 0; i < outSize; i++) {
    const real = f(f(scale * f(i + 0.5)) - 0.5);
    const i0 = Math.floor(real);
    const ws = cubicWeights(f(real - i0));
    for (let j = 0; j < 4; j++) {
      idx[i * 4 + j] = Math.min(Math.max(i0 - 1 + j, 0), inSize - 1);
      w[i * 4 + j] = ws[j]!;
    }
  }
  return { idx, w };
}

/**
 * `F.interpolate(x[None], size=(outH, outW), mode='bicubic')[0]` of float32 planes x [C, H, W].
 *
 * @example const g = resizeBicubicTorch(chw, 3, 1008, 1344, 336, 336); // [3, 336, 336]
 */
export function resizeBicubicTorch(x: Float32Array, c: number, h: number, w: number, outH: number, outW: number): Float32Array {
  const f = Math.fround;
  const ya = bicubicAxis(h, outH);
  const xa = bicubicAxis(w, outW);
  const out = new Float32Array(c * outH * outW);
  for (let ch = 0; ch < c; ch++) {
    const plane = ch * h * w;
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        let acc = 0;
        for (let j = 0; j < 4; j++) {
          const row = plane + ya.idx[oy * 4 + j]! * w;
          let t = f(x[row + xa.idx[ox * 4]!]! * xa.w[ox * 4]!);
          for (let i = 1; i < 4; i++) t = f(t + f(x[row + xa.idx[ox * 4 + i]!]! * xa.w[ox * 4 + i]!));
          acc = j === 0 ? f(t * ya.w[oy * 4]!) : f(acc + f(t * ya.w[oy * 4 + j]!));
        }
        out[(ch * outH + oy) * outW + ox] = acc;
      }
    }
  }
  return out;
}
