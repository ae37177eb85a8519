// slice with per-axis start/end/step (python semantics). VJP: step-1 axes are zero-padded back by
// sliceGrad (pads read at run time for symbolic dims); strided axes of static size are scattered
// back with a constant 0/1 selection matrix so the rule stays differentiable.
import { Vlm2VecError } from '../../errors.ts';
import type { Dim } from '../shape.ts';
import { fmtShape, freshDim } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { arity } from './_helpers.ts';
import type { PrimitiveDef, SliceAttrs, VjpOps } from './types.ts';

/** Python slice.indices(): clamped [start, end) and element count for a static length. */
export function sliceRange(len: number, start: number, end: number, step: number): { s: number; e: number; n: number } {
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  let s: number;
  let e: number;
  if (step > 0) {
    s = clamp(start < 0 ? start + len : start, 0, len);
    e = clamp(end < 0 ? end + len : end, 0, len);
  } else {
    s = clamp(start < 0 ? start + len : start, -1, len - 1);
    e = clamp(end < 0 ? end + len : end, -1, len - 1);
  }
  const n = step > 0 ? Math.max(0, Math.ceil((e - s) / step)) : Math.max(0, Math.ceil((s - e) / -step));
  return { s, e, n };
}

function outDim(d: Dim, start: number, end: number, step: number, bigEnd: number): Dim {
  if (typeof d === 'number') return sliceRange(d, start, end, step).n;
  // Symbolic length: only "the last k" (start -k to the end) and "[a, b) with 0 <= a <= b" are
  // known without the length; anything else gets a fresh symbol read at run time.
  if (step === 1 && start < 0 && end >= bigEnd) return -start;
  if (step === 1 && start >= 0 && end >= 0 && end < bigEnd) return Math.max(0, end - start);
  if (step === 1 && start === 0 && end >= bigEnd) return d;
  return freshDim();
}

export function sliceShape(x: Tensor, a: SliceAttrs): Dim[] {
  const shape = [...x.shape];
  a.axes.forEach((axis, i) => {
    if (axis < 0 || axis >= x.rank) throw new Vlm2VecError('slice', `axis ${axis} out of range for ${fmtShape(x.shape)}`);
    shape[axis] = outDim(x.shape[axis]!, a.starts[i]!, a.ends[i]!, a.steps[i]!, Number.MAX_SAFE_INTEGER);
  });
  return shape;
}

/** Scatters g back along a strided static axis: moveaxis(g) @ S with S[j, s + j*step] = 1. */
function stridedBack(o: VjpOps, g: Tensor, axis: number, len: number, start: number, end: number, step: number): Tensor {
  const { s, n } = sliceRange(len, start, end, step);
  const sel = new Float64Array(n * len);
  for (let j = 0; j < n; j++) sel[j * len + s + j * step] = 1;
  const rank = g.rank;
  const perm = [...Array(rank).keys()].filter((i) => i !== axis).concat([axis]);
  const inv = new Array<number>(rank);
  perm.forEach((p, i) => (inv[p] = i));
  const moved = o.permute(g, perm);
  const gathered = o.matmul(o.reshape(moved, [...moved.shape.slice(0, -1), 1, n]), o.cast(o.fromArray(sel, [n, len], 'float64'), g.dtype));
  return o.permute(o.reshape(gathered, [...moved.shape.slice(0, -1), len]), inv);
}

export const slice: PrimitiveDef<'slice'> = {
  infer(inputs, attrs) {
    arity('slice', inputs, 1);
    return { shape: sliceShape(inputs[0]!, attrs), dtype: inputs[0]!.dtype };
  },
  lower: (ctx, ins, n) =>
    ctx.emit('Slice', [ins[0]!, ctx.i64(n.attrs.starts), ctx.i64(n.attrs.ends), ctx.i64(n.attrs.axes), ctx.i64(n.attrs.steps)]),
  vjp: (n, g, o) => {
    const x = n.inputs[0]!;
    const a = n.attrs;
    let gx = g;
    const unit: SliceAttrs = { axes: [], starts: [], ends: [], steps: [] };
    a.axes.forEach((axis, i) => {
      const [start, end, step] = [a.starts[i]!, a.ends[i]!, a.steps[i]!];
      if (step === 1 || step === -1) {
        let [s0, e0] = [start, end];
        if (step === -1) {
          // x[s:e:-1] is the reversal of x[e+1:s+1]: flip g back, then pad like a unit slice.
          gx = o.sliceAxis(gx, axis, -1, -Number.MAX_SAFE_INTEGER, -1);
          s0 = end <= -Number.MAX_SAFE_INTEGER ? 0 : end + 1;
          e0 = start === -1 ? Number.MAX_SAFE_INTEGER : start + 1;
        }
        unit.axes.push(axis);
        unit.starts.push(s0);
        unit.ends.push(e0);
        unit.steps.push(1);
        return;
      }
      const len = x.shape[axis]!;
      if (typeof len !== 'number') throw new Vlm2VecError('slice', `gradient of a strided slice (step ${step}) along symbolic axis ${axis} of ${fmtShape(x.shape)} is not supported`);
      gx = stridedBack(o, gx, axis, len, start, end, step);
    });
    return [unit.axes.length ? o.makeSliceGrad(gx, x, unit) : gx];
  },
};
