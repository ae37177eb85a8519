// `data pull` against a small fake hub on loopback (the two endpoints @huggingface/hub uses:
// the tree listing and `resolve` with Range requests), the offline path (refused connection and
// a hub that never answers), and `data check`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getTask, TASKS } from '../tasks/registry.ts';
import { loadTask } from '../load/index.ts';
import { FIXTURE_DATA } from '../load/fixtures.test-helper.ts';
import { checkData, planPull, pullData } from './pull.ts';
import { fakeHub } from './fake-hub.test-helper.ts';


test('plan: one repo per source, MMEB_Test_Instruct limited to the selected configs, archives per meta-task', () => {
  const plan = planPull([getTask('CIRR'), getTask('OK-VQA'), getTask('MVBench'), getTask('Video-MME'), getTask('ViDoRe_arxivqa')]);
  assert.deepEqual(plan.repos.map((r) => r.repo), ['ziyjiang/MMEB_Test_Instruct', 'VLM2Vec/MVBench', 'VLM2Vec/Video-MME', 'vidore/arxivqa_test_subsampled_beir']);
  assert.deepEqual(plan.repos[0]!.include, ['README.md', 'CIRR/**/*.parquet', 'CIRR/**/*.jsonl', 'OK-VQA/**/*.parquet', 'OK-VQA/**/*.jsonl']);
  assert.deepEqual(plan.repos[1]!.include, ['README.md', '**/*.parquet', '**/*.jsonl', '**/*.json']);
  assert.deepEqual(plan.media.map((m) => m.id), ['image', 'video_qa']);
  assert.deepEqual(plan.media[1]!.files, ['video-tasks/frames/video_qa.tar.gz-00', 'video-tasks/frames/video_qa.tar.gz-01',
    'video-tasks/frames/video_qa.tar.gz-02', 'video-tasks/frames/video_qa.tar.gz-03', 'video-tasks/frames/video_qa.tar.gz-04']);
});

test('plan for all 78 tasks: 43 repos (1 image, 18 video, 24 visdoc), all 5 media archives', () => {
  const plan = planPull(TASKS);
  assert.equal(plan.repos.length, 43);
  assert.deepEqual(plan.media.map((m) => [m.id, m.tasks.length]), [['image', 36], ['video_cls', 5], ['video_qa', 5], ['video_ret', 5], ['video_mret', 3]]);
  assert.equal(plan.repos[0]!.include.length, 1 + 2 * 36);
});

test('pull: annotations + media archives (5-part video_qa) from a hub, extracted, then loadable', async () => {
  // Extraction must not leak stream listeners (it used to add a pair per archive part).
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => void warnings.push(w);
  process.on('warning', onWarning);
  // Build the MMEB-V2 media repo from the fixture frames: one tarball, and one split into 5 parts.
  const media = mkdtempSync(join(tmpdir(), 'vlm2vec-media-'));
  mkdirSync(join(media, 'video-tasks/frames'), { recursive: true });
  execFileSync('tar', ['-czf', join(media, 'video-tasks/frames/video_cls.tar.gz'), '-C', join(FIXTURE_DATA, 'video-tasks/frames/video_cls'), 'Breakfast']);
  const qa = execFileSync('tar', ['-cz', '-C', join(FIXTURE_DATA, 'video-tasks/frames'), 'video_qa/ActivityNetQA']);
  const cut = Math.ceil(qa.length / 5);
  for (let i = 0; i < 5; i++) writeFileSync(join(media, `video-tasks/frames/video_qa.tar.gz-0${i}`), qa.subarray(i * cut, (i + 1) * cut));
  const hub = await fakeHub({
    'VLM2Vec/Breakfast': join(FIXTURE_DATA, 'VLM2Vec/Breakfast'),
    'VLM2Vec/ActivityNetQA': join(FIXTURE_DATA, 'VLM2Vec/ActivityNetQA'),
    'TIGER-Lab/MMEB-V2': media,
  });
  try {
    const data = mkdtempSync(join(tmpdir(), 'vlm2vec-pull-'));
    const tasks = [getTask('Breakfast'), getTask('ActivityNetQA')];
    const events: string[] = [];
    const res = await pullData({ dataDir: data, tasks, media: true, extract: true, hubUrl: hub.url, onEvent: (e) => events.push(e.type) });
    assert.deepEqual(res.extracted, ['video_cls', 'video_qa']);
    const src = readFileSync(join(FIXTURE_DATA, 'VLM2Vec/Breakfast/data/test-00000-of-00001.parquet'));
    assert.deepEqual(readFileSync(join(data, 'VLM2Vec/Breakfast/data/test-00000-of-00001.parquet')), src);
    const b = await loadTask(getTask('Breakfast'), { dataDir: data });
    assert.equal(b.queries[0]!.item.video!.length, 8);
    const a = await loadTask(getTask('ActivityNetQA'), { dataDir: data });
    assert.equal(a.queries[0]!.item.video![0], join(data, 'video-tasks/frames/video_qa/ActivityNetQA/v_abc123/0000.jpeg'));
    assert.ok(events.includes('extract'));
    assert.deepEqual((await checkData(data, tasks)).map((r) => [r.task, r.annotations, r.media]), [['Breakfast', 'ok', 'ok'], ['ActivityNetQA', 'ok', 'ok']]);

    // A second pull downloads nothing: every file is already there with the listed size.
    const before = hub.requests.filter((p) => p.includes('/resolve/')).length;
    const again: boolean[] = [];
    await pullData({ dataDir: data, tasks, hubUrl: hub.url, onEvent: (e) => { if (e.type === 'file') again.push(e.skipped); } });
    assert.ok(again.length > 0 && again.every(Boolean));
    assert.equal(hub.requests.filter((p) => p.includes('/resolve/')).length, before);
    await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
    assert.deepEqual(warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message), []);
  } finally {
    process.off('warning', onWarning);
    hub.server.close();
  }
});

