// Shape-manipulating and indexing ops, plus matmul.

import { Vlm2VecError } from '../../errors.ts';
import type { DType } from '../dtype.ts';
import type { Dim } from '../shape.ts';
import { dimDiv, dimEq, dimProd, fmtShape, normAxis } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { makeNode } from '../ir/node.ts';
import { arange } from './create.ts';
import { cast, equal } from './elementwise.ts';

/** "To the end of the axis" in slice attributes. */
export const SLICE_END = Number.MAX_SAFE_INTEGER;

/**
 * Batched matrix product with numpy broadcasting of the leading (batch) dims. Both operands need
 * rank >= 2.
 * @example matmul(x, w) // x [B,T,D], w [D,O] -> [B,T,O]
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  return makeNode('matmul', [a, b], {});
}

/**
 * Reshape; at most one -1 (inferred, symbolic products allowed: [B,T,D] -> [-1, D] gives [B*T, D]).
 * @example reshape(x, [x.shape[0]!, x.shape[1]!, 12, 64])
 */
export function reshape(x: Tensor, shape: readonly Dim[]): Tensor {
  const total = dimProd(x.shape);
  const holes = shape.filter((d) => d === -1).length;
  if (holes > 1) throw new Vlm2VecError('reshape', `at most one -1 allowed, got ${fmtShape(shape)}`);
  let out = [...shape];
  if (holes === 1) {
    const known = dimProd(shape.filter((d) => d !== -1));
    const rest = dimDiv(total, known);
    if (rest === undefined) throw new Vlm2VecError('reshape', `cannot reshape ${fmtShape(x.shape)} to ${fmtShape(shape)}: ${total} is not divisible by ${known}`);
    out = shape.map((d) => (d === -1 ? rest : d));
  }
  return makeNode('reshape', [x], { shape: out });
}

/** Reorders axes: output axis i is input axis perm[i]. @example permute(x, [0, 2, 1, 3]) // [B,T,H,hd] -> [B,H,T,hd] */
export function permute(x: Tensor, perm: readonly number[]): Tensor {
  const p = perm.map((a) => normAxis(a, x.rank, 'permute', x.shape));
  if (p.every((a, i) => a === i)) return x;
  // permute(permute(z, p1), p2) = permute(z, p1∘p2): the VJP of a transposed weight then hands
  // back the gradient in the weight's own layout instead of a transpose of a transpose (a copy of
  // the whole matrix per step). Realized inner nodes are kept: their value is already paid for.
  if (x.prim === 'permute' && x.value === undefined) {
    const inner = (x.attrs as { perm: readonly number[] }).perm;
    return permute(x.inputs[0]!, p.map((a) => inner[a]!));
  }
  return makeNode('permute', [x], { perm: p });
}

/** Swaps two axes (default: the last two). @example transpose(k) // [..., T, hd] -> [..., hd, T] */
export function transpose(x: Tensor, a = -2, b = -1): Tensor {
  const perm = x.shape.map((_, i) => i);
  const i = normAxis(a, x.rank, 'transpose', x.shape);
  const j = normAxis(b, x.rank, 'transpose', x.shape);
  perm[i] = j;
  perm[j] = i;
  return permute(x, perm);
}

/** Broadcasts x to `shape` (numpy rules; may add leading axes). @example expand(bias, [b, t, 64]) */
export function expand(x: Tensor, shape: readonly Dim[]): Tensor {
  if (shape.length === x.rank && shape.every((d, i) => dimEq(d, x.shape[i]!))) return x;
  return makeNode('expand', [x], { shape: [...shape] });
}
export const broadcastTo = expand;

/** Inserts a size-1 axis at `axis` (negative counts from the new rank). @example unsqueeze(mask, 1) // [B,T] -> [B,1,T] */
export function unsqueeze(x: Tensor, axis: number): Tensor {
  const a = normAxis(axis, x.rank + 1, 'unsqueeze', x.shape);
  const s = [...x.shape];
  s.splice(a, 0, 1);
  return reshape(x, s);
}

