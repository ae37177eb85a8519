// Quantized weight matrices for inference (--dtype int8 | q4 | q4-128), for every architecture:
// the quantizers, their exact inverse, and the tensors the graphs capture. What runs, why, and
// what it costs: docs/quantization.md. tools/reference/quantize_weights.py is the numpy reference
// these must equal bit for bit (src/models/common/quantize.test.ts).
//
// - int8: per output channel, symmetric. scale[n] = max|W[n,:]| / 127, q = clamp(rint(W/scale),
//   ±127), stored transposed [K, N] as MatMulInteger's B; each call quantizes the activations
//   per row (uint8, asymmetric) and multiplies in integers (tensor/primitives/quant.ts).
// - q4: blocks of `blockSize` (32, or 128 for 'q4-128') along K for each output row, asymmetric:
//   lo = min(0, block), hi = max(0, block), scale = (hi − lo)/15, zp = clamp(rint(−lo/scale), 0,
//   15), q = clamp(rint(W/scale) + zp, 0, 15); packed two per byte, low nibble first, as
//   com.microsoft MatMulNBits reads them ([N, blocks, blockSize/2], zero points [N, ⌈blocks/2⌉]).
//   A ragged last block (K not a multiple) is padded with zeros. MatMulNBits runs with
//   accuracy_level 4 (activations quantized to int8 per block, integer dot products).
// All arithmetic is float32 (Math.fround) with round-half-to-even, as numpy's float32 rint does.
// Token tables are quantized the same way as [N = vocab, K = width] (common/float16.ts
// heldQuantizedTable) and read by tensor/ops quantGather (packed rows gathered, then dequantized).

import { Vlm2VecError } from '../../errors.ts';
import type { Tensor } from '../../tensor/index.ts';
import { dequantize, fromArray, isQuantized, treeMap, type QuantAttrs } from '../../tensor/index.ts';

/** A quantized [N, K] matrix (checkpoint layout [out, in]) in the kernels' layout (file comment). */
export interface QuantizedMatrix {
  readonly scheme: 'int8' | 'q4';
  /** Output features (rows of the checkpoint's weight). */
  readonly n: number;
  /** Input features. */
  readonly k: number;
  /** q4: values per block along K; int8: 0. */
  readonly blockSize: number;
  /** int8: q [K, N] (or [N, K] when `rowMajor`); q4: packed nibbles [N, blocks, blockSize/2]. */
  readonly q: Int8Array | Uint8Array;
  /** int8: [N]; q4: [N, blocks]. */
  readonly scales: Float32Array;
  /** q4: packed zero points [N, ⌈blocks/2⌉]; int8: none (symmetric). */
  readonly zeroPoints: Uint8Array | undefined;
  /** int8 token tables: q stored [N, K], so a row is contiguous for the gather (same values). */
  readonly rowMajor?: boolean | undefined;
}

/** The quantization a weight dtype asks for, or undefined for float32 / float16. */
export function quantSchemeOf(dtype: string): { scheme: 'int8' | 'q4'; blockSize: number } | undefined {
  if (dtype === 'int8') return { scheme: 'int8', blockSize: 0 };
  if (dtype === 'q4') return { scheme: 'q4', blockSize: 32 };
  if (dtype === 'q4-128') return { scheme: 'q4', blockSize: 128 };
  return undefined;
}

/**
 * Revision of what the quantized dtypes compute, part of a quantized embedder's id (and so of the
 * embedding cache's key): bumped whenever int8 / q4 embeddings change, so a cache never mixes
 * vectors of two revisions. 2: token tables are quantized too (1: tables were float16).
 */
export const QUANTIZED_REVISION = 2;

/** MatMulNBits' accuracy_level for q4: 4 = int8 compute (the fast path; docs/quantization.md). */
export const Q4_ACCURACY_LEVEL = 4;

/** Round half to even, as numpy's rint (Math.round rounds halves up, so a tie lands 0.5 above x). */
function rint(x: number): number {
  // Adding 1.5·2⁵² leaves no fraction bits, so the addition itself rounds x to an integer in the
  // default round-half-to-even mode (exact for |x| < 2⁵¹; quantized values stay below 2⁸).
  return x + 6755399441055744 - 6755399441055744;
}

function checkDims(what: string, n: number, k: number): void {
  if (!Number.isInteger(n) || !Number.isInteger(k) || n <= 0 || k <= 0) throw new Vlm2VecError('quantize', `${what}: expected positive integer dims, got [${n}, ${k}]`);
}

function checkMatrix(what: string, w: Float32Array, n: number, k: number): void {
  checkDims(what, n, k);
  if (w.length !== n * k) throw new Vlm2VecError('quantize', `${what}: expected a [${n}, ${k}] float32 matrix, found ${w.length} values`);
}

