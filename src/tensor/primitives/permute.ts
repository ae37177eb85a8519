// permute (ONNX Transpose). VJP: the inverse permutation.
import { Vlm2VecError } from '../../errors.ts';
import { fmtShape } from '../shape.ts';
import { arity } from './_helpers.ts';
import type { PrimitiveDef } from './types.ts';

export const permute: PrimitiveDef<'permute'> = {
  infer(inputs, attrs) {
    arity('permute', inputs, 1);
    const x = inputs[0]!;
    const sorted = [...attrs.perm].sort((a, b) => a - b);
    if (attrs.perm.length !== x.rank || sorted.some((a, i) => a !== i)) {
      throw new Vlm2VecError('permute', `[${attrs.perm.join(',')}] is not a permutation of the axes of ${fmtShape(x.shape)}`);
    }
    return { shape: attrs.perm.map((a) => x.shape[a]!), dtype: x.dtype };
  },
  lower: (ctx, ins, n) => ctx.emit('Transpose', ins, { perm: { kind: 'ints', value: n.attrs.perm } }),
  vjp: (n, g, { permute: p }) => {
    const inv = new Array<number>(n.attrs.perm.length);
    n.attrs.perm.forEach((a, i) => (inv[a] = i));
    return [p(g, inv)];
  },
};
