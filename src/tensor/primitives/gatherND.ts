// gatherND (ONNX GatherND, batch_dims 0). VJP: scatter-add g into zeros at the same indices.
import { Vlm2VecError } from '../../errors.ts';
import { fmtShape } from '../shape.ts';
import { arity } from './_helpers.ts';
import type { PrimitiveDef } from './types.ts';

export const gatherND: PrimitiveDef<'gatherND'> = {
  infer(inputs) {
    arity('gatherND', inputs, 2);
    const [x, idx] = [inputs[0]!, inputs[1]!];
    const k = idx.shape[idx.rank - 1];
    if (idx.dtype !== 'int64' || typeof k !== 'number' || k > x.rank || k < 1) {
      throw new Vlm2VecError('gatherND', `indices must be int64 [..., k] with static 1 <= k <= ${x.rank}, got ${idx.dtype}${fmtShape(idx.shape)}`);
    }
    return { shape: [...idx.shape.slice(0, -1), ...x.shape.slice(k)], dtype: x.dtype };
  },
  lower: (ctx, ins) => ctx.emit('GatherND', ins),
  vjp: (n, g, { scatterND, zeros }) => [scatterND(zeros(n.inputs[0]!.shape, g.dtype), n.inputs[1]!, g, 'add'), null],
};
