// Quantized weights (inference only). `dequantize` turns packed integer constants back into the
// float32 [N, K] matrix they stand for (standard ONNX ops: DequantizeLinear for int8, bit masks and
// shifts for 4-bit blocks); `quantMatMul` is x·Wᵀ straight from the packed form (int8: per-row
// activation quantization + MatMulInteger, standard ONNX; 4-bit: the com.microsoft MatMulNBits
// contrib kernel), which is where the speed and the memory saving are; `quantGather` reads rows of
// a quantized table (token embeddings): it gathers the packed rows of the ids first and
// dequantizes only those, with the very ops `dequantize` uses, so its rows equal
// gather(dequantize(table)) bit for bit. The layouts are documented in docs/quantization.md and
// produced by src/models/common/quantize.ts.
//
// None has a gradient. quantMatMul quantizes the activations on the fly (MatMulNBits at
// accuracy_level 4), and that rounding has no useful derivative; the integer inputs have none at
// all. Differentiating through quantMatMul or quantGather is refused with a typed error rather
// than silently cut (a LoRA trained on a quantized base would otherwise get wrong gradients
// upstream; a quantized table has no float entries to update).
import { Vlm2VecError } from '../../errors.ts';
import type { Tensor } from '../tensor.ts';
import { dimEq, fmtShape } from '../shape.ts';
import type { LowerCtx, PrimitiveDef, QuantAttrs } from './types.ts';

/** The quantized constants a scheme needs, in order, with their dtypes and shapes. */
export function quantInputSpec(a: QuantAttrs): { what: string; dtype: 'int8' | 'uint8' | 'float32'; shape: number[] }[] {
  if (a.scheme === 'int8') {
    return [
      { what: 'weights', dtype: 'int8', shape: a.rowMajor ? [a.n, a.k] : [a.k, a.n] },
      { what: 'scales', dtype: 'float32', shape: [a.n] },
    ];
  }
  const blocks = Math.ceil(a.k / a.blockSize);
  return [
    { what: 'packed weights', dtype: 'uint8', shape: [a.n, blocks, a.blockSize / 2] },
    { what: 'scales', dtype: 'float32', shape: [a.n, blocks] },
    { what: 'zero points', dtype: 'uint8', shape: [a.n, Math.ceil(blocks / 2)] },
  ];
}

function checkQuantInputs(op: string, qs: readonly Tensor[], a: QuantAttrs): void {
  if (a.scheme === 'q4' && (a.blockSize < 16 || (a.blockSize & (a.blockSize - 1)) !== 0)) {
    throw new Vlm2VecError(op, `4-bit block size must be a power of two ≥ 16, got ${a.blockSize}`);
  }
  const spec = quantInputSpec(a);
  if (qs.length !== spec.length) throw new Vlm2VecError(op, `${a.scheme} expects ${spec.length} quantized inputs, got ${qs.length}`);
  spec.forEach((s, i) => {
    const t = qs[i]!;
    if (t.dtype !== s.dtype || t.rank !== s.shape.length || t.shape.some((d, j) => d !== s.shape[j])) {
      throw new Vlm2VecError(op, `${a.scheme} ${s.what}: expected ${s.dtype}${fmtShape(s.shape)}, found ${t.dtype}${fmtShape(t.shape)}`);
    }
  });
}

/** Lowers 4-bit nibbles packed two per byte (low nibble first) along the last axis to float32, doubling it (a leading -1 in `outShape`: a run-time row count). */
function unpackNibbles(ctx: LowerCtx, packed: string, outShape: readonly number[]): string {
  const lo = ctx.emit('BitwiseAnd', [packed, ctx.scalar(15, 'uint8')]);
  const hi = ctx.emit('BitShift', [packed, ctx.scalar(4, 'uint8')], { direction: { kind: 'string', value: 'RIGHT' } });
  const axis = outShape.length; // a new last axis: [..., bytes, 2]
  const pair = ctx.emit('Concat', [ctx.emit('Unsqueeze', [lo, ctx.i64([axis])]), ctx.emit('Unsqueeze', [hi, ctx.i64([axis])])], { axis: { kind: 'int', value: axis } });
  return ctx.emit('Cast', [ctx.emit('Reshape', [pair, ctx.i64([...outShape])])], { to: { kind: 'int', value: 1 } });
}

/**
 * Lowers packed constants to float32 rows [...lead, K]: `lead` is [a.n] for the whole matrix, or
 * one 0 per axis of the ids for gathered rows (Reshape's 0 copies that axis: its size stays known
 * to ORT's shape inference, as after a plain Gather). dequantize and quantGather share it, so a
 * gathered row is computed by the same ops on the same values as the full matrix's row:
 * identical bits. int8 [K, N] (a linear weight) is only dequantized whole here.
 */
