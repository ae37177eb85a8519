// fused: one ONNX kernel (RMSNormalization, com.microsoft.QuickGelu, ...) that stands for a
// composition of primitives. The composition is built alongside as the reference: it gives the
// shape and dtype, and the VJP differentiates it (gradients flow through the composition until
// someone writes a rule for the fused form). Tests assert fused == reference.
import { Vlm2VecError } from '../../errors.ts';
import type { PrimitiveDef } from './types.ts';

export const fused: PrimitiveDef<'fused'> = {
  infer(inputs, attrs) {
    if (attrs.slots.some((s) => s !== null && (s < 0 || s >= inputs.length))) {
      throw new Vlm2VecError('fused', `${attrs.opType}: input slots [${attrs.slots.join(',')}] do not match ${inputs.length} inputs`);
    }
    return { shape: attrs.reference.shape, dtype: attrs.reference.dtype };
  },
  lower: (ctx, ins, n) =>
    ctx.emit(n.attrs.opType, n.attrs.slots.map((s) => (s === null ? '' : ins[s]!)), n.attrs.onnxAttrs, n.attrs.domain),
  vjp: (n, g, { backward }) => backward([n.attrs.reference], [g], n.inputs),
};
