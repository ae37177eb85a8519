// Qwen2VLModel.releaseHostWeights: after both ORT sessions are built the host copies of the
// weights are freed (every buffer detached), encoding still matches transformers 5.18 for text,
// image, video and mixed batches without building another session, and tracing/export refuses.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { configureRuntime, treeLeaves, type Tensor } from '../../tensor/index.ts';
import { compareRows, FIXTURES, goldenBatch, goldenCase, goldenF32 } from './fixtures.test-helper.ts';
import { Qwen2VLModel } from './model.ts';

configureRuntime({ threads: 1 });

test('released host weights: buffers freed, embeddings still match the reference, export refused', async () => {
  const m = await Qwen2VLModel.load(join(FIXTURES, 'tiny-a'));
  const leaves = treeLeaves(m.params) as Tensor[];
  const bytesBefore = leaves.reduce((n, t) => n + (t.value?.byteLength ?? 0), 0);
  assert.ok(bytesBefore > 100_000, `tiny-a weights hold ${bytesBefore} bytes`);
  await m.releaseHostWeights();
  assert.equal(m.hostWeightsReleased, true);
  assert.equal(m.sessionCount, 2, 'the warm-up built the vision and the text session');
  const bytesAfter = leaves.reduce((n, t) => n + (t.value?.byteLength ?? 0), 0);
  assert.equal(bytesAfter, 0, 'every weight buffer is detached');

  for (const name of ['a_mixed_left', 'a_text', 'a_video', 'a_multi3']) {
    const c = goldenCase(name);
    const out = await m.encode(goldenBatch(c));
    const e = compareRows(out.embeddings, goldenF32(c, 'embedding'), out.dim);
    assert.ok(e.minCos >= 0.99999 && e.maxAbs <= 1e-4, `${name}: cos ${e.minCos}, max|Δ| ${e.maxAbs}`);
  }
  assert.equal(m.sessionCount, 2, 'new batch / sequence / patch counts reuse the two sessions');
  assert.throws(() => m.graphs(), /host weights were released .*load the model again/);
  await m.releaseHostWeights(); // idempotent
});
