import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prepareEval, runEval, type EvalEvent } from './eval.ts';
import type { EmbedItem, Embedder } from '../../embed/types.ts';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
let work: string;
let data: string;
before(() => {
  work = mkdtempSync(join(tmpdir(), 'v2v-eval-'));
  data = join(work, 'data');
  cpSync(join(ROOT, 'test', 'fixtures', 'mmeb', 'data'), data, { recursive: true });
});
after(() => rmSync(work, { recursive: true, force: true }));

/** OK-VQA's candidates are 'umbrella', 'bat', 'phone'; the query (with an image) embeds like 'bat'. */
function embedder(calls: string[]): Embedder {
  const vec = (t: string) => Float32Array.from(['umbrella', 'bat', 'phone'].map((w) => (t === w ? 1 : 0)));
  return {
    id: 'fake',
    async embed(items: readonly EmbedItem[]) {
      calls.push(...items.map((i) => i.text));
      return items.map((i) => (i.images?.length ? vec('bat') : vec(i.text)));
    },
  };
}

test('a task with missing data fails alone; finished tasks are skipped on the next run', async () => {
  const out = join(work, 'out1');
  const calls: string[] = [];
  const events: EvalEvent[] = [];
  const r = await runEval({
    embedder: embedder(calls), benchmark: 'mmeb-v2', tasks: ['MSCOCO_t2i', 'OK-VQA'], dataDir: data, outDir: out,
    batchSize: 2, concurrency: 1, onProgress: (e) => events.push(e),
  });
  assert.deepEqual(r.tasks.map((t) => [t.task.name, t.status]), [['OK-VQA', 'done'], ['MSCOCO_t2i', 'failed']]);
  assert.match(r.tasks[1]!.error!, /MSCOCO_t2i/);
  assert.equal(calls.length, 4); // 1 query + 3 candidates
  const s = JSON.parse(readFileSync(join(out, 'image', 'OK-VQA_score.json'), 'utf8')) as Record<string, number>;
  assert.equal(s['hit@1'], 0); // 'bat' ranked first, label 'umbrella'
  assert.equal(s['mrr@5'], 0.5); // ties among the zero scores keep list order: umbrella second
  assert.ok(existsSync(r.summaryFile));
  assert.equal(r.summary.scores.image, 0);
  assert.deepEqual(r.summary.partial.image?.n, 1);
  assert.ok(events.some((e) => e.type === 'task-failed' && e.task === 'MSCOCO_t2i'));

  const again = await runEval({ embedder: embedder(calls), benchmark: 'mmeb-v2', tasks: ['OK-VQA'], dataDir: data, outDir: out });
  assert.equal(again.tasks[0]!.status, 'skipped');
  assert.equal(again.tasks[0]!.scores?.['hit@1'], 0);
  assert.equal(calls.length, 4);
});

test('an embedder failure stops the run and writes no score file for that task', async () => {
  const out = join(work, 'out2');
  const broken: Embedder = { id: 'broken', embed: async () => { throw new Error('GPU on fire'); } };
  await assert.rejects(runEval({ embedder: broken, benchmark: 'mmeb-v2', tasks: ['OK-VQA', 'ImageNet-1K'], dataDir: data, outDir: out }),
    /task ImageNet-1K: embedding failed: GPU on fire/);
  assert.ok(!existsSync(join(out, 'image', 'ImageNet-1K_score.json')));
  assert.ok(!existsSync(join(out, 'image', 'OK-VQA_score.json')));
});

test('a missing image fails its task only, naming the file', async () => {
  const data2 = join(work, 'data2');
  cpSync(data, data2, { recursive: true });
  unlinkSync(join(data2, 'image-tasks', 'OK-VQA', 'img_1.jpg'));
  const calls: string[] = [];
  const r = await runEval({ embedder: embedder(calls), benchmark: 'mmeb-v2', tasks: ['OK-VQA', 'ImageNet-1K'], dataDir: data2, outDir: join(work, 'out3') });
  assert.deepEqual(r.tasks.map((t) => [t.task.name, t.status]), [['ImageNet-1K', 'done'], ['OK-VQA', 'failed']]);
  assert.match(r.tasks[1]!.error!, /OK-VQA.*img_1\.jpg|img_1\.jpg.*OK-VQA/s);
});

test('mmeb-v1: V1 groups in the summary; a video task is not part of it', async () => {
  const calls: string[] = [];
  const r = await runEval({ embedder: embedder(calls), benchmark: 'mmeb-v1', tasks: ['OK-VQA'], dataDir: data, outDir: join(work, 'out4') });
  assert.equal(r.summary.benchmark, 'mmeb-v1');
  assert.equal(r.summary.scores['v1/overall'], 0);
  assert.equal(r.summary.scores.video, undefined);
  assert.equal(r.summary.partial['v1/overall']?.expected, 36);
  await assert.rejects(runEval({ embedder: embedder(calls), benchmark: 'mmeb-v1', tasks: ['Breakfast'], dataDir: data, outDir: join(work, 'out4') }),
    /Breakfast/);
});

