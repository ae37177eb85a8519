// End to end: the real `vlm2vec eval` (bin/vlm2vec.js, spawned) against deterministic embedding
// servers on loopback, over a 7-task fixture benchmark (image, video, visdoc) built from
// test/fixtures/mmeb/data. The servers embed with designed vectors (designed.ts) so every metric
// below is computed by hand from the chosen rankings. Also: a kill -9 mid-run and a resume that
// gives identical files without re-requesting finished items, an endpoint dying mid-run, and the
// vLLM protocol.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbedServer, type EmbedServer, type EmbedServerOptions } from './embed-server.ts';
import { designedEmbedder, DIM, QUERIES } from './designed.ts';
import { copyFixtureData, runCli } from './cli-run.ts';

const TASKS = ['ImageNet-1K', 'OK-VQA', 'SmthSmthV2', 'Breakfast', 'NExTQA', 'ViDoRe_arxivqa', 'VisRAG_ChartQA'];
const FILES: [string, string][] = [
  ['image', 'ImageNet-1K'], ['image', 'OK-VQA'], ['video', 'SmthSmthV2'], ['video', 'Breakfast'], ['video', 'NExTQA'],
  ['visdoc', 'ViDoRe_arxivqa'], ['visdoc', 'VisRAG_ChartQA'],
];

let work: string;
let data: string;
const servers: EmbedServer[] = [];
let design: ReturnType<typeof designedEmbedder>;

before(() => {
  work = mkdtempSync(join(tmpdir(), 'v2v-e2e-'));
  data = copyFixtureData(join(work, 'data'));
  design = designedEmbedder(data);
});
after(async () => {
  for (const s of servers) await s.close();
  rmSync(work, { recursive: true, force: true });
});

async function server(opts: EmbedServerOptions = {}): Promise<EmbedServer> {
  const s = await startEmbedServer({ dim: DIM, embed: design.embed, ...opts });
  servers.push(s);
  return s;
}

const evalArgs = (model: string, out: string, extra: string[] = []) =>
  ['eval', '--model', model, '--benchmark', 'mmeb-v2', '--tasks', TASKS.join(','), '--data', data, '--out', out, ...extra];
const read = (out: string, mod: string, task: string, kind: 'score.json' | 'pred.jsonl') =>
  readFileSync(join(out, mod, `${task}_${kind}`), 'utf8');
const scores = (out: string, mod: string, task: string) => JSON.parse(read(out, mod, task, 'score.json')) as Record<string, number | string>;
const digests = (reqs: EmbedServer['requests']) => reqs.flatMap((r) => r.items.map((i) => i.digest));

const L3 = Math.log2(3);
const L5 = Math.log2(5);
function close(actual: unknown, expected: number, what: string): void {
  assert.equal(typeof actual, 'number', what);
  assert.ok(Math.abs((actual as number) - expected) < 1e-12, `${what}: ${actual} ≠ ${expected}`);
}

let outA: string;
let allDigests: string[];

