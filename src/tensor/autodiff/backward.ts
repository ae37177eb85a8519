// The reverse-mode driver. The lazy graph is the tape: walk it backwards from the outputs, ask
// each primitive's VJP for input cotangents, sum broadcast axes away and add up fan-in here, once.

import { Vlm2VecError } from '../../errors.ts';
import { isFloat } from '../dtype.ts';
import { topoSort } from '../ir/graph.ts';
import * as ops from '../ops/index.ts';
import { add, cast, reshape, sum, zerosLike } from '../ops/index.ts';
import type { VjpOps } from '../primitives/types.ts';
import type { Shape } from '../shape.ts';
import { fmtShape, shapeEq } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { defOf } from '../ir/node.ts';

/** What every VJP rule builds with (passed in: rule files cannot import ops, see VjpOps). */
const VJP_OPS: VjpOps = { ...ops, backward };

/** Sums a broadcast cotangent down to `shape` (leading axes and axes where shape has 1). */
export function sumToShape(g: Tensor, shape: Shape): Tensor {
  if (shapeEq(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  if (lead < 0) throw new Vlm2VecError('autodiff', `cotangent ${fmtShape(g.shape)} has lower rank than its primal ${fmtShape(shape)}`);
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  return reshape(axes.length ? sum(g, axes, true) : g, shape);
}

/**
 * Cotangents of `wrt` given cotangents of `outputs` (lazy tensors; differentiable again).
 * Tensors of `wrt` that the outputs do not depend on get zeros.
 */
export function backward(outputs: readonly Tensor[], cotangents: readonly Tensor[], wrt: readonly Tensor[]): Tensor[] {
  if (outputs.length !== cotangents.length) throw new Vlm2VecError('autodiff', `${outputs.length} outputs but ${cotangents.length} cotangents`);
  const order = topoSort(outputs);
  const wrtSet = new Set(wrt);
  const dep = new Set<Tensor>();
  for (const t of order) if (wrtSet.has(t) || t.inputs.some((i) => dep.has(i))) dep.add(t);

  const grads = new Map<Tensor, Tensor>();
  const accumulate = (t: Tensor, g: Tensor) => {
    const prev = grads.get(t);
    grads.set(t, prev ? add(prev, g) : g);
  };
  outputs.forEach((o, i) => {
    const c = cotangents[i]!;
    if (!shapeEq(o.shape, c.shape)) throw new Vlm2VecError('autodiff', `cotangent ${i} has shape ${fmtShape(c.shape)}, output has ${fmtShape(o.shape)}`);
    if (dep.has(o)) accumulate(o, c);
  });

  for (let k = order.length - 1; k >= 0; k--) {
    const t = order[k]!;
    const g = grads.get(t);
    if (!g || t.inputs.length === 0) continue;
    const def = defOf(t.prim);
    if (!def.vjp || !t.inputs.some((i) => dep.has(i) && isFloat(i.dtype))) continue;
    const gs = def.vjp(t, g, VJP_OPS);
    t.inputs.forEach((inp, i) => {
      const gi = gs[i];
      if (!gi || !dep.has(inp) || !isFloat(inp.dtype)) return;
      const reduced = sumToShape(gi, inp.shape);
      accumulate(inp, reduced.dtype === inp.dtype ? reduced : cast(reduced, inp.dtype));
    });
  }
  return wrt.map((w) => grads.get(w) ?? zerosLike(w));
}
