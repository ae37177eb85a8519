// End to end: `vlm2vec eval --model http://127.0.0.1:PORT/v1` against `vlm2vec serve`'s server
// (tiny fixture model) gives the scores and predictions of an eval with LocalEmbedder called
// directly, on image (with WebQA's text-only queries keeping <|image_pad|>), video and visdoc
// fixture tasks: the server's decode → batch → model thread → encode path changes nothing.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalEmbedder } from '../../src/embed/local.ts';
import { runEval } from '../../src/mmeb/run/eval.ts';
import { fixtureCopy } from '../../src/mmeb/load/fixtures.test-helper.ts';
import { startServer, type ServeHandle } from '../../src/serve/server.ts';
import { configureRuntime } from '../../src/tensor/index.ts';
import { runCli, ROOT } from './cli-run.ts';

configureRuntime({ threads: 1 });

const TASKS: [string, string][] = [['image', 'MSCOCO_i2t'], ['image', 'WebQA'], ['video', 'MSR-VTT'], ['visdoc', 'VisRAG_ChartQA']];
const MODEL = join(ROOT, 'test', 'fixtures', 'model', 'tiny-a');
let work: string;
let data: string;
let srv: ServeHandle;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'v2v-e2e-serve-'));
  data = fixtureCopy();
  // Small batches and a queue that never refuses: the eval's 4 concurrent requests batch together.
  srv = await startServer({ model: MODEL, port: 0, threads: 1, batchSize: 4 });
  await srv.ready;
});
after(async () => {
  await srv.close();
  rmSync(work, { recursive: true, force: true });
  rmSync(data, { recursive: true, force: true });
});

test('eval through serve equals the eval with LocalEmbedder called directly', async () => {
  const out = join(work, 'served');
  const r = await runCli(['eval', '--model', `${srv.url}/v1`, '--benchmark', 'mmeb-v2', '--tasks', TASKS.map((t) => t[1]).join(','),
    '--data', data, '--out', out, '--no-cache', '--batch-size', '8', '--concurrency', '4']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`via ${srv.url}/v1`));
  assert.doesNotMatch(r.stderr, /failed|retry/, r.stderr);
  assert.ok(srv.metrics.embeddings > 0, 'the server embedded the items');

  const direct = await LocalEmbedder.load(MODEL, { batchSize: 1 });
  const ref = join(work, 'direct');
  try {
    const res = await runEval({
      embedder: direct, benchmark: 'mmeb-v2', tasks: TASKS.map((t) => t[1]), dataDir: data, outDir: ref, cacheDir: null, batchSize: 1, concurrency: 1,
    });
    assert.deepEqual(res.tasks.map((t) => t.status), TASKS.map(() => 'done'));
  } finally {
    await direct.close();
  }
  for (const [mod, task] of TASKS) {
    const read = (dir: string, suffix: string): string => readFileSync(join(dir, mod, `${task}${suffix}`), 'utf8');
    assert.deepEqual(JSON.parse(read(out, '_score.json')), JSON.parse(read(ref, '_score.json')), `${task} scores`);
    assert.equal(read(out, '_pred.jsonl'), read(ref, '_pred.jsonl'), `${task} predictions`);
  }
});
