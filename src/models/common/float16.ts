// How weights are held on the host and in the graph, for every architecture: float32, or (dtype
// 'float16') every matrix held as float16 and cast to float32 in the graph right before its
// MatMul, compute staying float32 — on ORT's CPU EP float16 buys memory, not speed. Vectors
// (biases, norm weights) are rounded to float16 values but stored as float32. The measurements
// behind these choices, the accuracy and the costs: docs/float16.md. The quantized dtypes (int8,
// q4, q4-128) hold linear matrices and token tables packed (common/quantize.ts,
// docs/quantization.md), small embedding tables (ViT position tables) as float16, and every other
// tensor in exact float32.
// Which tensors are matrices and which are stored transposed comes from each parameter's role
// (common/param-spec.ts), not from its name.

import { Vlm2VecError } from '../../errors.ts';
import { f16ToF32, f32ToF16 } from '../../io/weights/safetensors-dtype.ts';
import type { Tensor } from '../../tensor/index.ts';
import { cast, fromArray, isQuantized, transpose } from '../../tensor/index.ts';
import type { ParamSpec } from './param-spec.ts';
import { quantizeInt8, quantizeQ4, quantizedTensor, quantSchemeOf, type QuantizedMatrix } from './quantize.ts';

/**
 * How the weights are held: float32, float16 matrices computed in float32 (see the file comment),
 * or quantized linear matrices: int8 per channel, 4-bit in blocks of 32 ('q4') or 128 ('q4-128').
 */
export type WeightDtype = 'float32' | 'float16' | 'int8' | 'q4' | 'q4-128';

export const WEIGHT_DTYPES: readonly WeightDtype[] = ['float32', 'float16', 'int8', 'q4', 'q4-128'];

/**
 * Checks a user-given dtype (CLI flag, option object) and names where it came from.
 *
 * @example parseWeightDtype('float16', '--dtype') // 'float16'
 */
export function parseWeightDtype(value: unknown, where = 'dtype'): WeightDtype {
  if (value === undefined) return 'float32';
  if (typeof value === 'string' && (WEIGHT_DTYPES as readonly string[]).includes(value)) return value as WeightDtype;
  const hints: Record<string, string> = { fp16: 'float16', half: 'float16', fp32: 'float32', q8: 'int8', uint8: 'int8', int4: 'q4', q4_0: 'q4', 'q4-32': 'q4', q4f16: 'q4' };
  const hint = typeof value === 'string' && hints[value] ? ` (did you mean '${hints[value]}'?)` : '';
  throw new Vlm2VecError('weights', `${where} must be one of ${WEIGHT_DTYPES.map((d) => `'${d}'`).join(', ')}, got ${JSON.stringify(value)}${hint}`);
}

/**
 * One host tensor by canonical name, in checkpoint layout. A float16 matrix (Uint16Array of IEEE
 * half bits) is stored transposed, [in, out] (`transposed: true`), so its graph needs no Transpose
 * per call: linear's `x·Wᵀ` then reads the Cast output directly.
 */
export type HostTensor =
  | { data: Float32Array; shape: number[] }
  | { data: Uint16Array; shape: number[]; transposed: boolean }
  | { data: QuantizedMatrix['q']; shape: number[]; quantized: QuantizedMatrix };

/** Host weights by canonical name. */
export type HostWeights = Map<string, HostTensor>;

/** Matrices held as float16 (linear weights and kernels, embedding tables). */
export function heldAsHalf(spec: HeldSpec): boolean {
  return (spec.role === 'linear' || spec.role === 'embedding') && spec.shape.length >= 2;
}

/** Whose float16 copy is stored [in, out]: linear weights (embedding tables are gathered by row). */
export function storedTransposed(spec: HeldSpec): boolean {
  return spec.role === 'linear';
}

/**
 * Embedding tables quantized under int8 / q4: those with more rows than their width, i.e. a
 * vocabulary (token tables: 151,936 × 1536 in Qwen2-VL-2B, 32,064 × 3072 in Phi-3-V). A ViT
 * position table has 1 + (S/P)² rows, fewer than its width in the released towers (CLIP-L/336:
 * 577 × 1024), and stays float16: it is added whole to every image's patches, so quantizing it
 * would save 0.6 MB and dequantize the whole table on every call, for an error on every token.
 * The model reads a quantized table with nn/embedding, which gathers the packed rows.
 */
export function heldQuantizedTable(spec: HeldSpec): boolean {
  return spec.role === 'embedding' && spec.shape.length === 2 && spec.shape[0]! > spec.shape[1]!;
}

/**
 * Matrices quantized under int8 / q4, as [N = rows, K = columns] with the same schemes and
 * layouts: 2-D linear weights (a Conv kernel used as one stays float) and token tables.
 */
export function heldQuantized(spec: HeldSpec): boolean {
  return (spec.role === 'linear' && spec.shape.length === 2) || heldQuantizedTable(spec);
}

/** Whether `dtype` holds `spec` as float16 bits (float16: every matrix; quantized dtypes: the embedding tables not quantized). */
export function heldHalf(spec: HeldSpec, dtype: WeightDtype): boolean {
  if (dtype === 'float16') return heldAsHalf(spec);
  return quantSchemeOf(dtype) !== undefined && spec.role === 'embedding' && spec.shape.length >= 2 && !heldQuantizedTable(spec);
}

/** What holding needs to know of a parameter. */
export type HeldSpec = Pick<ParamSpec, 'path' | 'shape' | 'role'>;

/**
 * Rejects a tensor that float16 cannot hold: a finite value beyond ±65504 would silently become
 * ±inf (bf16 checkpoints have float32's range; values inside float16's range are exact or
 * rounded once, bf16 ones exact down to 6e-5).
 */
