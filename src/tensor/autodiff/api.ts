// grad / valueAndGrad / vjp over pytrees, and customVjp.

import { Vlm2VecError } from '../../errors.ts';
import { isFloat } from '../dtype.ts';
import { onesLike } from '../ops/index.ts';
import { fmtShape } from '../shape.ts';
import { Tensor } from '../tensor.ts';
import { makeNode } from '../ir/node.ts';
import type { Tree } from '../tree.ts';
import { treeFlatten } from '../tree.ts';
import { backward } from './backward.ts';

export { backward };

export interface GradOptions {
  /** Which argument(s) to differentiate (default 0). */
  argnums?: number | readonly number[];
  /** fn returns [loss, aux]; aux is passed through. */
  hasAux?: boolean;
}

function checkLoss(x: unknown): Tensor {
  if (!(x instanceof Tensor)) throw new Vlm2VecError('grad', 'the function must return a Tensor (or [Tensor, aux] with hasAux)');
  if (!isFloat(x.dtype) || !x.shape.every((d) => d === 1)) {
    throw new Vlm2VecError('grad', `the function must return a one-element float tensor, got ${x.dtype}${fmtShape(x.shape)}`);
  }
  return x;
}

function core(fn: (...args: never[]) => unknown, args: unknown[], opts: GradOptions): [Tensor, unknown, unknown] {
  const out = (fn as (...a: unknown[]) => unknown)(...args);
  let lossV: unknown = out;
  let aux: unknown;
  if (opts.hasAux) {
    if (!Array.isArray(out) || out.length !== 2) throw new Vlm2VecError('grad', 'with hasAux the function must return [loss, aux]');
    [lossV, aux] = out;
  }
  const loss = checkLoss(lossV);
  const nums = opts.argnums ?? 0;
  const list = typeof nums === 'number' ? [nums] : [...nums];
  const flats = list.map((i) => {
    if (i < 0 || i >= args.length) throw new Vlm2VecError('grad', `argnums ${i} out of range for ${args.length} arguments`);
    return treeFlatten(args[i]);
  });
  const gs = backward([loss], [onesLike(loss)], flats.flatMap((f) => f.leaves));
  let off = 0;
  const trees = flats.map((f) => {
    const part = gs.slice(off, off + f.leaves.length);
    off += f.leaves.length;
    return f.unflatten(part);
  });
  return [loss, aux, typeof nums === 'number' ? trees[0] : trees];
}

/**
 * Gradient of a scalar-valued function w.r.t. argument `argnums` (a pytree of tensors). With the
 * default argnums 0 the result has the type of the first argument (same tree, tensors replaced).
 * @example const g = grad((w: Tensor) => sum(mul(w, w)))(w0); // 2 w0 (lazy)
 */
export function grad<A extends unknown[]>(fn: (...args: A) => unknown, opts?: GradOptions & { argnums?: 0 }): (...args: A) => A[0];
export function grad<A extends unknown[]>(fn: (...args: A) => unknown, opts: GradOptions): (...args: A) => Tree<Tensor>;
export function grad<A extends unknown[]>(fn: (...args: A) => unknown, opts: GradOptions = {}): (...args: A) => Tree<Tensor> {
  return (...args: A) => core(fn as (...a: never[]) => unknown, args, opts)[2] as Tree<Tensor>;
}

/**
 * [value, grads] (or [[value, aux], grads] with hasAux).
 * @example const [loss, g] = valueAndGrad(lossFn)(params, batch);
 */
export function valueAndGrad<A extends unknown[]>(fn: (...args: A) => unknown, opts: GradOptions = {}): (...args: A) => [unknown, Tree<Tensor>] {
  return (...args: A) => {
    const [loss, aux, g] = core(fn as (...a: never[]) => unknown, args, opts);
    return [opts.hasAux ? [loss, aux] : loss, g as Tree<Tensor>];
  };
}

/**
 * Forward value and a pullback: cotangents shaped like the output -> cotangents of each primal.
 * @example const { out, vjp: pull } = vjp((x) => mul(x, x), x0); const [gx] = pull(onesLike(out));
 */
export function vjp<A extends unknown[], R>(fn: (...args: A) => R, ...primals: A): { out: R; vjp: (cot: unknown) => unknown[] } {
  const out = fn(...primals);
  const outFlat = treeFlatten(out);
  const flats = primals.map((p) => treeFlatten(p));
  return {
    out,
    vjp: (cot: unknown) => {
      const c = treeFlatten(cot);
      if (c.leaves.length !== outFlat.leaves.length) {
        throw new Vlm2VecError('vjp', `cotangent tree has ${c.leaves.length} tensors, output has ${outFlat.leaves.length}`);
      }
      const gs = backward(outFlat.leaves, c.leaves, flats.flatMap((f) => f.leaves));
      let off = 0;
      return flats.map((f) => {
        const part = gs.slice(off, off + f.leaves.length);
        off += f.leaves.length;
        return f.unflatten(part);
      });
    },
  };
}

/**
 * A function with a user-given gradient (the forward's own graph is not differentiated).
 * `bwd(g, {inputs, output})` returns one cotangent (or null) per input, using public ops.
 * @example const clipGrad = customVjp((x) => x, (g) => [clamp(g, -1, 1)]);
 */
export function customVjp(
  fwd: (...xs: Tensor[]) => Tensor,
  bwd: (g: Tensor, ctx: { inputs: readonly Tensor[]; output: Tensor }) => readonly (Tensor | null)[],
  name = fwd.name || 'custom',
): (...xs: Tensor[]) => Tensor {
  return (...xs: Tensor[]) => {
    const y = fwd(...xs);
    if (!(y instanceof Tensor)) throw new Vlm2VecError('customVjp', `${name}: forward must return one Tensor`);
    const node: Tensor = makeNode('custom', [y, ...xs], { name, bwd: (g) => bwd(g, { inputs: xs, output: node }) });
    return node;
  };
}
