// Reductions and the numerically-stable compositions built on them.

import type { DType } from '../dtype.ts';
import { normAxis } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { makeNode } from '../ir/node.ts';
import { squeeze } from './shape.ts';
import { add, cast, div, exp, log, mul, neg, stopGradient, sub } from './elementwise.ts';
import { fusedOp } from './fused.ts';

function axesOf(x: Tensor, axes: number | readonly number[] | undefined, op: string): number[] {
  const list = axes === undefined ? x.shape.map((_, i) => i) : typeof axes === 'number' ? [axes] : [...axes];
  return [...new Set(list.map((a) => normAxis(a, x.rank, op, x.shape)))].sort((a, b) => a - b);
}

/** Sum over `axes` (default: all). @example sum(x, -1, true) */
export function sum(x: Tensor, axes?: number | readonly number[], keepdims = false): Tensor {
  const ax = axesOf(x, axes, 'sum');
  if (ax.length === 0) return x;
  return makeNode('reduceSum', [x], { axes: ax, keepdims });
}

/** Number of elements over `axes` as a scalar of `dtype` (read at run time for symbolic dims). */
export function dimSize(x: Tensor, axes?: number | readonly number[], dtype: DType = x.dtype): Tensor {
  return makeNode('dimSize', [x], { axes: axesOf(x, axes, 'dimSize'), dtype });
}

/** Mean over `axes` (default: all). @example mean(x, -1, true) // [B,T,D] -> [B,T,1] */
export function mean(x: Tensor, axes?: number | readonly number[], keepdims = false): Tensor {
  return div(sum(x, axes, keepdims), dimSize(x, axes));
}

/** Max over `axes` (default: all); gradient split evenly among ties (as torch.amax). @example max(scores, -1) */
export function max(x: Tensor, axes?: number | readonly number[], keepdims = false): Tensor {
  const ax = axesOf(x, axes, 'max');
  if (ax.length === 0) return x;
  return makeNode('reduceMax', [x], { axes: ax, keepdims });
}

/** Min over `axes` (default: all). */
export function min(x: Tensor, axes?: number | readonly number[], keepdims = false): Tensor {
  return neg(max(neg(x), axes, keepdims));
}

/** Index of the max along an axis (int64; first index on ties). @example argMax(logits, -1) // [B,V] -> int64 [B] */
export function argMax(x: Tensor, axis: number, keepdims = false): Tensor {
  return makeNode('argMax', [x], { axis: normAxis(axis, x.rank, 'argMax', x.shape), keepdims });
}

/** Population variance (correction 0) or sample variance (correction 1). */
export function variance(x: Tensor, axes?: number | readonly number[], keepdims = false, correction = 0): Tensor {
  const c = sub(x, mean(x, axes, true));
  const ss = sum(mul(c, c), axes, keepdims);
  return correction === 0 ? div(ss, dimSize(x, axes)) : div(ss, sub(dimSize(x, axes), correction));
}

/** log(sum(exp(x))) over an axis, shifted by the (gradient-stopped) max for stability. */
export function logSumExp(x: Tensor, axis = -1, keepdims = false): Tensor {
  const m = stopGradient(max(x, axis, true));
  const s = log(sum(exp(sub(x, m)), axis, true));
  const out = add(s, m);
  return keepdims ? out : squeeze(out, axis);
}

/** softmax along an axis (max-shifted; the shift carries no gradient since softmax ignores it). @example softmax(scores, -1) */
export function softmax(x: Tensor, axis = -1): Tensor {
  // float32 runs as ONNX Softmax (one pass-fused kernel instead of max/sub/exp/sum/div over what
  // is, in attention, the largest tensor of the graph). The composition stays the reference; the
  // gradient is the closed form p·(g − Σ g·p), built from primitives (so differentiable again),
  // instead of the composition's VJP, which walks the [.., Tq, Tk] tensor five more times.
  if (x.dtype !== 'float32' || x.rank === 0) return softmaxComposed(x, axis);
  const ax = normAxis(axis, x.rank, 'softmax', x.shape);
  const y = fusedOp({ opType: 'Softmax', attrs: { axis: { kind: 'int', value: ax } }, inputs: [x], reference: (t) => softmaxComposed(t, ax) });
  const node: Tensor = makeNode('custom', [y, x], {
    name: 'softmax',
    bwd: (g: Tensor) => [mul(node, sub(g, sum(mul(g, node), ax, true)))],
  });
  return node;
}

/** softmax as primitives: exp(x − max) / Σ exp(x − max) (the reference of the fused kernel). */
export function softmaxComposed(x: Tensor, axis = -1): Tensor {
  const e = exp(sub(x, stopGradient(max(x, axis, true))));
  return div(e, sum(e, axis, true));
}

/** log-softmax along an axis. @example logSoftmax(logits, -1) */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return sub(x, logSumExp(x, axis, true));
}

/** Count of true values (as `dtype`) over `axes`. */
export function countTrue(mask: Tensor, axes?: number | readonly number[], keepdims = false, dtype: DType = 'int64'): Tensor {
  return sum(cast(mask, dtype), axes, keepdims);
}