/** Removes a size-1 axis. @example squeeze(x, 1) // [B,1,D] -> [B,D] */
export function squeeze(x: Tensor, axis: number): Tensor {
  const a = normAxis(axis, x.rank, 'squeeze', x.shape);
  if (x.shape[a] !== 1) throw new Vlm2VecError('squeeze', `axis ${axis} of ${fmtShape(x.shape)} has size ${x.shape[a]}, expected 1`);
  const s = [...x.shape];
  s.splice(a, 1);
  return reshape(x, s);
}

/** Merges axes start..end (inclusive) into one. @example flatten(x, 0, 1) // [B,T,D] -> [B*T,D] */
export function flatten(x: Tensor, start = 0, end = -1): Tensor {
  const s = normAxis(start, x.rank, 'flatten', x.shape);
  const e = normAxis(end, x.rank, 'flatten', x.shape);
  return reshape(x, [...x.shape.slice(0, s), dimProd(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)]);
}

/** Per-axis [start, end?, step?] (python semantics, negatives count from the end); null = whole axis. */
export type SliceSpec = readonly (readonly [number, (number | undefined)?, (number | undefined)?] | null | undefined)[];

/**
 * Basic slicing, python-style. Missing trailing axes are kept whole.
 * @example slice(x, [null, [-1]]) // x[:, -1:]
 * @example slice(x, [[0, 8, 2]]) // x[0:8:2]
 */
export function slice(x: Tensor, spec: SliceSpec): Tensor {
  if (spec.length > x.rank) throw new Vlm2VecError('slice', `${spec.length} axes given for ${fmtShape(x.shape)}`);
  const attrs = { axes: [] as number[], starts: [] as number[], ends: [] as number[], steps: [] as number[] };
  spec.forEach((r, axis) => {
    if (!r) return;
    const step = r[2] ?? 1;
    if (step === 0 || !Number.isInteger(step)) throw new Vlm2VecError('slice', `step must be a non-zero integer, got ${step} (axis ${axis})`);
    attrs.axes.push(axis);
    attrs.starts.push(r[0]);
    attrs.ends.push(r[1] ?? (step > 0 ? SLICE_END : -SLICE_END));
    attrs.steps.push(step);
  });
  if (attrs.axes.length === 0) return x;
  return makeNode('slice', [x], attrs);
}

/** x[..., start:end:step, ...] along one axis. */
export function sliceAxis(x: Tensor, axis: number, start: number, end?: number, step = 1): Tensor {
  const a = normAxis(axis, x.rank, 'slice', x.shape);
  const spec: ([number, number | undefined, number] | null)[] = x.shape.map(() => null);
  spec[a] = [start, end, step];
  return slice(x, spec);
}

/** Selects index i of an axis and drops the axis: x[..., i, ...]. */
export function select(x: Tensor, axis: number, i: number): Tensor {
  return squeeze(sliceAxis(x, axis, i, i === -1 ? undefined : i + 1), axis);
}

/** Concatenation along an axis (all other dims equal). @example concat([x1, x2], -1) */
export function concat(xs: readonly Tensor[], axis: number): Tensor {
  if (xs.length === 0) throw new Vlm2VecError('concat', 'needs at least one tensor');
  if (xs.length === 1) return xs[0]!;
  const a = normAxis(axis, xs[0]!.rank, 'concat', xs[0]!.shape);
  return makeNode('concat', xs, { axis: a });
}

/**
 * Splits along an axis into pieces of the given sizes (or `n` equal pieces); static axis only.
 * @example const [q, k, v] = split(qkv, 3, -1)
 */
