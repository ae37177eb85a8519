// reduceSum over axes (keepdims optional). VJP: broadcast g back over the reduced axes.
import type { Tensor } from '../tensor.ts';
import { arity } from './_helpers.ts';
import type { PrimitiveDef, ReduceAttrs, VjpOps } from './types.ts';
import type { Dim } from '../shape.ts';

export function reducedShape(x: Tensor, a: ReduceAttrs): Dim[] {
  const out: Dim[] = [];
  x.shape.forEach((d, i) => {
    if (!a.axes.includes(i)) out.push(d);
    else if (a.keepdims) out.push(1);
  });
  return out;
}

/** g reshaped to the keepdims form of a reduction of x. */
export function keepDims(o: VjpOps, g: Tensor, x: Tensor, a: ReduceAttrs): Tensor {
  return a.keepdims ? g : o.reshape(g, reducedShape(x, { axes: a.axes, keepdims: true }));
}

export const reduceSum: PrimitiveDef<'reduceSum'> = {
  infer(inputs, attrs) {
    arity('sum', inputs, 1);
    return { shape: reducedShape(inputs[0]!, attrs), dtype: inputs[0]!.dtype };
  },
  lower: (ctx, ins, n) => ctx.emit('ReduceSum', [ins[0]!, ctx.i64(n.attrs.axes)], { keepdims: { kind: 'int', value: n.attrs.keepdims ? 1 : 0 } }),
  vjp: (n, g, o) => {
    const x = n.inputs[0]!;
    return [o.expand(keepDims(o, g, x, n.attrs), x.shape)];
  },
};
