// cast: element type conversion. VJP: cast the cotangent back (float -> float only).
import { isFloat, ONNX_DTYPE } from '../dtype.ts';
import { arity } from './_helpers.ts';
import type { PrimitiveDef } from './types.ts';

export const cast: PrimitiveDef<'cast'> = {
  infer(inputs, attrs) {
    arity('cast', inputs, 1);
    return { shape: inputs[0]!.shape, dtype: attrs.dtype };
  },
  lower: (ctx, ins, n) => ctx.emit('Cast', ins, { to: { kind: 'int', value: ONNX_DTYPE[n.attrs.dtype] } }),
  vjp: (n, g, { cast: c }) => {
    const x = n.inputs[0]!;
    return [isFloat(x.dtype) && isFloat(n.dtype) ? c(g, x.dtype) : null];
  },
};
