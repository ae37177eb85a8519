// Adapters saved by our saveAdapter load in peft: tools/checkpoint-fixtures.ts wrote
// test/fixtures/train/checkpoint/adapter-{dora,lora}/ and tools/reference/peft_roundtrip.py loaded
// them with peft 0.21's PeftModel.from_pretrained onto tiny-a (checking every tensor landed) and
// recorded the unmerged peft model's embeddings. Here: today's saveAdapter still writes those exact
// files, and our LocalEmbedder with each adapter gives peft's embeddings.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OUT_DIR, writeFixtureAdapters } from '../../../tools/checkpoint-fixtures.ts';
import { compareRows, FIXTURES, goldenCase, TOKENIZER_DIR } from '../../models/qwen2-vl/fixtures.test-helper.ts';
import { LocalEmbedder } from '../../embed/local.ts';
import { configureRuntime } from '../../tensor/index.ts';

configureRuntime({ threads: 1 });

interface PeftRecord {
  case: string;
  tensors: number;
  shape: [number, number];
  embedding: number[];
}
const golden = JSON.parse(readFileSync(join(OUT_DIR, 'peft-embeddings.json'), 'utf8')) as { adapters: Record<string, PeftRecord> };

test('saveAdapter still writes the files peft was checked on', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vlm2vec-peft-rt-'));
  try {
    await writeFixtureAdapters(dir);
    for (const name of ['adapter-dora', 'adapter-lora']) {
      for (const f of await readdir(join(OUT_DIR, name))) {
        assert.ok((await readFile(join(dir, name, f))).equals(await readFile(join(OUT_DIR, name, f))), `${name}/${f}`);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

for (const name of ['adapter-dora', 'adapter-lora']) {
  test(`${name}: LocalEmbedder with our saved adapter gives peft's embeddings`, async () => {
    const rec = golden.adapters[name]!;
    assert.equal(rec.tensors, name === 'adapter-dora' ? 24 : 12);
    const emb = await LocalEmbedder.load(join(FIXTURES, 'tiny-a'), { adapter: join(OUT_DIR, name), tokenizerDir: TOKENIZER_DIR });
    const c = goldenCase(rec.case);
    const items = c.items.map((it) => ({
      text: it.text,
      ...(it.images ? { images: it.images.map((p) => join(FIXTURES, p)) } : {}),
      ...(it.video ? { video: it.video.map((p) => join(FIXTURES, p)) } : {}),
    }));
    const got = await emb.embed(items);
    assert.deepEqual([got.length, emb.dim], rec.shape);
    const flat = new Float32Array(got.length * emb.dim);
    got.forEach((g, i) => flat.set(g, i * emb.dim));
    const r = compareRows(flat, Float32Array.from(rec.embedding), emb.dim);
    assert.ok(r.minCos >= 0.99999 && r.maxAbs <= 1e-4, `${name}: cos ${r.minCos}, max|Δ| ${r.maxAbs}`);
  });
}
