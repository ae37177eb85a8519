// argMax along one axis -> int64 (first index on ties). Not differentiable.
import { arity } from './_helpers.ts';
import { reducedShape } from './reduceSum.ts';
import type { PrimitiveDef } from './types.ts';

export const argMax: PrimitiveDef<'argMax'> = {
  infer(inputs, attrs) {
    arity('argMax', inputs, 1);
    return { shape: reducedShape(inputs[0]!, { axes: [attrs.axis], keepdims: attrs.keepdims }), dtype: 'int64' };
  },
  lower: (ctx, ins, n) =>
    ctx.emit('ArgMax', ins, { axis: { kind: 'int', value: n.attrs.axis }, keepdims: { kind: 'int', value: n.attrs.keepdims ? 1 : 0 } }),
  vjp: null,
};
