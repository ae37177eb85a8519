// A checkpoint folder is an adapter folder the rest of the toolkit loads: `LocalEmbedder.load(
// 'OUT/checkpoint-N')` finds the base through adapter_config.json's base_model_name_or_path (as
// `embed`, `eval` and `export` do) and embeds as peft does with the same adapter
// (test/fixtures/train/checkpoint/peft-embeddings.json, tools/reference/peft_roundtrip.py).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fixtureAdapters, OUT_DIR } from '../../tools/checkpoint-fixtures.ts';
import { compareRows, FIXTURES, goldenCase, TOKENIZER_DIR } from '../models/qwen2-vl/fixtures.test-helper.ts';
import { LocalEmbedder } from '../embed/local.ts';
import { configureRuntime } from '../tensor/index.ts';
import { findResumeCheckpoint, saveCheckpoint } from './checkpoint.ts';
import { demoContents } from './checkpoint.test-helper.ts';

configureRuntime({ threads: 1 });

test("OUT/checkpoint-N loads as base + adapter and embeds like peft's model", async () => {
  const out = await mkdtemp(join(tmpdir(), 'vlm2vec-ckpt-embed-'));
  try {
    const dora = (await fixtureAdapters()).find((a) => a.name === 'adapter-dora')!;
    const demo = demoContents(5, 4);
    await saveCheckpoint(out, 5, { ...demo, weights: { kind: 'adapter', config: { ...dora.config, baseModelNameOrPath: resolve(FIXTURES, 'tiny-a') }, tensors: dora.tensors } });
    const { checkpoint } = await findResumeCheckpoint(out, 'auto');
    const emb = await LocalEmbedder.load(checkpoint!.dir, { tokenizerDir: TOKENIZER_DIR });
    const rec = (JSON.parse(readFileSync(join(OUT_DIR, 'peft-embeddings.json'), 'utf8')) as { adapters: Record<string, { case: string; embedding: number[] }> }).adapters['adapter-dora']!;
    const c = goldenCase(rec.case);
    const got = await emb.embed(c.items.map((it) => ({
      text: it.text,
      ...(it.images ? { images: it.images.map((p) => join(FIXTURES, p)) } : {}),
      ...(it.video ? { video: it.video.map((p) => join(FIXTURES, p)) } : {}),
    })));
    const flat = new Float32Array(got.length * emb.dim);
    got.forEach((g, i) => flat.set(g, i * emb.dim));
    const r = compareRows(flat, Float32Array.from(rec.embedding), emb.dim);
    assert.ok(r.minCos >= 0.99999 && r.maxAbs <= 1e-4, `cos ${r.minCos}, max|Δ| ${r.maxAbs}`);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});
