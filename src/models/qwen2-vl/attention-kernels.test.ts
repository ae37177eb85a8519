// Qwen2-VL with ORT's fused attention kernels (the default) against the same model on the
// composed attention (the reference), on the reference's mixed batches: text, image, video and
// multi-image rows, left- and right-padded, GQA with 2 and with 1 KV head. The vision tower runs
// per temporal slice under a segment mask (opset-23 Attention with a bias), the language model
// causal GQA with key padding. float32: every row within max|Δ| 1e-5.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { configureRuntime } from '../../tensor/index.ts';
import { compareRows, FIXTURES, goldenBatch, goldenCase } from './fixtures.test-helper.ts';
import { Qwen2VLModel } from './model.ts';

configureRuntime({ threads: 1 });

for (const [dir, cases] of [['tiny-a', ['a_mixed_left', 'a_mixed_right', 'a_multi3']], ['tiny-b', ['b_mixed_left']]] as const) {
  test(`${dir}: fused attention equals composed attention (${cases.join(', ')})`, async () => {
    const fused = await Qwen2VLModel.load(join(FIXTURES, dir));
    const composed = await Qwen2VLModel.load(join(FIXTURES, dir), { attention: 'composed' });
    assert.equal(fused.attention, 'fused', 'fused is the default');
    for (const name of cases) {
      const batch = goldenBatch(goldenCase(name));
      const a = await fused.encode(batch);
      const b = await composed.encode(batch);
      const h = compareRows(a.hidden, b.hidden, a.dim);
      const e = compareRows(a.embeddings, b.embeddings, a.dim);
      assert.ok(h.maxAbs <= 1e-5 && e.maxAbs <= 1e-5, `${name}: hidden max|Δ| ${h.maxAbs}, embedding ${e.maxAbs}`);
    }
  });
}
