// LocalEmbedder with a quantized dtype: the option reaches the model, each dtype (and q4's block
// size) is its own cache identity, and embeddings stay near float32 (tiny-a: bf16 random weights;
// the tolerances are src/models/qwen2-vl/quantized.test.ts's, docs/quantization.md says why).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { configureRuntime } from '../tensor/index.ts';
import { compareRows, FIXTURES, goldenCase, goldenF32, TOKENIZER_DIR } from '../models/qwen2-vl/fixtures.test-helper.ts';
import { LocalEmbedder } from './local.ts';

configureRuntime({ threads: 1 });

test('dtype int8 / q4 / q4-128: quantized encoder, own cache identities, embeddings near float32', async () => {
  const e32 = await LocalEmbedder.load(join(FIXTURES, 'tiny-a'), { tokenizerDir: TOKENIZER_DIR });
  const c = goldenCase('a_text');
  const want = goldenF32(c, 'embedding');
  const ids = new Set([e32.id]);
  for (const [dtype, cos] of [['int8', 0.999], ['q4', 0.95], ['q4-128', 0.95]] as const) {
    const emb = await LocalEmbedder.load(join(FIXTURES, 'tiny-a'), { tokenizerDir: TOKENIZER_DIR, dtype });
    assert.equal(emb.encoder.dtype, dtype);
    assert.equal(emb.id, `${e32.id}+dtype:${dtype}+quant:r2`, "quantized ids carry the quantization revision (2: token tables quantized), so caches never mix revisions");
    ids.add(emb.id);
    const got = await emb.embed(c.items.map((it) => ({ text: it.text })));
    const r = compareRows(Float32Array.from(got.flatMap((v) => [...v])), want, emb.dim);
    assert.ok(r.minCos >= cos && r.maxAbs > 1e-5, `a_text ${dtype}: cos ${r.minCos} (≥ ${cos}), max|Δ| ${r.maxAbs} (> 0: quantized)`);
    // One item alone and inside a batch: the same vector (int8 quantizes each row on its own).
    const [alone] = await emb.embed([{ text: c.items[0]!.text }]);
    assert.deepEqual(alone, got[0]);
    await emb.close();
  }
  assert.equal(ids.size, 4);
});
