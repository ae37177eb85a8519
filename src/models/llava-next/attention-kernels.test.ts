// LLaVA-NeXT with ORT's fused attention kernels (the default) against the same model on the
// composed attention (the reference): the CLIP tower through MultiHeadAttention, Mistral (4 heads
// on 2 KV heads, sliding window 40 in the fixture config, 8 in a variant so that it cuts) through
// opset-23 Attention, on the reference's left-padded mixed batch and a two-image prompt.
// float32: every row within max|Δ| 1e-5 (hidden states relative to their norm).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configureRuntime } from '../../tensor/index.ts';
import { goldenBatch, goldenCase, MODEL_DIR } from './fixtures.test-helper.ts';
import { LlavaNextModel } from './model.ts';

configureRuntime({ threads: 1 });

async function compare(dir: string, what: string): Promise<Float32Array> {
  const fused = await LlavaNextModel.load(dir);
  const composed = await LlavaNextModel.load(dir, { attention: 'composed' });
  assert.equal(fused.attention, 'fused', 'fused is the default');
  const d = fused.hiddenSize;
  let first: Float32Array | undefined;
  for (const name of ['mixed', 'two']) {
    const batch = goldenBatch(goldenCase(name), fused.config);
    const a = await fused.encode(batch);
    const b = await composed.encode(batch);
    first ??= a.embeddings;
    for (let r = 0; r < a.embeddings.length / d; r++) {
      const row = (x: Float32Array) => x.subarray(r * d, (r + 1) * d);
      const norm = Math.hypot(...row(b.hidden));
      const dh = Math.max(...row(a.hidden).map((x, j) => Math.abs(x - row(b.hidden)[j]!)));
      const de = Math.max(...row(a.embeddings).map((x, j) => Math.abs(x - row(b.embeddings)[j]!)));
      assert.ok(de <= 1e-5 && dh <= 1e-5 * norm, `${what} ${name} row ${r}: embedding max|Δ| ${de}, hidden ${dh} (norm ${norm})`);
    }
  }
  return first!;
}

test('LLaVA-NeXT: fused attention equals composed attention (left-padded mixed batch, two images)', async () => {
  await compare(MODEL_DIR, 'tiny-llava');
});

test('LLaVA-NeXT: the same with a sliding window of 8 tokens, which changes the embeddings', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'llava-window-'));
  try {
    await cp(MODEL_DIR, dir, { recursive: true });
    const cfg = JSON.parse(await readFile(join(MODEL_DIR, 'config.json'), 'utf8')) as { text_config: { sliding_window: number } };
    cfg.text_config.sliding_window = 8;
    await writeFile(join(dir, 'config.json'), JSON.stringify(cfg));
    const windowed = await compare(dir, 'window 8');
    const plain = await LlavaNextModel.load(MODEL_DIR);
    const full = await plain.encode(goldenBatch(goldenCase('mixed'), plain.config));
    assert.ok(Math.max(...windowed.map((x, j) => Math.abs(x - full.embeddings[j]!))) > 1e-3, 'the window of 8 cuts');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
