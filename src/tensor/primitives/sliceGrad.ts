// sliceGrad: the adjoint of a unit-step slice: zero-pads g back to the shape of `ref` (input 1,
// used only for its shape). Pads are computed at run time when ref has symbolic dims, because
// "T - 1" is not expressible in our shape algebra. VJP: slice again.
import { Vlm2VecError } from '../../errors.ts';
import { fmtShape, shapeEq } from '../shape.ts';
import { sliceRange, sliceShape } from './slice.ts';
import type { LowerCtx, PrimitiveDef, SliceAttrs } from './types.ts';
import type { Dim } from '../shape.ts';

function padsFor(ctx: LowerCtx, dims: readonly Dim[], a: SliceAttrs): string {
  const before: string[] = [];
  const after: string[] = [];
  dims.forEach((d, axis) => {
    const i = a.axes.indexOf(axis);
    if (i < 0) {
      before.push(ctx.i64([0]));
      after.push(ctx.i64([0]));
      return;
    }
    const [start, end] = [a.starts[i]!, a.ends[i]!];
    if (typeof d === 'number') {
      const { s, e } = sliceRange(d, start, end, 1);
      before.push(ctx.i64([s]));
      after.push(ctx.i64([d - Math.max(e, s)]));
      return;
    }
    const len = ctx.shapeOf([d]);
    const zero = ctx.i64([0]);
    const clampIdx = (v: number) =>
      v >= 0 ? ctx.emit('Min', [ctx.i64([v]), len]) : ctx.emit('Max', [ctx.emit('Add', [len, ctx.i64([v])]), zero]);
    const s = clampIdx(start);
    const e = ctx.emit('Max', [clampIdx(Math.min(end, 2 ** 62)), s]);
    before.push(s);
    after.push(ctx.emit('Sub', [len, e]));
  });
  return ctx.emit('Concat', [...before, ...after], { axis: { kind: 'int', value: 0 } });
}

export const sliceGrad: PrimitiveDef<'sliceGrad'> = {
  infer(inputs, attrs) {
    const [g, ref] = [inputs[0]!, inputs[1]!];
    if (attrs.steps.some((s) => s !== 1)) throw new Vlm2VecError('sliceGrad', 'only unit steps are supported');
    const expect = sliceShape(ref, attrs);
    if (g.rank !== ref.rank || (!shapeEq(expect, g.shape) && expect.every((d) => typeof d === 'number'))) {
      throw new Vlm2VecError('sliceGrad', `cotangent ${fmtShape(g.shape)} does not match the slice ${fmtShape(expect)} of ${fmtShape(ref.shape)}`);
    }
    return { shape: ref.shape, dtype: g.dtype };
  },
  lower: (ctx, ins, n) => ctx.emit('Pad', [ins[0]!, padsFor(ctx, n.inputs[1]!.shape, n.attrs), ctx.scalar(0, n.dtype)], { mode: { kind: 'string', value: 'constant' } }),
  vjp: (n, g, { slice: sl }) => {
    const a = n.attrs;
    const spec: ([number, number, number] | null)[] = n.shape.map(() => null);
    a.axes.forEach((axis, i) => (spec[axis] = [a.starts[i]!, a.ends[i]!, 1]));
    return [sl(g, spec), null];
  },
};