/** Rows [r0, r1) of an [N, K] matrix as float32, row-major: a view, or a chunk widened from storage. */
export type RowReader = (r0: number, r1: number) => Float32Array;

/** Rows per chunk of {@link quantizeRows}: 1024 rows of a 1536-wide table are 6 MB of float32. */
const CHUNK_ROWS = 1024;

function readChunk(read: RowReader, what: string, r0: number, r1: number, k: number): Float32Array {
  const w = read(r0, r1);
  if (w.length !== (r1 - r0) * k) throw new Vlm2VecError('quantize', `${what}: rows ${r0}..${r1} gave ${w.length} values, expected ${(r1 - r0) * k}`);
  for (let i = 0; i < w.length; i++) {
    if (!Number.isFinite(w[i]!)) throw new Vlm2VecError('quantize', `${what}: element ${r0 * k + i} is ${w[i]}; only finite weights can be quantized`);
  }
  return w;
}

/**
 * Per-output-channel symmetric int8 (file comment).
 *
 * @example const q = quantizeInt8(w, 1536, 8960); q.q // Int8Array [8960 · 1536], laid out [K, N]
 */
export function quantizeInt8(w: Float32Array, n: number, k: number, what = 'matrix', rowMajor = false): QuantizedMatrix {
  checkMatrix(what, w, n, k);
  return int8Rows((r0, r1) => w.subarray(r0 * k, r1 * k), n, k, what, rowMajor);
}

function int8Rows(read: RowReader, n: number, k: number, what: string, rowMajor: boolean): QuantizedMatrix {
  const q = new Int8Array(n * k);
  const scales = new Float32Array(n);
  const T = 64;
  for (let c0 = 0; c0 < n; c0 += CHUNK_ROWS) {
    const c1 = Math.min(n, c0 + CHUNK_ROWS);
    const w = readChunk(read, what, c0, c1, k); // rows c0..c1, w[(r − c0)·k + c]
    for (let r = c0; r < c1; r++) {
      let amax = 0;
      for (let c = 0, at = (r - c0) * k; c < k; c++) amax = Math.max(amax, Math.abs(w[at + c]!));
      // An all-zero row dequantizes to zeros whatever its scale; 1 keeps the division finite.
      scales[r] = amax === 0 ? 1 : Math.fround(amax / 127);
    }
    if (rowMajor) {
      for (let r = c0; r < c1; r++) {
        const s = scales[r]!;
        for (let c = 0, at = (r - c0) * k; c < k; c++) q[r * k + c] = Math.min(127, Math.max(-127, rint(Math.fround(w[at + c]! / s))));
      }
      continue;
    }
    // Written transposed ([K, N]) in 64×64 tiles, so neither side is walked with a large stride.
    for (let r0 = c0; r0 < c1; r0 += T) {
      for (let k0 = 0; k0 < k; k0 += T) {
        for (let r = r0; r < Math.min(c1, r0 + T); r++) {
          const s = scales[r]!;
          const at = (r - c0) * k;
          for (let c = k0; c < Math.min(k, k0 + T); c++) q[c * n + r] = Math.min(127, Math.max(-127, rint(Math.fround(w[at + c]! / s))));
        }
      }
    }
  }
  return { scheme: 'int8', n, k, blockSize: 0, q, scales, zeroPoints: undefined, ...(rowMajor ? { rowMajor } : {}) };
}

/**
 * Block-wise asymmetric 4-bit in MatMulNBits' layout (file comment).
 *
 * @example const q = quantizeQ4(w, 8960, 1536, 32); q.q.length // 8960 · 48 · 16
 */
export function quantizeQ4(w: Float32Array, n: number, k: number, blockSize = 32, what = 'matrix'): QuantizedMatrix {
  checkMatrix(what, w, n, k);
  return q4Rows((r0, r1) => w.subarray(r0 * k, r1 * k), n, k, blockSize, what);
}

