// reduceMax over axes. VJP as torch.amax: g split evenly among the positions equal to the max.
import { arity } from './_helpers.ts';
import { keepDims, reducedShape } from './reduceSum.ts';
import type { PrimitiveDef } from './types.ts';

export const reduceMax: PrimitiveDef<'reduceMax'> = {
  infer(inputs, attrs) {
    arity('max', inputs, 1);
    return { shape: reducedShape(inputs[0]!, attrs), dtype: inputs[0]!.dtype };
  },
  lower: (ctx, ins, n) => ctx.emit('ReduceMax', [ins[0]!, ctx.i64(n.attrs.axes)], { keepdims: { kind: 'int', value: n.attrs.keepdims ? 1 : 0 } }),
  vjp: (n, g, o) => {
    const x = n.inputs[0]!;
    const mask = o.cast(o.equal(x, keepDims(o, n, x, n.attrs)), g.dtype);
    return [o.mul(mask, o.div(keepDims(o, g, x, n.attrs), o.sum(mask, n.attrs.axes, true)))];
  },
};
