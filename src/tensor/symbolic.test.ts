// The PyTorch fixture cases again, but jitted with every non-unit dim symbolic (named by its size,
// so equal sizes share a symbol and broadcasting still type-checks). This exercises the run-time
// shape computations of the lowerings (Shape/Gather-built shapes, dimSize, sliceGrad pads, fresh
// symbols after slice/pad/concat) in the forward pass and in the gradients.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configureRuntime, jit, vjp, Tensor } from './index.ts';
import type { Dim } from './index.ts';
import { assertClose, loadFixture } from './fixtures.test-helper.ts';
import { FNS } from './op-cases.test-helper.ts';

configureRuntime({ threads: 1 });

// Cases whose functions bake in static shapes (reshape targets, split sizes, arange(4), strided
// slices of a symbolic axis) cannot be traced shape-polymorphically: that is by design.
const STATIC_ONLY = new Set(['reshape', 'permute3', 'transpose_contig', 'expand', 'split_weighted', 'slice_step', 'arange_mask', 'one_hot']);

const { cases, read } = loadFixture('ops');

function symbolic(shape: readonly number[], keepLast: boolean): (string | null)[] {
  return shape.map((d, i) => (d === 1 || (keepLast && i === shape.length - 1) ? null : `d${d}`));
}

for (const c of cases.filter((k) => !STATIC_ONLY.has(k.name))) {
  test(`${c.name}: jitted with symbolic dims matches PyTorch`, async () => {
    const fn = FNS[c.name]!;
    const ins = c.inputs.map(read);
    const isF = ins.map((t) => t.dtype === 'float32');
    const dynamic: Record<string, (string | null)[]> = {};
    // index tensors keep their last axis static: it says how many leading axes they address
    const nd = c.name.startsWith('gather_nd') || c.name.startsWith('scatter_nd');
    c.inputs.forEach((t, i) => (dynamic[`0.${i}`] = symbolic(t.shape, nd && t.dtype === 'int64')));
    assert.ok(Object.values(dynamic).some((s) => s.some((d) => d !== null)), `${c.name}: nothing symbolic to test`);
    const withGrad = c.cotangent !== undefined;
    if (withGrad) dynamic['1'] = symbolic(c.cotangent!.shape, false);
    let traced: readonly Dim[] = [];
    const f = jit((xs: Tensor[], cot?: Tensor) => {
      const wrt = xs.filter((_, i) => isF[i]);
      const { out, vjp: pull } = vjp((...ws: Tensor[]) => {
        let k = 0;
        return fn(...xs.map((t, i) => (isF[i] ? ws[k++]! : t)));
      }, ...wrt);
      traced = out.shape;
      const fresh = out.shape.some((d) => typeof d === 'string' && d.startsWith('_u'));
      // Outputs whose size became a fresh symbol (T-1 after a slice...) cannot be paired with a
      // cotangent of a named size at trace time; those are checked forward-only here.
      return { out, grads: cot && !fresh ? (pull(cot) as Tensor[]) : [] };
    }, { dynamic });
    const args: [Tensor[], Tensor?] = withGrad ? [ins, read(c.cotangent!)] : [ins];
    const res = await f(...args);
    assert.ok(traced.length === c.output.shape.length);
    await assertClose(res.out, read(c.output), `${c.name} forward`, 1e-5, 1e-6);
    if (withGrad && res.grads.length) {
      let j = 0;
      for (let i = 0; i < c.inputs.length; i++) {
        const g = c.grads?.[i];
        if (g) await assertClose(res.grads[j++]!, read(g), `${c.name} grad of input ${i}`, 1e-4, 1e-5);
      }
    }
    assert.equal(f.sessionCount, 1);
  });
}
