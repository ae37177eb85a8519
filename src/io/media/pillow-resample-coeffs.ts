// Fixed-point tap tables of Pillow's BICUBIC resampler (src/libImaging/Resample.c, 8 bits per
// channel), shared by the plain-JS reference passes (./pillow-resample.ts) and the WebAssembly
// SIMD passes (./pillow-resample-wasm.ts): both must read identical coefficients to be bit-exact.
//
// Per output position, a window of input taps centred on `(xx + 0.5) * scale`, the support widened
// by the down-scale factor (`support = 2 * max(1, scale)`), window ends rounded by `(int)(v + 0.5)`
// (C truncation) and clamped to the image; weights from the cubic convolution kernel with
// a = -0.5 in float64 with Pillow's operation order, normalised to sum 1, then fixed point with
// PRECISION_BITS = 22 and round-half-away-from-zero.

export const PRECISION_BITS = 22;
/** Fixed-point 1.0. */
export const ONE = 1 << PRECISION_BITS;
/** Every accumulator starts at 0.5 in fixed point, so `sum >> 22` rounds to nearest. */
export const HALF = 1 << (PRECISION_BITS - 1);
const BICUBIC_SUPPORT = 2.0;

/** Cubic convolution kernel, a = -0.5; operation order as in Pillow so float64 results agree. */
function bicubicFilter(x: number): number {
  const a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

/** Fixed-point taps for one axis: `bounds[2i]` = first input index, `bounds[2i+1]` = tap count. */
export interface AxisCoeffs {
  readonly ksize: number;
  readonly bounds: Int32Array;
  /** [outSize, ksize] fixed-point weights; unused taps of a row are 0 */
  readonly kk: Int32Array;
}

/**
 * Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for the box [in0, in1) of an axis of
 * `inSize` pixels resampled to `outSize`.
 *
 * @example
 * const c = precomputeCoeffs(640, 0, 640, 308); // c.ksize = 9; c.bounds[0] = 0 (first tap)
 */
export function precomputeCoeffs(inSize: number, in0: number, in1: number, outSize: number): AxisCoeffs {
  // Pillow's box corners are C floats; (double)(in1 - in0) is a float subtraction widened.
  const scale = Math.fround(Math.fround(in1) - Math.fround(in0)) / outSize;
  const filterscale = scale < 1.0 ? 1.0 : scale;
  const support = BICUBIC_SUPPORT * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Int32Array(outSize * ksize);
  const w = new Float64Array(ksize);
  const ss = 1.0 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = Math.fround(in0) + (xx + 0.5) * scale;
    // (int)(v + 0.5) truncates toward zero; negative starts are clamped to 0 right after anyway.
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0.0;
    for (let x = 0; x < xmax; x++) {
      const v = bicubicFilter((x + xmin - center + 0.5) * ss);
      w[x] = v;
      ww += v;
    }
    for (let x = 0; x < xmax; x++) {
      const v = ww !== 0.0 ? w[x]! / ww : w[x]!;
      // normalize_coeffs_8bpc: round half away from zero, then C truncation.
      kk[xx * ksize + x] = v < 0 ? Math.trunc(-0.5 + v * ONE) : Math.trunc(0.5 + v * ONE);
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, kk };
}
