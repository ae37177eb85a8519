// arange: ONNX Range(start, end, step). A symbolic end is read at run time.
import { Vlm2VecError } from '../../errors.ts';
import { ONNX_DTYPE } from '../dtype.ts';
import { noInputs } from './_helpers.ts';
import type { PrimitiveDef } from './types.ts';

export const arange: PrimitiveDef<'arange'> = {
  infer(inputs, a) {
    noInputs('arange', inputs);
    if (a.dtype === 'bool') throw new Vlm2VecError('arange', 'dtype bool is not supported');
    if (a.step === 0) throw new Vlm2VecError('arange', 'step must be non-zero');
    if (typeof a.end === 'number') return { shape: [Math.max(0, Math.ceil((a.end - a.start) / a.step))], dtype: a.dtype };
    if (a.start !== 0 || a.step !== 1) throw new Vlm2VecError('arange', `symbolic end '${a.end}' needs start 0 and step 1, got ${a.start}, ${a.step}`);
    return { shape: [a.end], dtype: a.dtype };
  },
  lower: (ctx, _ins, n) => {
    const a = n.attrs;
    const end =
      typeof a.end === 'number' ? ctx.scalar(a.end, a.dtype) : ctx.emit('Cast', [ctx.dimScalar(a.end)], { to: { kind: 'int', value: ONNX_DTYPE[a.dtype] } });
    return ctx.emit('Range', [ctx.scalar(a.start, a.dtype), end, ctx.scalar(a.step, a.dtype)]);
  },
  vjp: null,
};