function lowerDequant(ctx: LowerCtx, a: QuantAttrs, ins: readonly string[], lead: readonly number[]): string {
  if (a.scheme === 'int8') {
    if (a.rowMajor) {
      // q·scale, one float32 product as DequantizeLinear computes it (Cast + Mul keeps any rank).
      const qf = ctx.emit('Cast', [ins[0]!], { to: { kind: 'int', value: 1 } }); // [...lead, K]
      return ctx.emit('Mul', [qf, ctx.emit('Unsqueeze', [ins[1]!, ctx.i64([-1])])]);
    }
    const wt = ctx.emit('DequantizeLinear', [ins[0]!, ins[1]!], { axis: { kind: 'int', value: 1 } }); // [K, N]
    return ctx.emit('Transpose', [wt], { perm: { kind: 'ints', value: [1, 0] } });
  }
  const blocks = Math.ceil(a.k / a.blockSize);
  const q = unpackNibbles(ctx, ins[0]!, [...lead, blocks, a.blockSize]); // [...lead, nb, bs]
  const zpAll = unpackNibbles(ctx, ins[2]!, [...lead, 2 * Math.ceil(blocks / 2)]);
  const last = (t: string, end: number) => ctx.emit('Slice', [t, ctx.i64([0]), ctx.i64([end]), ctx.i64([-1])]); // along the last axis
  const unsq = (t: string) => ctx.emit('Unsqueeze', [t, ctx.i64([-1])]);
  const w = ctx.emit('Mul', [ctx.emit('Sub', [q, unsq(last(zpAll, blocks))]), unsq(ins[1]!)]); // [...lead, nb, bs]
  const flat = ctx.emit('Reshape', [w, ctx.i64([...lead, blocks * a.blockSize])]);
  return blocks * a.blockSize === a.k ? flat : last(flat, a.k);
}

export const dequantize: PrimitiveDef<'dequantize'> = {
  infer(inputs, a) {
    checkQuantInputs('dequantize', inputs, a);
    return { shape: [a.n, a.k], dtype: 'float32' };
  },
  lower: (ctx, ins, node) => lowerDequant(ctx, node.attrs, ins, [node.attrs.n]),
  vjp: null, // integer constants: nothing to differentiate
};

/**
 * Rows `ids` of a quantized [N, K] table: out[..., :] = W[ids[...], :], float32 [...ids, K].
 * Gather picks the ids' rows of a row-major int8 q [N, K] (a token table) and their scales, or
 * of the 4-bit blocks, scales and zero points; then only those rows are dequantized
 * (lowerDequant), keeping the ids' axes. The whole table is never dequantized. Standard ONNX ops.
 */
export const quantGather: PrimitiveDef<'quantGather'> = {
  infer(inputs, a) {
    const ids = inputs[0];
    if (!ids || (ids.dtype !== 'int64' && ids.dtype !== 'int32')) {
      throw new Vlm2VecError('quantGather', `ids must be int64/int32, found ${ids ? `${ids.dtype}${fmtShape(ids.shape)}` : 'nothing'}`);
    }
    checkQuantInputs('quantGather', inputs.slice(1), a);
    return { shape: [...ids.shape, a.k], dtype: 'float32' };
  },
  lower(ctx, ins, node) {
    const a = node.attrs;
    if (a.scheme === 'int8' && !a.rowMajor) {
      // Rows of a [K, N] matrix are its columns (a strided read per value; tables are row-major).
      const ids = ctx.emit('Reshape', [ins[0]!, ctx.i64([-1])]); // [M]
      const cols = ctx.emit('Gather', [ins[1]!, ids], { axis: { kind: 'int', value: 1 } }); // [K, M]
      const rows = lowerDequant(ctx, a, [cols, ctx.emit('Gather', [ins[2]!, ids], { axis: { kind: 'int', value: 0 } })], [-1]); // [M, K]
      return ctx.emit('Reshape', [rows, ctx.shapeOf(node.shape)]);
    }
    const packed = ins.slice(1).map((t) => ctx.emit('Gather', [t, ins[0]!], { axis: { kind: 'int', value: 0 } })); // [...ids, ...]
    return lowerDequant(ctx, a, packed, node.inputs[0]!.shape.map(() => 0)); // [...ids, K]
  },
  vjp: (node) => {
    throw new Vlm2VecError(
      'quantGather',
      `${node.attrs.scheme} [${node.attrs.n}, ${node.attrs.k}] embedding table is inference-only: a quantized table has no gradient; ` +
        "load the model with dtype 'float32' (or 'float16') to train or differentiate it",
    );
  },
};

const f32 = { kind: 'int', value: 1 } as const; // TensorProto FLOAT
const i32 = { kind: 'int', value: 6 } as const; // TensorProto INT32
const keep = { keepdims: { kind: 'int', value: 1 } } as const;