function q4Rows(read: RowReader, n: number, k: number, blockSize: number, what: string): QuantizedMatrix {
  if (blockSize < 16 || (blockSize & (blockSize - 1)) !== 0) throw new Vlm2VecError('quantize', `${what}: block size must be a power of two ≥ 16, got ${blockSize}`);
  const blocks = Math.ceil(k / blockSize);
  const half = blockSize / 2;
  const zpBytes = Math.ceil(blocks / 2);
  const q = new Uint8Array(n * blocks * half);
  const scales = new Float32Array(n * blocks);
  const zeroPoints = new Uint8Array(n * zpBytes);
  const vals = new Uint8Array(blockSize);
  for (let c0 = 0; c0 < n; c0 += CHUNK_ROWS) {
    const c1 = Math.min(n, c0 + CHUNK_ROWS);
    const w = readChunk(read, what, c0, c1, k);
    for (let r = c0; r < c1; r++) {
      const row = (r - c0) * k;
      for (let b = 0; b < blocks; b++) {
        const b0 = row + b * blockSize;
        const b1 = row + Math.min(k, (b + 1) * blockSize);
        let lo = 0;
        let hi = 0;
        for (let c = b0; c < b1; c++) {
          const v = w[c]!;
          if (v < lo) lo = v;
          if (v > hi) hi = v;
        }
        const s = hi === lo ? 1 : Math.fround(Math.fround(hi - lo) / 15);
        const zp = Math.min(15, Math.max(0, rint(Math.fround(-lo / s))));
        vals.fill(zp); // padding past K: zero weights
        for (let c = b0; c < b1; c++) vals[c - b0] = Math.min(15, Math.max(0, rint(Math.fround(w[c]! / s)) + zp));
        const at = (r * blocks + b) * half;
        for (let j = 0; j < half; j++) q[at + j] = vals[2 * j]! | (vals[2 * j + 1]! << 4);
        scales[r * blocks + b] = s;
        zeroPoints[r * zpBytes + (b >> 1)]! |= zp << ((b & 1) * 4);
      }
    }
  }
  return { scheme: 'q4', n, k, blockSize, q, scales, zeroPoints };
}

/**
 * Quantizes an [N, K] matrix read `CHUNK_ROWS` rows at a time (the same result as
 * quantizeInt8 / quantizeQ4 on the whole matrix): a token table stored as bf16 or float16 is
 * widened chunk by chunk, never as a whole (0.9 GB in float32 for Qwen2-VL-2B's). `rowMajor`
 * (int8 only) stores q as [N, K], for a table read by rows.
 *
 * @example const q = quantizeRows({ scheme: 'q4', blockSize: 32 }, (r0, r1) => widen(r0, r1), 151936, 1536);
 */
export function quantizeRows(s: { scheme: 'int8' | 'q4'; blockSize: number }, read: RowReader, n: number, k: number, what = 'matrix', rowMajor = false): QuantizedMatrix {
  checkDims(what, n, k);
  return s.scheme === 'int8' ? int8Rows(read, n, k, what, rowMajor) : q4Rows(read, n, k, s.blockSize, what);
}

/**
 * The float32 [N, K] matrix a quantized one stands for: int8 q·scale, q4 (q − zp)·scale, each
 * one float32 product (what the kernels dequantize to).
 *
 * @example const w2 = dequantizeMatrix(quantizeInt8(w, n, k)); // ≈ w, [N, K]
 */
export function dequantizeMatrix(m: QuantizedMatrix): Float32Array {
  const { n, k } = m;
  const out = new Float32Array(n * k);
  if (m.scheme === 'int8') {
    for (let r = 0; r < n; r++) for (let c = 0; c < k; c++) out[r * k + c] = Math.fround(m.q[m.rowMajor ? r * k + c : c * n + r]! * m.scales[r]!);
    return out;
  }
  const blocks = Math.ceil(k / m.blockSize);
  const zpBytes = Math.ceil(blocks / 2);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < k; c++) {
      const b = Math.floor(c / m.blockSize);
      const j = c - b * m.blockSize;
      const byte = m.q[(r * blocks + b) * (m.blockSize / 2) + (j >> 1)]!;
      const v = (byte >> ((j & 1) * 4)) & 15;
      const zp = (m.zeroPoints![r * zpBytes + (b >> 1)]! >> ((b & 1) * 4)) & 15;
      out[r * k + c] = Math.fround((v - zp) * m.scales[r * blocks + b]!);
    }
  }
  return out;
}

/**
 * The graph tensor of a quantized matrix: a float32 [N, K] `dequantize` node over the packed
 * constants (they become initializers under jit). `linear` multiplies from the packed form
 * (src/nn/linear.ts); any other use dequantizes.
 *
 * @example const w = quantizedTensor(quantizeQ4(data, 8960, 1536)); // float32 [8960, 1536]
 */
