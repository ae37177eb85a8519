// where: cond ? a : b with broadcasting over all three. VJP routes g by the condition.
import { Vlm2VecError } from '../../errors.ts';
import { broadcastShapes } from '../shape.ts';
import { arity, sameDType } from './_helpers.ts';
import type { PrimitiveDef } from './types.ts';

export const where: PrimitiveDef<'where'> = {
  infer(inputs) {
    arity('where', inputs, 3);
    const [c, a, b] = [inputs[0]!, inputs[1]!, inputs[2]!];
    if (c.dtype !== 'bool') throw new Vlm2VecError('where', `condition must be bool, got ${c.dtype}`);
    const dtype = sameDType('where', [a, b]);
    return { shape: broadcastShapes('where', c.shape, a.shape, b.shape), dtype };
  },
  lower: (ctx, ins) => ctx.emit('Where', ins),
  vjp: (n, g, { where: w }) => {
    const c = n.inputs[0]!;
    return [null, w(c, g, 0), w(c, 0, g)];
  },
};
