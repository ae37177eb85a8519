// expand (numpy broadcast to a shape). VJP: g itself; the driver sums it down to the input shape.
import { Vlm2VecError } from '../../errors.ts';
import { broadcastShapes, fmtShape, shapeEq } from '../shape.ts';
import { arity } from './_helpers.ts';
import type { PrimitiveDef } from './types.ts';

export const expand: PrimitiveDef<'expand'> = {
  infer(inputs, attrs) {
    arity('expand', inputs, 1);
    const x = inputs[0]!;
    const bad = () => new Vlm2VecError('expand', `cannot broadcast ${fmtShape(x.shape)} to ${fmtShape(attrs.shape)}`);
    let out;
    try {
      out = broadcastShapes('expand', x.shape, attrs.shape);
    } catch {
      throw bad();
    }
    if (!shapeEq(out, attrs.shape)) throw bad();
    return { shape: attrs.shape, dtype: x.dtype };
  },
  lower: (ctx, ins, n) => ctx.emit('Expand', [ins[0]!, ctx.shapeOf(n.attrs.shape)]),
  vjp: (_n, g) => [g],
};
