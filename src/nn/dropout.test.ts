// LoRA dropout masks (dropout.ts) against the spec as tools/reference/train_step.py implements it
// again in numpy (test/fixtures/train/step/dropout.json, the masks it fed to peft), plus what the
// keying promises: a chunk's rows have the whole batch's masks, and the drop rate is p.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readStepJson } from '../train/fixtures.test-helper.ts';
import { dropoutKeepMask, dropoutKey, rowKeyedDropout } from './dropout.ts';

interface Sample { p: number; seed: number; step: number; side: number; module: string; first_row: number; shape: number[]; keep: number[] }

test('keep masks = the numpy implementation of the spec (rank 3 per batch row, rank 2 per chunk, a seed over 2^32)', async () => {
  const { samples } = await readStepJson<{ samples: Sample[] }>('dropout.json');
  assert.equal(samples.length, 4);
  for (const s of samples) {
    const d = rowKeyedDropout(s.p, { seed: s.seed, step: s.step, side: s.side, module: s.module }, s.first_row);
    const got = Array.from((await d.keepMask(s.shape).data()) as Uint8Array);
    assert.deepEqual(got, s.keep, `${s.module} seed ${s.seed} step ${s.step} shape [${s.shape}]`);
  }
  // Samples 0 and 1: row 2 of a 3-row batch = row 0 of the chunk that starts at row 2.
  const [whole, chunk] = samples;
  assert.deepEqual(whole!.keep.slice(2 * 5 * 16), chunk!.keep);
  assert.ok(whole!.keep.includes(0) && whole!.keep.includes(1));
});

test('drop rate ≈ p; masks differ by step, side, module and seed', () => {
  const n = 200_000;
  for (const p of [0.1, 0.5]) {
    const keep = dropoutKeepMask(dropoutKey({ seed: 42, step: 0, side: 0, module: 'm' }), p, 0, 1000, n / 1000);
    const dropped = keep.reduce((a, k) => a + (k === 0 ? 1 : 0), 0) / n;
    // 5 standard deviations of a binomial proportion.
    assert.ok(Math.abs(dropped - p) < 5 * Math.sqrt((p * (1 - p)) / n), `p ${p}: dropped ${dropped}`);
  }
  const base = { seed: 42, step: 0, side: 0, module: 'model.layers.0.self_attn.q_proj' };
  const keys = [base, { ...base, step: 1 }, { ...base, side: 1 }, { ...base, module: 'model.layers.0.self_attn.v_proj' }, { ...base, seed: 43 }].map((s) => dropoutKey(s));
  assert.equal(new Set(keys).size, keys.length);
  assert.throws(() => dropoutKeepMask(1, 1, 0, 1, 1), /dropout probability 1 must be in \[0, 1\)/);
});
