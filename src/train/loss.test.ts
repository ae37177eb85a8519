// InfoNCE (loss.ts) against the reference's SimpleContrastiveLoss re-stated in PyTorch
// (tools/reference/train_step.py, infonce.safetensors): value and gradients w.r.t. the raw reps
// through the L2 normalization the pooling applies, with one target per query and with a hard
// negative per query (targets grouped [pos_i, neg_i], query i's target at 2i).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Vlm2VecError } from '../errors.ts';
import type { Tensor } from '../tensor/index.ts';
import { configureRuntime, fromArray, l2Normalize, realize, valueAndGrad, zeros } from '../tensor/index.ts';
import { maxAbsDiff, need, readStepTensors } from './fixtures.test-helper.ts';
import { infoNCE } from './loss.ts';

configureRuntime({ threads: 1 });

for (const [name, targets, n] of [['plain', 'p', 4], ['hard', 'p_hard', 8]] as const) {
  test(`InfoNCE ${name} (${n} targets for 4 queries): loss and gradients = PyTorch (float64 reference; |Δ| ≤ 1e-5, observed ≤ 1e-6)`, async () => {
    const t = await readStepTensors('infonce.safetensors');
    const q = fromArray(need(t, 'q'), [4, 8]);
    const p = fromArray(need(t, targets), [n, 8]);
    const f = valueAndGrad((qq: Tensor, pp: Tensor) => infoNCE(l2Normalize(qq), l2Normalize(pp), { temperature: 0.05 }), { argnums: [0, 1] });
    const [loss, [dq, dp]] = f(q, p) as unknown as [Tensor, [Tensor, Tensor]];
    await realize([loss, dq, dp]);
    const want = need(t, `${name}.loss`)[0]!;
    const got = (await loss.item());
    assert.ok(Math.abs(got - want) <= 1e-5, `loss ${got} vs ${want}`);
    assert.ok(want > 0.05, 'a loss far from 0, so a wrong target index shows');
    const eq = maxAbsDiff((await dq.data()) as Float32Array, need(t, `${name}.dq`));
    const ep = maxAbsDiff((await dp.data()) as Float32Array, need(t, `${name}.dp`));
    assert.ok(eq <= 1e-5 && ep <= 1e-5, `dq ${eq}, dp ${ep}`);
  });
}

test('InfoNCE with hard negatives: query i is scored against target 2i, not i (the grouping matters)', async () => {
  const t = await readStepTensors('infonce.safetensors');
  // Re-grouping the targets as [pos_0..3, neg_0..3] changes the loss: the index is i·(Nt/Nq).
  const hard = need(t, 'p_hard');
  const regrouped = new Float32Array(64);
  for (let i = 0; i < 4; i++) {
    regrouped.set(hard.subarray(16 * i, 16 * i + 8), 8 * i);
    regrouped.set(hard.subarray(16 * i + 8, 16 * i + 16), 32 + 8 * i);
  }
  const q = l2Normalize(fromArray(need(t, 'q'), [4, 8]));
  const a = await infoNCE(q, l2Normalize(fromArray(regrouped, [8, 8])), { temperature: 0.05 }).item();
  assert.ok(Math.abs(a - need(t, 'hard.loss')[0]!) > 0.1, `regrouped targets give ${a}`);
});

test('InfoNCE refuses a target count that is not a multiple of the queries, and a bad temperature', () => {
  assert.throws(() => infoNCE(zeros([4, 8]), zeros([6, 8]), { temperature: 0.02 }), (e: unknown) => e instanceof Vlm2VecError && /6 target reps.*4 queries/.test(e.message));
  assert.throws(() => infoNCE(zeros([4, 8]), zeros([4, 8]), { temperature: 0 }), /temperature must be > 0/);
  assert.throws(() => infoNCE(zeros([4, 8]), zeros([4, 6]), { temperature: 0.02 }), /\[4,8\] and \[4,6\]/);
});
