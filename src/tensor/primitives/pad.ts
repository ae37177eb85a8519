// pad with a constant. VJP: slice the padded margins off.
import { Vlm2VecError } from '../../errors.ts';
import type { Dim } from '../shape.ts';
import { fmtShape, freshDim } from '../shape.ts';
import { arity } from './_helpers.ts';
import type { PrimitiveDef } from './types.ts';

export const pad: PrimitiveDef<'pad'> = {
  infer(inputs, attrs) {
    arity('pad', inputs, 1);
    const x = inputs[0]!;
    if (attrs.pads.length !== x.rank || attrs.pads.some(([b, e]) => b < 0 || e < 0 || !Number.isInteger(b) || !Number.isInteger(e))) {
      throw new Vlm2VecError('pad', `pads ${JSON.stringify(attrs.pads)} must be non-negative integer [before, after] pairs for ${fmtShape(x.shape)}`);
    }
    const shape: Dim[] = x.shape.map((d, i) => {
      const [b, e] = attrs.pads[i]!;
      if (b + e === 0) return d;
      return typeof d === 'number' ? d + b + e : freshDim();
    });
    return { shape, dtype: x.dtype };
  },
  lower: (ctx, ins, n) => {
    const p = n.attrs.pads;
    return ctx.emit('Pad', [ins[0]!, ctx.i64([...p.map((q) => q[0]), ...p.map((q) => q[1])]), ctx.scalar(n.attrs.value, n.dtype)], {
      mode: { kind: 'string', value: 'constant' },
    });
  },
  vjp: (n, g, { slice }) => [slice(g, n.attrs.pads.map(([b, e]) => (b + e === 0 ? null : ([b, e === 0 ? Number.MAX_SAFE_INTEGER : -e] as [number, number]))))],
};
