// dimSize: number of elements over some axes, as a scalar. A primitive (not a constant) because
// with symbolic dims the count is only known at run time (mean over a sequence axis).
import { ONNX_DTYPE } from '../dtype.ts';
import { arity } from './_helpers.ts';
import type { PrimitiveDef } from './types.ts';

export const dimSize: PrimitiveDef<'dimSize'> = {
  infer(inputs, attrs) {
    arity('dimSize', inputs, 1);
    return { shape: [], dtype: attrs.dtype };
  },
  lower: (ctx, _ins, n) => {
    const dims = n.attrs.axes.map((a) => n.inputs[0]!.shape[a]!);
    if (dims.every((d) => typeof d === 'number')) return ctx.scalar(dims.reduce<number>((p, d) => p * (d as number), 1), n.attrs.dtype);
    const prod = ctx.emit('ReduceProd', [ctx.shapeOf(dims)], { keepdims: { kind: 'int', value: 0 } });
    return ctx.emit('Cast', [prod], { to: { kind: 'int', value: ONNX_DTYPE[n.attrs.dtype] } });
  },
  vjp: (_n, _g) => [null],
};
