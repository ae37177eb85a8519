// LocalEmbedder with `dtype: 'float16'`: the option reaches the model (matrices held in float16),
// is part of the cache identity, and a bad value is a clear error before anything loads. tiny-a
// is a bf16 checkpoint, as real ones ship: bf16 weights in float16's normal range are exact in
// float16, so the float16 path must match the float32 reference at the float32 tolerance.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { configureRuntime } from '../tensor/index.ts';
import { compareRows, FIXTURES, goldenCase, goldenF32, TOKENIZER_DIR } from '../models/qwen2-vl/fixtures.test-helper.ts';
import { LocalEmbedder } from './local.ts';

configureRuntime({ threads: 1 });

test('dtype float16: float16 weights, own cache identity, bf16 checkpoint embeddings unchanged', async () => {
  const emb = await LocalEmbedder.load(join(FIXTURES, 'tiny-a'), { tokenizerDir: TOKENIZER_DIR, dtype: 'float16' });
  const e32 = await LocalEmbedder.load(join(FIXTURES, 'tiny-a'), { tokenizerDir: TOKENIZER_DIR });
  assert.equal(emb.encoder.dtype, 'float16');
  assert.equal(e32.encoder.dtype, 'float32');
  assert.equal(emb.id, `${e32.id}+dtype:float16`);
  assert.equal(emb.encoder.hostWeightsReleased, true, 'host weights released by default, as with float32');
  const c = goldenCase('a_text');
  const got = await emb.embed(c.items.map((it) => ({ text: it.text })));
  const want = goldenF32(c, 'embedding');
  const r = compareRows(Float32Array.from(got.flatMap((v) => [...v])), want, emb.dim);
  assert.ok(r.minCos >= 0.99999 && r.maxAbs <= 1e-4, `a_text float16: cos ${r.minCos}, max|Δ| ${r.maxAbs}`);
});

test('a bad dtype is rejected before the model is resolved', async () => {
  await assert.rejects(LocalEmbedder.load('/nonexistent/model', { dtype: 'half' as never }),
    /LocalEmbedderOptions\.dtype must be one of 'float32', 'float16', 'int8', 'q4', 'q4-128', got "half" \(did you mean 'float16'\?\)/);
});