test('runEval checks the data and output folders before embedding anything', async () => {
  const calls: string[] = [];
  const base = { embedder: embedder(calls), benchmark: 'mmeb-v2' as const, tasks: ['OK-VQA'] };
  const missing = join(work, 'nope');
  await assert.rejects(runEval({ ...base, dataDir: missing, outDir: join(work, 'out5') }),
    new RegExp(`^Vlm2VecError: \\[eval\\] data folder ${missing} does not exist`));
  const file = join(work, 'a-file');
  writeFileSync(file, 'x');
  await assert.rejects(runEval({ ...base, dataDir: file, outDir: join(work, 'out5') }), /data folder .*a-file is not a folder/);
  await assert.rejects(runEval({ ...base, dataDir: data, outDir: file }), /\[eval\] output folder .*a-file is a file: expected a folder/);
  await assert.rejects(runEval({ ...base, dataDir: data, outDir: join(file, 'sub') }), /\[eval\] cannot create the output folder .*a-file\/sub/);
  // Node 20's recursive mkdir never returns on this path; a library caller gets the one-line error.
  await assert.rejects(runEval({ ...base, dataDir: data, outDir: '/proc/vlm2vec-x/out' }), /\[eval\] output folder \/proc\/vlm2vec-x\/out: \/proc is on the proc kernel filesystem/);
  assert.deepEqual(calls, []);
  assert.ok(!existsSync(join(work, 'out5')));
  // The selection is returned in benchmark order; the output folder is created.
  const sel = prepareEval({ benchmark: 'mmeb-v2', tasks: ['OK-VQA', 'ImageNet-1K'], dataDir: data, outDir: join(work, 'out6') });
  assert.deepEqual(sel.map((t) => t.name), ['ImageNet-1K', 'OK-VQA']);
  assert.ok(existsSync(join(work, 'out6')));
});

test('an output folder keeps the settings of its results: another model, style or data version is refused', async () => {
  const out = join(work, 'out7');
  const calls: string[] = [];
  const base = { benchmark: 'mmeb-v2' as const, tasks: ['OK-VQA'], dataDir: data, outDir: out };
  await runEval({ ...base, embedder: embedder(calls) });
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'eval-settings.json'), 'utf8')),
    { model: 'fake', style: 'qwen2_vl', momentSeeker: '1602', pageData: 'fixed', vidoreInstructions: 'nonempty' });
  const other: Embedder = { ...embedder(calls), id: 'other-model' };
  await assert.rejects(runEval({ ...base, embedder: other }),
    /\[eval\] .*out7 holds results computed with other settings \(--model\/--model-name: "fake" there, "other-model" now\)/);
  await assert.rejects(runEval({ ...base, embedder: embedder(calls), style: 'phi3_v', registry: { momentSeeker: '1800' } }),
    /--style: "qwen2_vl" there, "phi3_v" now; --momentseeker: "1602" there, "1800" now/);
  assert.equal(calls.length, 4, 'nothing embedded by the refused runs');
  // The same settings (defaults spelt out) resume normally.
  const again = await runEval({ ...base, embedder: embedder(calls), style: 'qwen2_vl', registry: { pageData: 'fixed' } });
  assert.equal(again.tasks[0]?.status, 'skipped');
});

test('an embedder that cannot take video fails the video tasks alone, before any request', async () => {
  const calls: string[] = [];
  const noVideo: Embedder = { ...embedder(calls), capabilities: { video: false } };
  const r = await runEval({ embedder: noVideo, benchmark: 'mmeb-v2', tasks: ['OK-VQA', 'Breakfast'], dataDir: data, outDir: join(work, 'out8') });
  assert.deepEqual(r.tasks.map((t) => [t.task.name, t.status]), [['OK-VQA', 'done'], ['Breakfast', 'failed']]);
  assert.match(r.tasks[1]!.error!, /^\[eval\] task Breakfast has video items, which embedder fake cannot embed/);
  assert.equal(calls.length, 4, 'only OK-VQA was embedded');
});

test('an embedder that declares no images fails image tasks up front; undeclared capabilities try everything', async () => {
  const calls: string[] = [];
  const textOnly: Embedder = { ...embedder(calls), capabilities: { images: false } };
  const r = await runEval({ embedder: textOnly, benchmark: 'mmeb-v2', tasks: ['OK-VQA'], dataDir: data, outDir: join(work, 'out9') });
  assert.equal(r.tasks[0]?.status, 'failed');
  assert.match(r.tasks[0]!.error!, /^\[eval\] task OK-VQA has image items, which embedder fake cannot embed \(it declares capabilities\.images = false\)/);
  assert.equal(calls.length, 0);
  const plain: Embedder = { ...embedder(calls), capabilities: {} };
  const ok = await runEval({ embedder: plain, benchmark: 'mmeb-v2', tasks: ['Breakfast'], dataDir: data, outDir: join(work, 'out10') });
  assert.equal(ok.tasks[0]?.status, 'done');
});

test("runEval hands the loader's warnings to onWarning instead of stderr", async () => {
  const warnings: string[] = [];
  const r = await runEval({
    embedder: embedder([]), benchmark: 'mmeb-v2', tasks: ['MSVD'], dataDir: data, outDir: join(work, 'out-warn'),
    onWarning: (m) => warnings.push(m),
  });
  assert.deepEqual(r.tasks.map((t) => [t.task.name, t.status]), [['MSVD', 'done']]);
  // The fixture's MSVD has one row whose frames and video are both missing.
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /^task MSVD: skipped 1 rows whose frames and video are both missing/);
});
