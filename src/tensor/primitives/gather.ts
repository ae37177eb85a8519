// gather (ONNX Gather, torch.index_select generalized). VJP: scatter-add g into zeros: the gathered
// axis is moved to the front so ScatterND can address it with indices[..., None].
import { Vlm2VecError } from '../../errors.ts';
import { isInteger } from '../dtype.ts';
import { fmtShape } from '../shape.ts';
import { arity } from './_helpers.ts';
import type { PrimitiveDef } from './types.ts';

export const gather: PrimitiveDef<'gather'> = {
  infer(inputs, attrs) {
    arity('gather', inputs, 2);
    const [x, idx] = [inputs[0]!, inputs[1]!];
    if (!isInteger(idx.dtype)) throw new Vlm2VecError('gather', `indices must be int64/int32, got ${idx.dtype}${fmtShape(idx.shape)}`);
    const a = attrs.axis;
    return { shape: [...x.shape.slice(0, a), ...idx.shape, ...x.shape.slice(a + 1)], dtype: x.dtype };
  },
  lower: (ctx, ins, n) => ctx.emit('Gather', ins, { axis: { kind: 'int', value: n.attrs.axis } }),
  vjp: (n, g, { cast, permute, scatterND, unsqueeze, zeros }) => {
    const [x, idx] = [n.inputs[0]!, n.inputs[1]!];
    const a = n.attrs.axis;
    const r = idx.rank;
    // g: x[:a] ++ idx ++ x[a+1:]  ->  idx ++ x[:a] ++ x[a+1:]
    const gPerm = [...Array(r).keys()].map((i) => a + i).concat([...Array(a).keys()], [...Array(x.rank - a - 1).keys()].map((i) => a + r + i));
    const rest = [...x.shape.slice(0, a), ...x.shape.slice(a + 1)];
    const acc = scatterND(zeros([x.shape[a]!, ...rest], g.dtype), unsqueeze(cast(idx, 'int64'), -1), permute(g, gPerm), 'add');
    // acc: [x[a], x[:a], x[a+1:]] -> x
    const back = [...Array(a).keys()].map((i) => i + 1).concat([0], [...Array(x.rank - a - 1).keys()].map((i) => a + 1 + i));
    return [permute(acc, back), null];
  },
};
