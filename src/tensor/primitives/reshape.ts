// reshape to a resolved shape (the op resolved -1). VJP: reshape back.
import { Vlm2VecError } from '../../errors.ts';
import { dimEq, dimProd, fmtShape } from '../shape.ts';
import { arity } from './_helpers.ts';
import type { PrimitiveDef } from './types.ts';

export const reshape: PrimitiveDef<'reshape'> = {
  infer(inputs, attrs) {
    arity('reshape', inputs, 1);
    const x = inputs[0]!;
    for (const d of attrs.shape) {
      if (typeof d === 'number' && (!Number.isInteger(d) || d < 0)) throw new Vlm2VecError('reshape', `invalid dim ${d} in ${fmtShape(attrs.shape)}`);
    }
    // Fresh symbols (sizes like T-1 that the shape algebra cannot name) defer the check to ORT.
    const unknown = [...x.shape, ...attrs.shape].some((d) => typeof d === 'string' && d.includes('_u'));
    if (!unknown && !dimEq(dimProd(x.shape), dimProd(attrs.shape))) {
      throw new Vlm2VecError('reshape', `cannot reshape ${fmtShape(x.shape)} (${dimProd(x.shape)} elements) to ${fmtShape(attrs.shape)} (${dimProd(attrs.shape)})`);
    }
    return { shape: attrs.shape, dtype: x.dtype };
  },
  lower: (ctx, ins, n) => ctx.emit('Reshape', [ins[0]!, ctx.shapeOf(n.attrs.shape)]),
  vjp: (n, g, { reshape: r }) => [r(g, n.inputs[0]!.shape)],
};
