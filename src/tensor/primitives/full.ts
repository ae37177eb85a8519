// full: a tensor of one value (ONNX ConstantOfShape; the shape may be symbolic).
import { Vlm2VecError } from '../../errors.ts';
import { typedFromNumbers } from '../dtype.ts';
import { fmtShape } from '../shape.ts';
import { noInputs } from './_helpers.ts';
import type { PrimitiveDef } from './types.ts';

export const full: PrimitiveDef<'full'> = {
  infer(inputs, a) {
    noInputs('full', inputs);
    if (a.shape.some((d) => typeof d === 'number' && (!Number.isInteger(d) || d < 0))) throw new Vlm2VecError('full', `invalid shape ${fmtShape(a.shape)}`);
    return { shape: a.shape, dtype: a.dtype };
  },
  lower: (ctx, _ins, n) =>
    ctx.emit('ConstantOfShape', [ctx.shapeOf(n.attrs.shape)], {
      value: { kind: 'tensor', value: { dtype: n.dtype, dims: [1], data: typedFromNumbers(n.dtype, [n.attrs.value]) } },
    }),
  vjp: null,
};