export function split(x: Tensor, sizes: number | readonly number[], axis: number): Tensor[] {
  const a = normAxis(axis, x.rank, 'split', x.shape);
  const len = x.shape[a]!;
  if (typeof len !== 'number') throw new Vlm2VecError('split', `axis ${axis} of ${fmtShape(x.shape)} is symbolic; split needs a static size`);
  let parts: number[];
  if (typeof sizes === 'number') {
    if (len % sizes !== 0) throw new Vlm2VecError('split', `axis ${axis} of ${fmtShape(x.shape)} (size ${len}) is not divisible into ${sizes} parts`);
    parts = Array.from({ length: sizes }, () => len / sizes);
  } else parts = [...sizes];
  const sum = parts.reduce((s, v) => s + v, 0);
  if (sum !== len) throw new Vlm2VecError('split', `sizes [${parts.join(',')}] sum to ${sum}, axis ${axis} of ${fmtShape(x.shape)} has ${len}`);
  let off = 0;
  return parts.map((p) => {
    const t = sliceAxis(x, a, off, off + p);
    off += p;
    return t;
  });
}

/** Constant padding: pads[i] = [before, after] for axis i (missing trailing axes: no padding). @example pad(x, [[0, 0], [2, 0]]) // two zeros before axis 1 */
export function pad(x: Tensor, pads: readonly (readonly [number, number])[], value = 0): Tensor {
  if (pads.length > x.rank) throw new Vlm2VecError('pad', `${pads.length} pad pairs for ${fmtShape(x.shape)}`);
  const full: [number, number][] = x.shape.map((_, i) => [pads[i]?.[0] ?? 0, pads[i]?.[1] ?? 0]);
  if (full.every(([b, e]) => b === 0 && e === 0)) return x;
  return makeNode('pad', [x], { pads: full, value });
}

/**
 * ONNX Gather / torch.index_select generalized: out = x[:axis] ++ indices.shape ++ x[axis+1:].
 * @example gather(embeddingTable, tokenIds, 0) // [V,D] with int64 [B,T] -> [B,T,D]
 */
export function gather(x: Tensor, indices: Tensor, axis = 0): Tensor {
  return makeNode('gather', [x, indices], { axis: normAxis(axis, x.rank, 'gather', x.shape) });
}

/** ONNX GatherND (batch_dims 0): indices [..., k] address the first k axes of x. */
export function gatherND(x: Tensor, indices: Tensor): Tensor {
  return makeNode('gatherND', [x, indices], {});
}

/**
 * ONNX ScatterND: a copy of x with x[indices[i]] = updates[i] (or += with reduction 'add').
 * Used to put vision features into the token positions of the text embeddings.
 * @example scatterND(embeds, pos, feats) // [B,T,D], int64 [N,2] (b,t), [N,D] -> [B,T,D]
 */
export function scatterND(x: Tensor, indices: Tensor, updates: Tensor, reduction: 'none' | 'add' = 'none'): Tensor {
  return makeNode('scatterND', [x, indices, updates], { reduction });
}

/** Cumulative sum along an axis. @example cumsum(mask, 1, { exclusive: true }) // positions before each token */
export function cumsum(x: Tensor, axis: number, opts: { exclusive?: boolean; reverse?: boolean } = {}): Tensor {
  return makeNode('cumsum', [x], { axis: normAxis(axis, x.rank, 'cumsum', x.shape), exclusive: opts.exclusive ?? false, reverse: opts.reverse ?? false });
}

/** One-hot encoding along a new last axis. */
export function oneHot(indices: Tensor, depth: number, dtype: DType = 'float32'): Tensor {
  return cast(equal(unsqueeze(indices, -1), cast(arange(depth), indices.dtype)), dtype);
}

/** Internal (used by the slice VJP): zero-pads g back to the shape of `ref` (adjoint of a unit-step slice). */
export function makeSliceGrad(g: Tensor, ref: Tensor, attrs: { axes: number[]; starts: number[]; ends: number[]; steps: number[] }): Tensor {
  return makeNode('sliceGrad', [g, ref], attrs);
}
