// End to end: the real `vlm2vec eval --model <local folder>` (bin/vlm2vec.js, spawned) runs MMEB-V2
// with the local Qwen2-VL embedder (tiny random fixture model + the real Qwen tokenizer) on EVERY
// fixture task (7 image, 14 video, 2 visdoc; WebQA's text-only queries keep an <|image_pad|>).
// Checked: reference-layout result files with metrics in [0, 1]; the same scores and predictions
// as an eval whose embedder is LocalEmbedder called directly, one item per forward pass and no
// cache; every vector the run cached equals LocalEmbedder called directly on the same formatted
// items (LocalEmbedder itself is checked against transformers in src/embed/local.test.ts), under
// the cache key of the model identity; a second run over the same cache embeds nothing.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddingCache } from '../../src/embed/cache.ts';
import { FileHasher } from '../../src/embed/hash.ts';
import { LocalEmbedder } from '../../src/embed/local.ts';
import type { EmbedItem } from '../../src/embed/types.ts';
import { runEval } from '../../src/mmeb/run/eval.ts';
import { loadTask } from '../../src/mmeb/load/index.ts';
import { fixtureCopy } from '../../src/mmeb/load/fixtures.test-helper.ts';
import { getTask } from '../../src/mmeb/tasks/registry.ts';
import { METRIC_KEYS } from '../../src/mmeb/tasks/types.ts';
import { configureRuntime } from '../../src/tensor/index.ts';
import { runCli, ROOT } from './cli-run.ts';

configureRuntime({ threads: 1 });

// Every task of test/fixtures/mmeb (its README lists them).
const FIXTURE_TASKS: Record<string, string[]> = {
  image: ['ImageNet-1K', 'OK-VQA', 'MSCOCO_i2t', 'VisDial', 'WebQA', 'CIRR', 'RefCOCO-Matching'],
  video: ['Breakfast', 'SmthSmthV2', 'MSR-VTT', 'MSVD', 'DiDeMo', 'YouCook2', 'VATEX', 'QVHighlight', 'MomentSeeker',
    'Video-MME', 'NExTQA', 'EgoSchema', 'MVBench', 'ActivityNetQA'],
  visdoc: ['ViDoRe_arxivqa', 'VisRAG_ChartQA'],
};
const TASKS: [string, string][] = Object.entries(FIXTURE_TASKS).flatMap(([mod, names]) => names.map((n): [string, string] => [mod, n]));
let work: string;
let data: string;
let model: string;

before(() => {
  work = mkdtempSync(join(tmpdir(), 'v2v-e2e-local-'));
  data = fixtureCopy();
  // The tiny fixture model carries its tokenizer.json, so --model alone finds everything, as with a
  // real checkpoint.
  model = join(work, 'tiny-model');
  cpSync(join(ROOT, 'test', 'fixtures', 'model', 'tiny-a'), model, { recursive: true });
});
after(() => {
  rmSync(work, { recursive: true, force: true });
  rmSync(data, { recursive: true, force: true });
});

const evalArgs = (out: string) => [
  'eval', '--model', model, '--benchmark', 'mmeb-v2', '--tasks', TASKS.map((t) => t[1]).join(','),
  '--data', data, '--out', out, '--cache-dir', join(work, 'cache'), '--threads', '1', '--batch-size', '4',
];