export function checkHalfRange(name: string, half: Uint16Array, source: () => Float32Array): void {
  let src: Float32Array | undefined;
  for (let i = 0; i < half.length; i++) {
    if (((half[i] as number) & 0x7fff) !== 0x7c00) continue;
    src ??= source(); // only widened when an infinity shows up (keeps the bf16 → f16 path lean)
    if (Number.isFinite(src[i] as number)) {
      throw new Vlm2VecError('weights', `tensor ${name} holds ${src[i]} (element ${i}), beyond float16's range (±65504); load it with dtype 'float32'`);
    }
  }
}

/** [rows, cols] float16 bits → [cols, rows], in cache-friendly blocks. */
function transposeHalf(src: Uint16Array, rows: number, cols: number): Uint16Array {
  const out = new Uint16Array(src.length);
  const B = 64;
  for (let r0 = 0; r0 < rows; r0 += B) {
    const r1 = Math.min(rows, r0 + B);
    for (let c0 = 0; c0 < cols; c0 += B) {
      const c1 = Math.min(cols, c0 + B);
      for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) out[c * rows + r] = src[r * cols + c] as number;
    }
  }
  return out;
}

/**
 * A float32 tensor (checkpoint layout) as held under `dtype` (see {@link HostTensor}).
 *
 * @example holdTensor({ path: 'model.layers.0.mlp.up_proj.weight', shape: [8960, 1536], role: 'linear' }, w, 'float16').data // Uint16Array, [1536, 8960]
 */
export function holdTensor(spec: HeldSpec, data: Float32Array, dtype: WeightDtype): HostTensor {
  const shape = [...spec.shape];
  if (dtype === 'float32') return { data, shape };
  const quant = quantSchemeOf(dtype);
  if (quant && heldQuantized(spec)) {
    const [n, k] = shape as [number, number];
    // A token table's int8 rows are stored contiguously ([N, K]): it is read by rows (quantGather).
    const q = quant.scheme === 'int8' ? quantizeInt8(data, n, k, spec.path, heldQuantizedTable(spec)) : quantizeQ4(data, n, k, quant.blockSize, spec.path);
    return { data: q.q, shape, quantized: q };
  }
  if (quant && !heldHalf(spec, dtype)) return { data, shape }; // vectors and kernels stay exact float32
  const half = f32ToF16(data);
  checkHalfRange(spec.path, half, () => data);
  if (!heldAsHalf(spec)) return { data: f16ToF32(half), shape };
  if (!storedTransposed(spec)) return { data: half, shape, transposed: false };
  const rows = shape[0]!;
  return { data: transposeHalf(half, rows, half.length / rows), shape, transposed: true };
}

/**
 * The dtype a built parameter tree holds, read from its token-embedding table and one linear
 * weight (a quantized weight carries its scheme and block size; so does a quantized table).
 *
 * @example heldDtypeOf(params.model.embed_tokens.weight, params.model.layers[0].mlp.up_proj.weight) // 'q4'
 */
export function heldDtypeOf(embeddingTable: Tensor, linearWeight: Tensor | undefined): WeightDtype {
  const quantized = linearWeight && isQuantized(linearWeight) ? linearWeight : isQuantized(embeddingTable) ? embeddingTable : undefined;
  if (quantized) {
    const a = quantized.attrs as { scheme: 'int8' | 'q4'; blockSize: number };
    return a.scheme === 'int8' ? 'int8' : a.blockSize === 32 ? 'q4' : 'q4-128';
  }
  return embeddingTable.dtype === 'float16' ? 'float16' : 'float32';
}

/**
 * Session settings of float16-held graphs (measurements in docs/float16.md): constant folding
 * off and level 'extended' (ORT would fold each Cast(float16 initializer) back into a float32
 * initializer), CPU memory arena off (it would keep every per-call float32 copy of the weights).
 */
export const FLOAT16_SESSION = {
  graphOptimizationLevel: 'extended',
  enableCpuMemArena: false,
  extra: { 'optimization.disable_specified_optimizers': 'ConstantFolding' },
} as const;

/**
 * The constant tensor of a held weight (it becomes an initializer under jit), shaped as the math
 * reads it (`spec.use`, else the checkpoint shape). A float16 matrix becomes `Cast(W16ᵀ →
 * float32)ᵀ`: linear's own transpose cancels the outer one, so the graph is MatMul(x,
 * Cast(W16ᵀ)). A float16 embedding table stays a float16 tensor (the model gathers rows, then
 * casts); a quantized one is a dequantize node whose rows nn/embedding gathers packed.
 *
 * @example const w = heldTensor(host, { path: 'model.norm.weight', shape: [1536], role: 'norm' });
 */
export function heldTensor(host: HostWeights, spec: Pick<ParamSpec, 'path' | 'shape' | 'use'>): Tensor {
  const w = host.get(spec.path);
  if (!w) throw new Vlm2VecError('weights', `tensor ${spec.path} was not loaded`);
  const dims = [...(spec.use ?? w.shape)];
  if ('quantized' in w) return quantizedTensor(w.quantized);
  if (w.data instanceof Float32Array) return fromArray(w.data, dims, 'float32');
  if (!('transposed' in w) || !w.transposed) return fromArray(w.data as Uint16Array, dims, 'float16');
  if (dims.length !== 2) throw new Vlm2VecError('weights', `float16 tensor ${spec.path} is stored transposed but used as [${dims.join(', ')}]`);
  return transpose(cast(fromArray(w.data, [dims[1]!, dims[0]!], 'float16'), 'float32'));
}
