// The model the package ships (assets/model) and the mini benchmark it ships with (assets/mini):
//   - transformers reads the folder too: our embeddings of a few items equal those of
//     transformers' Qwen2VLForConditionalGeneration (tools/reference/shipped_model.py →
//     test/fixtures/shipped-model/embeddings.json), cosine ≥ 0.99999;
//   - its mini scores on assets/mini are the recorded ones (docs/open-data/shipped-model.json,
//     written when the model was trained) within 1 point per task, and Fashion-MNIST
//     classification is far above chance (the other tasks are not: docs/open-data.md);
//   - the folder is small (≤ 30 MB) and holds float16 weights.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalEmbedder } from '../../src/embed/local.ts';
import { SafetensorsFile } from '../../src/io/weights/safetensors.ts';
import { runEval } from '../../src/mmeb/run/eval.ts';
import { MINI_TASK_NAMES } from '../../src/mmeb/tasks/registry-mini.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const MODEL = join(ROOT, 'assets', 'model');
const MINI = join(ROOT, 'assets', 'mini');
const pre = JSON.parse(readFileSync(join(MODEL, 'preprocessor_config.json'), 'utf8')) as { min_pixels: number; max_pixels: number };
const load = (): Promise<LocalEmbedder> => LocalEmbedder.load(MODEL, { minPixels: pre.min_pixels, maxPixels: pre.max_pixels, threads: 1 });

interface Record_ {
  scores: Record<string, { metric: string; model: number; chance: number; baseline: number; goal?: number }>;
}
const record = JSON.parse(readFileSync(join(ROOT, 'docs', 'open-data', 'shipped-model.json'), 'utf8')) as Record_;

test('assets/model: float16 safetensors, the whole folder ≤ 30 MB', async () => {
  const bytes = readdirSync(MODEL).reduce((n, f) => n + statSync(join(MODEL, f)).size, 0);
  assert.ok(bytes <= 30e6, `${bytes} bytes`);
  const f = await SafetensorsFile.open(join(MODEL, 'model.safetensors'));
  try {
    assert.deepEqual([...new Set(f.names().map((n) => f.info(n).dtype))], ['F16']);
  } finally {
    await f.close();
  }
});

test('our embeddings of assets/model equal transformers\' (cosine ≥ 0.99999)', async () => {
  const ref = (JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'shipped-model', 'embeddings.json'), 'utf8')) as {
    items: { text: string; images?: string[]; embedding: number[] }[];
  }).items;
  const emb = await load();
  try {
    const got = await emb.embed(ref.map((r) => (r.images ? { text: r.text, images: r.images.map((p) => join(MINI, p)) } : { text: r.text })));
    for (const [i, r] of ref.entries()) {
      assert.equal(got[i]!.length, r.embedding.length);
      const cos = r.embedding.reduce((s, x, d) => s + x * got[i]![d]!, 0);
      assert.ok(cos >= 0.99999, `item ${i} (${r.text.slice(0, 40)}…): cosine ${cos}`);
    }
    // Different inputs give different embeddings (a constant model would pass the check above).
    const c01 = ref[0]!.embedding.reduce((s, x, d) => s + x * ref[1]!.embedding[d]!, 0);
    assert.ok(c01 < 0.99, `items 0 and 1: cosine ${c01}`);
  } finally {
    await emb.close();
  }
});

test('the mini scores of assets/model on assets/mini are the recorded ones; classification is far above chance', { timeout: 900_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'v2v-shipped-mini-'));
  const emb = await load();
  try {
    const r = await runEval({ embedder: emb, benchmark: 'mini', dataDir: MINI, outDir: out, cacheDir: null, batchSize: 16, concurrency: 1, onWarning: () => {} });
    assert.deepEqual(r.tasks.map((t) => [t.task.name, t.status]), MINI_TASK_NAMES.map((n) => [n, 'done']));
    for (const t of r.tasks) {
      const want = record.scores[t.task.name]!;
      const got = t.scores![want.metric]!;
      // 1 point: float noise between CPUs can flip a near-tie or two, never more.
      assert.ok(Math.abs(got - want.model) <= 0.01, `${t.task.name} ${want.metric}: ${got}, recorded ${want.model}`);
    }
    // Of the goals (docs/open-data.md), only classification is far above chance; the retrieval
    // and page tasks stayed near chance (recorded above, and said so in the docs and model card).
    const fashion = r.tasks.find((t) => t.task.name === 'Mini-FashionMNIST')!.scores!['hit@1']!;
    assert.ok(fashion >= 4 * record.scores['Mini-FashionMNIST']!.chance, `Mini-FashionMNIST hit@1 ${fashion}`);
  } finally {
    await emb.close();
    rmSync(out, { recursive: true, force: true });
  }
});
