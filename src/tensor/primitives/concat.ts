// concat along an axis. VJP: slice g back into the pieces (static sizes along the axis).
import { Vlm2VecError } from '../../errors.ts';
import type { Dim } from '../shape.ts';
import { dimEq, dimProd, fmtShape, freshDim } from '../shape.ts';
import { sameDType } from './_helpers.ts';
import type { PrimitiveDef } from './types.ts';

export const concat: PrimitiveDef<'concat'> = {
  infer(inputs, attrs) {
    const first = inputs[0]!;
    const dtype = sameDType('concat', inputs);
    const a = attrs.axis;
    for (const t of inputs) {
      if (t.rank !== first.rank || t.shape.some((d, i) => i !== a && !dimEq(d, first.shape[i]!))) {
        throw new Vlm2VecError('concat', `shapes ${inputs.map((x) => fmtShape(x.shape)).join(', ')} differ outside axis ${a}`);
      }
    }
    const dims = inputs.map((t) => t.shape[a]!);
    let total: Dim;
    if (dims.every((d) => typeof d === 'number')) total = dims.reduce<number>((s, d) => s + (d as number), 0);
    else if (dims.every((d) => dimEq(d, dims[0]!))) total = dimProd([dims.length, dims[0]!]);
    else total = freshDim();
    const shape = [...first.shape];
    shape[a] = total;
    return { shape, dtype };
  },
  lower: (ctx, ins, n) => ctx.emit('Concat', ins, { axis: { kind: 'int', value: n.attrs.axis } }),
  vjp: (n, g, { sliceAxis }) => {
    const a = n.attrs.axis;
    let off = 0;
    return n.inputs.map((t) => {
      const len = t.shape[a]!;
      if (typeof len !== 'number') throw new Vlm2VecError('concat', `gradient of a concat along symbolic axis ${a} (${fmtShape(t.shape)}) is not supported`);
      const piece = sliceAxis(g, a, off, off + len);
      off += len;
      return piece;
    });
  },
};