/**
 * int8 weights [K, N] with per-channel scales: each row of x is quantized on its own to uint8
 * (range [min(0, row), max(0, row)], scale (max − min)/255, zero point rint(−min/scale)), then
 * MatMulInteger (u8·s8, the fast MLAS kernel) gives Σ q_x·q_w, the zero point is taken out as
 * zp·Σ_k q_w[k, n] (ORT folds that column sum into a constant), and both scales multiply.
 * Per row, not per tensor as com.microsoft DynamicQuantizeMatMul does: an item's embedding must
 * not depend on the other rows of its batch (their range would set its scale). Measured on this
 * machine as fast as DynamicQuantizeMatMul (docs/quantization.md); standard ONNX ops only.
 */
function lowerInt8(ctx: LowerCtx, ins: readonly string[], outShape: readonly (number | string)[], k: number): string {
  const x = ctx.emit('Reshape', [ins[0]!, ctx.i64([-1, k])]); // [M, K]
  const hi = ctx.emit('Max', [ctx.emit('ReduceMax', [x, ctx.i64([1])], keep), ctx.scalar(0, 'float32')]); // [M, 1]
  const lo = ctx.emit('Min', [ctx.emit('ReduceMin', [x, ctx.i64([1])], keep), ctx.scalar(0, 'float32')]);
  // An all-zero row: any positive scale quantizes it to its zero point, i.e. to exact zeros.
  const scale = ctx.emit('Max', [ctx.emit('Div', [ctx.emit('Sub', [hi, lo]), ctx.scalar(255, 'float32')]), ctx.scalar(1e-30, 'float32')]);
  const zpF = ctx.emit('Round', [ctx.emit('Div', [ctx.emit('Neg', [lo]), scale])]); // [M, 1], in [0, 255]
  const flat = (t: string) => ctx.emit('Reshape', [t, ctx.i64([-1])]);
  const zp = ctx.emit('Cast', [flat(zpF)], { to: { kind: 'int', value: 2 } }); // uint8 [M]
  const xq = ctx.emit('QuantizeLinear', [x, flat(scale), zp], { axis: { kind: 'int', value: 0 } }); // uint8 [M, K]
  const acc = ctx.emit('MatMulInteger', [xq, ins[1]!]); // int32 [M, N]: Σ q_x·q_w
  const colSum = ctx.emit('ReduceSum', [ctx.emit('Cast', [ins[1]!], { to: i32 }), ctx.i64([0])], keep); // [1, N]
  const exact = ctx.emit('Sub', [acc, ctx.emit('Mul', [ctx.emit('Cast', [zpF], { to: i32 }), colSum])]); // Σ (q_x − zp)·q_w
  const y = ctx.emit('Mul', [ctx.emit('Mul', [ctx.emit('Cast', [exact], { to: f32 }), scale]), ins[2]!]); // [M, N]
  return ctx.emit('Reshape', [y, ctx.shapeOf(outShape)]);
}

export const quantMatMul: PrimitiveDef<'quantMatMul'> = {
  infer(inputs, a) {
    const x = inputs[0];
    if (!x || x.dtype !== 'float32' || x.rank < 2 || !dimEq(x.shape[x.rank - 1]!, a.k)) {
      throw new Vlm2VecError('quantMatMul', `x must be float32 [..., ${a.k}], found ${x ? `${x.dtype}${fmtShape(x.shape)}` : 'nothing'}`);
    }
    checkQuantInputs('quantMatMul', inputs.slice(1), a);
    return { shape: [...x.shape.slice(0, -1), a.n], dtype: 'float32' };
  },
  lower(ctx, ins, node) {
    const a = node.attrs;
    if (a.scheme === 'int8') {
      // A row-major table used as a matmul weight (not done by our models): MatMulInteger wants [K, N].
      const w = a.rowMajor ? ctx.emit('Transpose', [ins[1]!], { perm: { kind: 'ints', value: [1, 0] } }) : ins[1]!;
      return lowerInt8(ctx, [ins[0]!, w, ins[2]!], node.shape, a.k);
    }
    const attrs = {
      K: { kind: 'int', value: a.k },
      N: { kind: 'int', value: a.n },
      bits: { kind: 'int', value: 4 },
      block_size: { kind: 'int', value: a.blockSize },
      accuracy_level: { kind: 'int', value: a.accuracyLevel },
    } as const;
    return ctx.emit('MatMulNBits', [ins[0]!, ins[1]!, ins[2]!, ins[3]!], attrs, 'com.microsoft');
  },
  vjp: (node) => {
    throw new Vlm2VecError(
      'quantMatMul',
      `${node.attrs.scheme} [${node.attrs.n}, ${node.attrs.k}] weights are inference-only: quantized matmuls have no gradient; ` +
        "load the model with dtype 'float32' (or 'float16') to train or differentiate it",
    );
  },
};