test('eval writes reference-format results whose metrics follow from the designed rankings', async () => {
  const s = await server();
  outA = join(work, 'outA');
  const r = await runCli(evalArgs(s.url, outA, ['--batch-size', '1', '--concurrency', '1']));
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual([...design.seenQueries].sort(), QUERIES.map((q) => q[0]).sort(), 'every designed query reached the server');
  allDigests = digests(s.requests);
  assert.equal(new Set(allDigests).size, allDigests.length, 'no item requested twice');
  // 2+2 ImageNet, 1+3 OK-VQA, 1+3 SSv2, 2+10 Breakfast, 1+5 NExTQA, 3+4 ViDoRe, 2+2 VisRAG.
  assert.equal(allDigests.length, 41);

  // ImageNet-1K: q0 [tench, tench, goldfish] label tench; q1 [tench, goldfish] label goldfish.
  const inet = scores(outA, 'image', 'ImageNet-1K');
  close(inet['hit@1'], 0.5, 'ImageNet hit@1');
  close(inet['hit@5'], 1, 'ImageNet hit@5');
  close(inet['precision@5'], 0.2, 'ImageNet precision@5');
  close(inet['mrr@5'], 0.75, 'ImageNet mrr@5');
  close(inet['map@5'], (2 + 0.5) / 2, 'ImageNet map@5 (duplicate counted twice)');
  close(inet['ndcg_linear@5'], (1 + 1 / L3 + 1 / L3) / 2, 'ImageNet ndcg_linear@5');
  assert.equal(inet.num_pred, 2);
  assert.equal(inet.num_data, 2);
  assert.equal(read(outA, 'image', 'ImageNet-1K', 'pred.jsonl'),
    '{"prediction": ["tench", "tench", "goldfish"], "label": ["tench"], "rel_scores": null}\n' +
    '{"prediction": ["tench", "goldfish"], "label": ["goldfish"], "rel_scores": null}\n');
  // OK-VQA: [bat, umbrella, phone], label umbrella.
  const ok = scores(outA, 'image', 'OK-VQA');
  close(ok['hit@1'], 0, 'OK-VQA hit@1');
  close(ok['mrr@5'], 0.5, 'OK-VQA mrr@5');
  close(ok['ndcg_exponential@5'], 1 / L3, 'OK-VQA ndcg_exponential@5');
  close(ok['f1@5'], (2 * 0.2 * 1) / 1.2, 'OK-VQA f1@5');
  // SSv2: [Closing, Holding, Opening], label Opening.
  const ss = scores(outA, 'video', 'SmthSmthV2');
  close(ss['hit@1'], 0, 'SSv2 hit@1');
  close(ss['mrr@10'], 1 / 3, 'SSv2 mrr@10');
  close(ss['ndcg_linear@5'], 0.5, 'SSv2 ndcg_linear@5');
  // Breakfast (global, 10 labels): cereal first for both; coffee second for q1.
  const bf = scores(outA, 'video', 'Breakfast');
  close(bf['hit@1'], 0.5, 'Breakfast hit@1');
  close(bf['mrr@5'], 0.75, 'Breakfast mrr@5');
  close(bf['precision@10'], 0.1, 'Breakfast precision@10');
  close(bf['recall@5'], 1, 'Breakfast recall@5');
  // NExTQA: the answer ranked first.
  close(scores(outA, 'video', 'NExTQA')['hit@1'], 1, 'NExTQA hit@1');
  // ViDoRe (graded, reference pairing): q1's labels [12, 11] with grades [2, 1] are paired in
  // CPython set order [11, 12], so 11 gets grade 2 and 12 grade 1 (docs/mmeb.md §7 quirk).
  const vd = scores(outA, 'visdoc', 'ViDoRe_arxivqa');
  const q1lin = (1 + 2 / L3) / (2 + 1 / L3);
  const q1exp = (1 + 3 / L3) / (3 + 1 / L3);
  close(vd['ndcg_linear@5'], (1 / L3 + q1lin + 1 / L5) / 3, 'ViDoRe ndcg_linear@5');
  close(vd['ndcg_exponential@5'], (1 / L3 + q1exp + 1 / L5) / 3, 'ViDoRe ndcg_exponential@5');
  close(vd['hit@1'], 1 / 3, 'ViDoRe hit@1');
  close(vd['recall@1'], 1 / 6, 'ViDoRe recall@1');
  assert.equal(vd.graded_ndcg, 'reference');
  // The fixture's corpus-id is an int64 column: the reference's json.dumps writes Python ints.
  assert.equal(read(outA, 'visdoc', 'ViDoRe_arxivqa', 'pred.jsonl').split('\n')[1],
    '{"prediction": [12, 11, 10, 13], "label": [12, 11], "rel_scores": [2, 1]}');
  // VisRAG: chart then long for both queries.
  const vr = scores(outA, 'visdoc', 'VisRAG_ChartQA');
  close(vr['ndcg_linear@5'], (1 + 1 / L3) / 2, 'VisRAG ndcg_linear@5');
  // Score file layout: 24 metrics in reference order, then the counts, indent 4, Python floats.
  const text = read(outA, 'video', 'NExTQA', 'score.json');
  assert.match(text, /^\{\n {4}"hit@1": 1\.0,\n {4}"hit@5": 1\.0,\n/);
  assert.match(text, /\n {4}"mrr@10": 1\.0,\n {4}"num_pred": 1,\n {4}"num_data": 1\n\}$/);

  // Summary: headline means ×100 (hit@1 image/video, ndcg_linear@5 visdoc); partial groups flagged.
  const sum = JSON.parse(readFileSync(join(outA, 'summary.json'), 'utf8')) as {
    scores: Record<string, number>; partial: Record<string, { n: number; expected: number }>;
  };
  const vdH = (1 / L3 + q1lin + 1 / L5) / 3;
  const vrH = (1 + 1 / L3) / 2;
  close(sum.scores.image, 25, 'summary image');
  close(sum.scores.video, 50, 'summary video');
  close(sum.scores['video/CLS'], 25, 'summary video/CLS');
  close(sum.scores.visdoc, ((vdH + vrH) / 2) * 100, 'summary visdoc');
  close(sum.scores.all, ((0.5 + 0 + 0 + 0.5 + 1 + vdH + vrH) / 7) * 100, 'summary all');
  assert.deepEqual({ n: sum.partial.all!.n, expected: sum.partial.all!.expected }, { n: 7, expected: 78 });
  assert.match(r.stdout, /all\s+[\d.]+\s+\(partial: 7\/78 tasks\)/);
});

