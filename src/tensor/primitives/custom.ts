// custom: the output of a customVjp function. Input 0 is the forward value (computed with its
// inputs gradient-stopped), inputs 1.. are the primals; the user's rule gives their cotangents.
import { Vlm2VecError } from '../../errors.ts';
import type { PrimitiveDef } from './types.ts';

export const custom: PrimitiveDef<'custom'> = {
  infer(inputs, attrs) {
    if (inputs.length < 1) throw new Vlm2VecError('customVjp', `${attrs.name}: missing forward value`);
    return { shape: inputs[0]!.shape, dtype: inputs[0]!.dtype };
  },
  lower: (ctx, ins) => ctx.emit('Identity', [ins[0]!]),
  vjp: (n, g) => {
    const gs = n.attrs.bwd(g);
    if (gs.length !== n.inputs.length - 1) {
      throw new Vlm2VecError('customVjp', `${n.attrs.name}: backward returned ${gs.length} cotangents for ${n.inputs.length - 1} inputs`);
    }
    return [null, ...gs];
  },
};