test('eval --model <local folder> writes results from the local model and caches its real embeddings', async () => {
  const out = join(work, 'out1');
  const r = await runCli(evalArgs(out));
  assert.equal(r.code, 0, r.stderr);
  const id = /model (\S+) \(local\)/.exec(r.stderr)?.[1];
  assert.ok(id && id.startsWith('qwen2_vl:local:'), `local model id in ${r.stderr}`);
  for (const [mod, task] of TASKS) {
    assert.ok(existsSync(join(out, mod, `${task}_pred.jsonl`)), `${task}_pred.jsonl`);
    const s = JSON.parse(readFileSync(join(out, mod, `${task}_score.json`), 'utf8')) as Record<string, number>;
    // ImageNet-1K's fixture lists the label twice among a query's candidates; the reference counts
    // both hits, so its ndcg/map/recall/f1 may exceed 1 there (see test/e2e/eval.test.ts).
    const bounded = task === 'ImageNet-1K' ? METRIC_KEYS.filter((k) => /^(hit|precision|mrr)@/.test(k)) : METRIC_KEYS;
    for (const k of METRIC_KEYS) assert.ok(s[k]! >= 0 && Number.isFinite(s[k]), `${task} ${k} = ${s[k]}`);
    for (const k of bounded) assert.ok(s[k]! <= 1, `${task} ${k} = ${s[k]}`);
    assert.ok(s.num_pred! > 0 && s.num_pred === s.num_data, `${task} counts`);
  }
  assert.ok(existsSync(join(out, 'summary.json')));
  assert.doesNotMatch(r.stderr, /failed/, 'no task failed');

  // The same eval with LocalEmbedder called directly: every item alone (no padding, no batch
  // mates), no cache. Same scores and predictions, task by task.
  const direct = await LocalEmbedder.load(model, { batchSize: 1 });
  assert.equal(direct.id, id, 'the CLI and the library derive the same model identity');
  const ref = join(work, 'direct');
  const res = await runEval({
    embedder: direct, benchmark: 'mmeb-v2', tasks: TASKS.map((t) => t[1]), dataDir: data, outDir: ref, cacheDir: null, batchSize: 1, concurrency: 1,
  });
  assert.deepEqual(res.tasks.map((t) => t.status), TASKS.map(() => 'done'));
  for (const [mod, task] of TASKS) {
    const read = (dir: string, suffix: string): string => readFileSync(join(dir, mod, `${task}${suffix}`), 'utf8');
    assert.deepEqual(JSON.parse(read(out, '_score.json')), JSON.parse(read(ref, '_score.json')), `${task} scores`);
    assert.equal(read(out, '_pred.jsonl'), read(ref, '_pred.jsonl'), `${task} predictions`);
  }

  // The same items, formatted by the loaders as the harness does, embedded here directly.
  const items = new Map<string, EmbedItem>();
  for (const [, name] of TASKS) {
    const t = await loadTask(getTask(name), { dataDir: data, style: 'qwen2_vl' });
    for (const q of t.queries) {
      items.set(JSON.stringify(q.item), q.item);
      for (const c of q.candidates) items.set(JSON.stringify(c.item), c.item);
    }
    for (const c of t.corpus) items.set(JSON.stringify(c.item), c.item);
  }
  const list = [...items.values()];
  assert.ok(list.some((i) => i.images?.length) && list.some((i) => i.video?.length) && list.some((i) => !i.images && !i.video), 'image, video and text items');
  assert.ok(list.some((i) => !i.images && !i.video && i.text.includes('<|image_pad|>')), 'a text-only item keeping <|image_pad|> (WebQA)');
  const want = await direct.embed(list);
  const cache = await EmbeddingCache.open(join(work, 'cache'));
  try {
    const hasher = new FileHasher();
    let worst = 0;
    const keys = new Set<string>();
    for (const [i, it] of list.entries()) {
      const key = await hasher.itemKey(id, it);
      keys.add(key.toString('hex'));
      const got = cache.get(key);
      assert.ok(got, `item ${i} (${it.text.slice(0, 40)}…) is cached under the model's key`);
      assert.equal(got.length, 24, 'hidden size of tiny-a');
      for (let j = 0; j < got.length; j++) worst = Math.max(worst, Math.abs(got[j]! - want[i]![j]!));
    }
    // Batches differ (padding), so allow float32 noise but nothing more.
    assert.ok(worst <= 1e-5, `cached vs direct embeddings differ by ${worst}`);
    // Items of different tasks may share a key (same text and media bytes under other paths).
    assert.equal(cache.size, keys.size, 'one cached vector per distinct item key, nothing else');
  } finally {
    cache.close();
  }
});

test('a second run over the same cache (new output folder) embeds nothing', async () => {
  const r = await runCli(evalArgs(join(work, 'out2')));
  assert.equal(r.code, 0, r.stderr);
  const done = [...r.stderr.matchAll(/\((\d+) embedded, (\d+) from cache/g)];
  assert.equal(done.length, TASKS.length, r.stderr);
  for (const m of done) {
    assert.equal(m[1], '0', r.stderr);
    assert.ok(Number(m[2]) > 0);
  }
  for (const [mod, task] of TASKS) {
    assert.equal(readFileSync(join(work, 'out2', mod, `${task}_pred.jsonl`), 'utf8'), readFileSync(join(work, 'out1', mod, `${task}_pred.jsonl`), 'utf8'));
  }
});

test('eval with a missing local model folder or endpoint-only flags fails with a clear message', async () => {
  const r = await runCli(['eval', '--model', join(work, 'no-such-model'), '--tasks', 'ImageNet-1K', '--data', data, '--out', join(work, 'out3')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no-such-model does not exist/);
  const r2 = await runCli(['eval', '--model', 'http://127.0.0.1:9/v1', '--adapter', model, '--tasks', 'ImageNet-1K', '--data', data, '--out', join(work, 'out4')]);
  assert.equal(r2.code, 1);
  assert.match(r2.stderr, /--adapter applies to a local model, not to endpoint URLs/);
});
