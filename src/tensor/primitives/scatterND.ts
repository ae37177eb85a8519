// scatterND (ONNX ScatterND): x with x[idx[i]] = updates[i] (or += for 'add').
// VJP: x gets g with the overwritten rows zeroed ('none') or g itself ('add'); updates get g[idx].
import { Vlm2VecError } from '../../errors.ts';
import { fmtShape, shapeEq } from '../shape.ts';
import { arity, sameDType } from './_helpers.ts';
import type { PrimitiveDef } from './types.ts';

export const scatterND: PrimitiveDef<'scatterND'> = {
  infer(inputs) {
    arity('scatterND', inputs, 3);
    const [x, idx, up] = [inputs[0]!, inputs[1]!, inputs[2]!];
    const k = idx.shape[idx.rank - 1];
    if (idx.dtype !== 'int64' || typeof k !== 'number' || k > x.rank || k < 1) {
      throw new Vlm2VecError('scatterND', `indices must be int64 [..., k] with static 1 <= k <= ${x.rank}, got ${idx.dtype}${fmtShape(idx.shape)}`);
    }
    sameDType('scatterND', [x, up]);
    const expect = [...idx.shape.slice(0, -1), ...x.shape.slice(k)];
    if (!shapeEq(expect, up.shape)) {
      throw new Vlm2VecError('scatterND', `updates ${fmtShape(up.shape)} must have shape ${fmtShape(expect)} (indices ${fmtShape(idx.shape)}, data ${fmtShape(x.shape)})`);
    }
    return { shape: x.shape, dtype: x.dtype };
  },
  lower: (ctx, ins, n) => ctx.emit('ScatterND', ins, n.attrs.reduction === 'none' ? {} : { reduction: { kind: 'string', value: n.attrs.reduction } }),
  vjp: (n, g, { gatherND, scatterND: sc, zeros }) => {
    const [idx, up] = [n.inputs[1]!, n.inputs[2]!];
    const gx = n.attrs.reduction === 'add' ? g : sc(g, idx, zeros(up.shape, g.dtype));
    return [gx, null, gatherND(g, idx)];
  },
};