test('kill -9 mid-run, then rerun: identical files, nothing finished is requested again', async () => {
  assert.ok(outA, 'needs the first test');
  const K = 15; // request 15 falls inside Breakfast, the 4th task
  let child: ChildProcess | undefined;
  const s = await server({
    fault: (req) => {
      if (req.n !== K) return undefined;
      child!.kill('SIGKILL');
      return 'hang';
    },
  });
  const outB = join(work, 'outB');
  const args = evalArgs(s.url, outB, ['--batch-size', '1', '--concurrency', '1']);
  const killed = await runCli(args, (c) => (child = c));
  assert.equal(killed.signal, 'SIGKILL');
  assert.ok(existsSync(join(outB, 'video', 'SmthSmthV2_score.json')));
  assert.ok(!existsSync(join(outB, 'video', 'Breakfast_score.json')));
  const finishedBefore = digests(s.requests.slice(0, K - 1));

  const resumed = await runCli(args);
  assert.equal(resumed.code, 0, resumed.stderr);
  for (const t of ['ImageNet-1K', 'OK-VQA', 'SmthSmthV2']) assert.match(resumed.stderr, new RegExp(`${t}: already finished`));
  const after = digests(s.requests.slice(K));
  assert.deepEqual(after.filter((d) => finishedBefore.includes(d)), [], 'finished items were not requested again');
  assert.equal(after.length + finishedBefore.length, allDigests.length);
  assert.deepEqual([...after, ...finishedBefore].sort(), [...allDigests].sort());
  for (const [mod, task] of FILES) {
    assert.equal(read(outB, mod, task, 'score.json'), read(outA, mod, task, 'score.json'), `${task} score file`);
    assert.equal(read(outB, mod, task, 'pred.jsonl'), read(outA, mod, task, 'pred.jsonl'), `${task} pred file`);
  }
  assert.deepEqual(JSON.parse(readFileSync(join(outB, 'summary.json'), 'utf8')).scores,
    JSON.parse(readFileSync(join(outA, 'summary.json'), 'utf8')).scores);

  // A third run finds everything finished and asks for nothing.
  const before = s.requests.length;
  const again = await runCli(args);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(s.requests.length, before);
});

test('an endpoint that dies mid-run is dropped and the other one finishes the run', async () => {
  assert.ok(outA, 'needs the first test');
  const dying = await server({ fault: (req) => (req.n === 5 ? 'die' : undefined) });
  const healthy = await server();
  const outC = join(work, 'outC');
  const r = await runCli(evalArgs(`${dying.url},${healthy.url}`, outC, ['--batch-size', '2', '--concurrency', '2']));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`endpoint ${dying.url.replace(/[./]/g, '\\$&')} dropped`));
  assert.equal(dying.requests.length, 5);
  assert.ok(healthy.requests.length > 10);
  for (const [mod, task] of FILES) assert.equal(read(outC, mod, task, 'score.json'), read(outA, mod, task, 'score.json'), task);
});

test('vLLM chat protocol: one item per request, same scores on image and visdoc tasks', async () => {
  assert.ok(outA, 'needs the first test');
  const s = await server();
  const outD = join(work, 'outD');
  const tasks = ['ImageNet-1K', 'OK-VQA', 'ViDoRe_arxivqa', 'VisRAG_ChartQA'];
  const r = await runCli(['eval', '--model', s.url, '--protocol', 'vllm', '--model-name', 'served-model', '--tasks', tasks.join(','),
    '--data', data, '--out', outD, '--concurrency', '3']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(s.requests.every((q) => q.protocol === 'vllm' && q.items.length === 1 && q.model === 'served-model'));
  assert.equal(s.requests.length, 4 + 4 + 7 + 4);
  for (const [mod, task] of FILES.filter(([, t]) => tasks.includes(t))) {
    assert.equal(read(outD, mod, task, 'score.json'), read(outA, mod, task, 'score.json'), task);
  }
});

test('CLI: --help documents every option; a local model name gets a clear message', async () => {
  const help = await runCli(['eval', '--help']);
  assert.equal(help.code, 0);
  for (const opt of ['--model', '--model-name', '--protocol', '--benchmark', '--tasks', '--data', '--out', '--batch-size',
    '--concurrency', '--cache-dir', '--api-key', '--timeout', '--retries', '--no-cache', '--style', '--vidore-instructions', '--graded-ndcg', 'Examples:']) {
    assert.ok(help.stdout.includes(opt), `help mentions ${opt}`);
  }
  // A local model runs in-process now (test/e2e/eval-local.test.ts); a missing folder is named.
  // (Not a hub id here: with a network it would start a multi-GB download.)
  const local = await runCli(['eval', '--model', join(work, 'no-such-model'), '--data', data, '--out', join(work, 'outE')]);
  assert.equal(local.code, 1);
  assert.match(local.stderr, /model folder .*no-such-model does not exist/);
  const unknown = await runCli(['eval', '--model', 'http://127.0.0.1:9/v1', '--model-name', 'm', '--tasks', 'MSCOCO_t2', '--data', data, '--out', join(work, 'outE')]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /unknown task 'MSCOCO_t2': did you mean MSCOCO_t2i\?/);
});