test('pull: a repo missing on the hub is a clear error', async () => {
  const hub = await fakeHub({});
  try {
    await assert.rejects(pullData({ dataDir: mkdtempSync(join(tmpdir(), 'vlm2vec-pull-')), tasks: [getTask('UCF101')], hubUrl: hub.url }),
      /\[data\] dataset VLM2Vec\/UCF101: listing dataset VLM2Vec\/UCF101@main: not found \(HTTP 404\)/);
  } finally {
    hub.server.close();
  }
});

test('offline: a refused connection fails fast with a clear message', async () => {
  // Grab a free port, then close it so nothing listens there.
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  const t0 = Date.now();
  await assert.rejects(pullData({ dataDir: mkdtempSync(join(tmpdir(), 'vlm2vec-pull-')), tasks: [getTask('Breakfast')], hubUrl: `http://127.0.0.1:${port}` }),
    /\[data\] dataset VLM2Vec\/Breakfast: cannot reach http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\) .*offline.*git clone http:\/\/127\.0\.0\.1:\d+\/datasets\/VLM2Vec\/Breakfast/);
  assert.ok(Date.now() - t0 < 5000);
});

test('offline: a hub that accepts but never answers times out instead of hanging', async () => {
  const s = createServer(() => { /* never respond */ });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  try {
    await assert.rejects(pullData({ dataDir: mkdtempSync(join(tmpdir(), 'vlm2vec-pull-')), tasks: [getTask('Breakfast')],
      hubUrl: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, apiTimeoutMs: 300 }), /cannot reach http:\/\/127\.0\.0\.1:\d+ \(TIMEOUT\) while listing dataset VLM2Vec\/Breakfast/);
  } finally {
    s.closeAllConnections();
    s.close();
  }
});

test('check: missing annotations and media are reported per task', async () => {
  const rows = await checkData(FIXTURE_DATA, [getTask('K700'), getTask('Breakfast'), getTask('ViDoRe_arxivqa')]);
  assert.deepEqual(rows.map((r) => [r.task, r.annotations, r.media]), [['K700', 'missing', 'missing'], ['Breakfast', 'ok', 'ok'], ['ViDoRe_arxivqa', 'ok', 'from corpus']]);
  assert.match(rows[0]!.detail, /VLM2Vec\/Kinetics-700 does not exist; run `vlm2vec data pull --tasks K700/);
});

test('check: frame folders absent but raw videos present count for the tasks whose loaders extract frames', async () => {
  const data = mkdtempSync(join(tmpdir(), 'vlm2vec-check-'));
  const [cls, qa] = [getTask('Breakfast'), getTask('ActivityNetQA')];
  for (const t of [cls, qa]) {
    assert.match(t.mediaRoot, /\/frames\//, `${t.name} keeps its frames under a frames/ folder`);
    mkdirSync(join(data, t.mediaRoot.replace('/frames/', '/videos/')), { recursive: true });
  }
  const rows = await checkData(data, [cls, qa]);
  // No annotations in this folder: both rows say so, and the media verdicts stand on their own.
  assert.deepEqual(rows.map((r) => [r.task, r.annotations, r.media]), [['Breakfast', 'missing', 'from videos'], ['ActivityNetQA', 'missing', 'missing']]);
  // With the annotations present, the detail says where the frames will come from.
  mkdirSync(join(data, ...cls.source.repo.split('/').slice(0, -1)), { recursive: true });
  symlinkSync(join(FIXTURE_DATA, ...cls.source.repo.split('/')), join(data, ...cls.source.repo.split('/')));
  const [row] = await checkData(data, [cls]);
  assert.deepEqual([row!.annotations, row!.media], ['ok', 'from videos']);
  assert.equal(row!.detail, `frames are extracted from the videos in ${join(data, cls.mediaRoot.replace('/frames/', '/videos/'))} on first load (ffmpeg, as the reference does)`);
});