export function quantizedTensor(m: QuantizedMatrix, accuracyLevel = Q4_ACCURACY_LEVEL): Tensor {
  const attrs: QuantAttrs = { scheme: m.scheme, n: m.n, k: m.k, blockSize: m.blockSize, accuracyLevel: m.scheme === 'q4' ? accuracyLevel : 0 };
  if (m.scheme === 'int8') {
    if (m.rowMajor) attrs.rowMajor = true;
    return dequantize([fromArray(m.q, m.rowMajor ? [m.n, m.k] : [m.k, m.n], 'int8'), fromArray(m.scales, [m.n], 'float32')], attrs);
  }
  const blocks = Math.ceil(m.k / m.blockSize);
  return dequantize([
    fromArray(m.q, [m.n, blocks, m.blockSize / 2], 'uint8'),
    fromArray(m.scales, [m.n, blocks], 'float32'),
    fromArray(m.zeroPoints!, [m.n, Math.ceil(blocks / 2)], 'uint8'),
  ], attrs);
}

/** The quantized matrix behind a {@link quantizedTensor} (its constants, not copied). */
export function quantizedMatrixOf(t: Tensor): QuantizedMatrix {
  if (!isQuantized(t) || t.inputs.some((i) => i.value === undefined)) throw new Vlm2VecError('quantize', `expected a quantized weight of constants, found ${t.prim}`);
  const a = t.attrs as QuantAttrs;
  const [q, s, zp] = t.inputs.map((i) => i.value!);
  return { scheme: a.scheme, n: a.n, k: a.k, blockSize: a.blockSize, q: q as Int8Array | Uint8Array, scales: s as Float32Array, zeroPoints: zp as Uint8Array | undefined, ...(a.rowMajor ? { rowMajor: true } : {}) };
}

/**
 * The same parameter tree with every quantized weight replaced by its dequantized float32 matrix:
 * the float reference the quantized graphs are tested against (docs/quantization.md).
 *
 * @example const ref = Qwen2VLModel.fromParams(cfg, dequantizedParams(model.params));
 */
export function dequantizedParams<T>(tree: T): T {
  return treeMap(tree, (t) => (isQuantized(t) ? fromArray(dequantizeMatrix(quantizedMatrixOf(t)), [...t.shape] as number[], 'float32') : t)) as T;
}

/**
 * The same parameter tree with every q4 weight multiplied at MatMulNBits accuracy level `level`
 * (1: float32 compute, slower, no activation rounding; 4: int8 compute, the default).
 *
 * @example const exact = withQ4AccuracyLevel(model.params, 1);
 */
export function withQ4AccuracyLevel<T>(tree: T, level: number): T {
  return treeMap(tree, (t) => (isQuantized(t) && (t.attrs as QuantAttrs).scheme === 'q4' ? dequantize(t.inputs, { ...(t.attrs as QuantAttrs), accuracyLevel: level }) : t)) as T;
}

/** The manifest entry of a quantized export (docs/export.md, docs/quantization.md). */
export interface QuantizationManifest {
  dtype: 'int8' | 'q4' | 'q4-128';
  /** Which tensors are quantized and how the others are held. */
  linear: 'int8-per-channel-symmetric' | 'uint4-blockwise-asymmetric';
  blockSize?: number | undefined;
  /** The kernel every quantized linear layer runs as (MatMulNBits: domain com.microsoft, version 1). */
  op: 'MatMulInteger' | 'com.microsoft.MatMulNBits';
  /** MatMulNBits' accuracy_level (4: activations quantized to int8 per block). */
  accuracyLevel?: number | undefined;
  /**
   * Token tables (more rows than width): packed exactly as a linear weight of the same scheme
   * ([N = vocab, K = width]: int8 q [K, N] + scales [N], or 4-bit blocks along the width); the
   * graph Gathers the ids' packed rows and dequantizes only those (standard ONNX ops).
   */
  embeddings: 'packed-like-linear-gathered';
  /** Smaller embedding tables (a ViT position table, read whole): float16 initializer cast to float32. */
  positionEmbeddings: 'float16-cast-to-float32';
  /** Everything else (norms, biases, the patch-embedding kernel): float32. */
  other: 'float32';
}

/**
 * The `quantization` entry of an exported manifest for `dtype`, or undefined for float dtypes.
 *
 * @example quantizationManifest('q4')?.op // 'com.microsoft.MatMulNBits'
 */
export function quantizationManifest(dtype: string): QuantizationManifest | undefined {
  const s = quantSchemeOf(dtype);
  if (!s) return undefined;
  const base = { dtype: dtype as QuantizationManifest['dtype'], embeddings: 'packed-like-linear-gathered', positionEmbeddings: 'float16-cast-to-float32', other: 'float32' } as const;
  return s.scheme === 'int8'
    ? { ...base, linear: 'int8-per-channel-symmetric', op: 'MatMulInteger' }
    : { ...base, linear: 'uint4-blockwise-asymmetric', blockSize: s.blockSize, op: 'com.microsoft.MatMulNBits', accuracyLevel: Q4_ACCURACY_LEVEL };
}
