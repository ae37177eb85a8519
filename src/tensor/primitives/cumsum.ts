// cumsum along an axis. VJP: the cumsum of g in the opposite direction (same exclusivity).
import { arity } from './_helpers.ts';
import type { PrimitiveDef } from './types.ts';

export const cumsum: PrimitiveDef<'cumsum'> = {
  infer(inputs) {
    arity('cumsum', inputs, 1);
    return { shape: inputs[0]!.shape, dtype: inputs[0]!.dtype };
  },
  lower: (ctx, ins, n) =>
    ctx.emit('CumSum', [ins[0]!, ctx.scalar(n.attrs.axis, 'int64')], {
      exclusive: { kind: 'int', value: n.attrs.exclusive ? 1 : 0 },
      reverse: { kind: 'int', value: n.attrs.reverse ? 1 : 0 },
    }),
  vjp: (n, g, { cumsum: cs }) => [cs(g, n.attrs.axis, { exclusive: n.attrs.exclusive, reverse: !n.attrs.reverse })],
};
