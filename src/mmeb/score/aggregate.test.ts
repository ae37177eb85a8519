import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readPublishedScores, readResultFolder, readScores, summarize, writeSummary, GROUPS, type GroupName } from './aggregate.ts';
import { leaderboard, type PublishedVersion } from '../report/published.ts';

const ROOT = new URL('../../../', import.meta.url).pathname;
const PUB = join(ROOT, 'test', 'fixtures', 'published-scores');
const near = (a: number | undefined, b: number, tol = 0.005) => assert.ok(a !== undefined && Math.abs(a - b) <= tol, `${a} vs ${b}`);

test('VLM2Vec-V2.0 v2.0.0: image 64.85, video 34.58, visdoc 65.36, all 58.02; V1 68.81/59.91/64.85', () => {
  const s = summarize(readPublishedScores(join(PUB, 'v2.0.0', 'VLM2Vec-V2.0-Qwen2VL-2B.json')));
  near(s.scores.image, 64.85);
  near(s.scores.video, 34.58);
  near(s.scores.visdoc, 65.36);
  near(s.scores.all, 58.02);
  near(s.scores['v1/IND'], 68.81);
  near(s.scores['v1/OOD'], 59.91);
  near(s.scores['v1/overall'], 64.85);
  assert.deepEqual(s.partial, {});
  assert.deepEqual(Object.keys(s.scores), [...GROUPS]);
  // all is the mean over the 78 tasks, not of the modality means (54.93)
  assert.ok(Math.abs((s.scores.all ?? 0) - ((64.85 + 34.58 + 65.36) / 3)) > 3);
});

test('VLM2Vec-V2.0 v2.0.1: V1 68.82/60.05/64.92, MomentSeeker_1k8 kept out of the averages', () => {
  const s = summarize(readPublishedScores(join(PUB, 'v2.0.1', 'VLM2Vec-V2.0-Qwen2VL-2B.json')));
  near(s.scores['v1/IND'], 68.82);
  near(s.scores['v1/OOD'], 60.05);
  near(s.scores['v1/overall'], 64.92);
  assert.deepEqual(s.extra_tasks, ['MomentSeeker_1k8']);
  assert.equal(Object.keys(s.tasks).length, 78);
});

/** Parse the group tables of aggregates.md beside the score files: version → model → column → value (and n when partial). */
function specTables(): Map<string, Map<string, Record<string, { v: number; n?: number }>>> {
  const text = readFileSync(join(PUB, 'aggregates.md'), 'utf8');
  const out = new Map<string, Map<string, Record<string, { v: number; n?: number }>>>();
  let version = '';
  let header: string[] = [];
  for (const line of text.split('\n')) {
    const h = /^## (v[\w.+-]+)/.exec(line);
    if (h) { version = h[1] ?? ''; header = []; continue; }
    if (!version || !line.startsWith('| ')) continue;
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    if (cells[0] === 'model') { header = cells; continue; }
    if (header.length === 0 || cells[0]?.startsWith('---')) continue;
    const row: Record<string, { v: number; n?: number }> = {};
    header.slice(1).forEach((col, i) => {
      const m = /^([\d.]+)(?: \(n=(\d+)\))?$/.exec(cells[i + 1] ?? '');
      if (m) row[col] = m[2] ? { v: Number(m[1]), n: Number(m[2]) } : { v: Number(m[1]) };
    });
    const models = out.get(version) ?? new Map();
    models.set(`${cells[0]}|${header.length}`, { ...(models.get(`${cells[0]}|${header.length}`) ?? {}), ...row });
    out.set(version, models);
  }
  return out;
}

const COLUMN: Record<string, GroupName> = {
  ALL: 'all', image: 'image', video: 'video', visdoc: 'visdoc', 'IND (20)': 'v1/IND', 'OOD (16)': 'v1/OOD', 'Overall (36)': 'v1/overall',
};
const colGroup = (c: string): GroupName => COLUMN[c] ?? (c.replace('.', '/') as GroupName);

test('every figure of aggregates.md (3 versions × 8 models) from the published files and from the built-in table', () => {
  const tables = specTables();
  const folders: Record<string, [string, PublishedVersion]> = {
    'v2.0.0': ['v2.0.0', 'v2.0.0'], 'v2.0.1': ['v2.0.1', 'v2.0.1'], 'v2.1-baselines-visdoc-page-fixed': ['v2.1-baselines-visdoc-page-fixed', 'v2.1'],
  };
  let checked = 0;
  for (const [version, [folder, builtin]] of Object.entries(folders)) {
    const rows = tables.get(version);
    assert.ok(rows && rows.size === 16, `aggregates.md tables for ${version}`);
    const board = new Map(leaderboard('mmeb-v2', builtin).map((s) => [s.model, s]));
    for (const f of readdirSync(join(PUB, folder))) {
      const s = summarize(readPublishedScores(join(PUB, folder, f)));
      const b = board.get(s.model);
      assert.ok(b, `built-in table has ${s.model} ${builtin}`);
      for (const [key, row] of rows) {
        if (!key.startsWith(`${s.model}|`)) continue;
        for (const [col, { v, n }] of Object.entries(row)) {
          const g = colGroup(col);
          near(s.scores[g], v, 0.0051);
          assert.equal(b.scores[g], s.scores[g], `${s.model} ${g} built-in`);
          if (n !== undefined) assert.equal(s.partial[g]?.n, n, `${version} ${s.model} ${g} n`);
          else assert.equal(s.partial[g], undefined, `${version} ${s.model} ${g} must be complete`);
          checked++;
        }
      }
    }
  }
  assert.equal(checked, 3 * 8 * (16 + 3));
});

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'vlm2vec-agg-'));
}

test('result folder: partial groups are reported with n/expected and the missing names', async () => {
  const out = tmp();
  mkdirSync(join(out, 'video'), { recursive: true });
  mkdirSync(join(out, 'image'), { recursive: true });
  writeFileSync(join(out, 'video', 'QVHighlight_score.json'), JSON.stringify({ 'hit@1': 0.5, 'hit@5': 1 }));
  writeFileSync(join(out, 'video', 'Charades-STA_score.json'), JSON.stringify({ 'hit@1': 0.25 }));
  writeFileSync(join(out, 'image', 'MSCOCO_score.json'), JSON.stringify({ 'hit@1': 0.9 }));
  writeFileSync(join(out, 'image', 'MSCOCO_pred.jsonl'), '');
  const run = readScores(out);
  const s = summarize(run);
  near(s.scores['video/MRET'], 37.5, 1e-12);
  assert.deepEqual(s.partial['video/MRET'], { n: 2, expected: 3, missing: ['MomentSeeker'] });
  near(s.scores.video, 37.5, 1e-12);
  near(s.scores.all, (50 + 25 + 90) / 3, 1e-12);
  assert.equal(s.partial.all?.n, 3);
  assert.equal(s.partial.all?.expected, 78);
  assert.equal(s.scores.visdoc, undefined);
  assert.deepEqual(s.partial['visdoc/VR'], { n: 0, expected: 6, missing: ['VisRAG_ArxivQA', 'VisRAG_ChartQA', 'VisRAG_MP-DocVQA', 'VisRAG_SlideVQA', 'VisRAG_InfoVQA', 'VisRAG_PlotQA'] });
  near(s.scores['image/VG'], 90, 1e-12);
  near(s.scores['v1/IND'], 90, 1e-12);
  assert.equal(s.scores['v1/OOD'], undefined);
  const path = await writeSummary(out, s);
  const doc = JSON.parse(readFileSync(path, 'utf8')) as { scores: Record<string, number>; partial: Record<string, { n: number }> };
  assert.equal(doc.scores['video/MRET'], 37.5);
  assert.equal(doc.partial['video/MRET']?.n, 2);
  assert.deepEqual(readdirSync(out).sort(), ['image', 'summary.json', 'video'], 'no temp file left behind');
});

test('bad inputs name the file and what was expected', () => {
  const out = tmp();
  mkdirSync(join(out, 'image'));
  writeFileSync(join(out, 'image', 'NIGHTS_score.json'), '{"hit@1": 0.5,');
  assert.throws(() => readResultFolder(out), /NIGHTS_score\.json is not valid JSON/);
  writeFileSync(join(out, 'image', 'NIGHTS_score.json'), '{"acc": 0.5}');
  assert.throws(() => readResultFolder(out), /NIGHTS_score\.json: missing the headline metric 'hit@1' of task NIGHTS/);
  assert.throws(() => readScores(join(out, 'nope')), /no such result folder or score file/);
  assert.throws(() => readScores(tmp()), /not a result folder/);
  const bad = join(tmp(), 'x.json');
  writeFileSync(bad, '{"scores": {}}');
  assert.throws(() => readScores(bad), /expected \{"metadata"/);
});

test('HEAD -fixed keys are mapped back to the registry names', () => {
  const f = join(tmp(), 'head.json');
  writeFileSync(f, JSON.stringify({ metadata: { model_name: 'm' }, metrics: { visdoc: { 'ViDoSeek-page-fixed': { 'ndcg_linear@5': 0.8 }, 'MMLongBench-page-fixed': { 'ndcg_linear@5': 0.4 }, 'ViDoSeek-doc': 'FILE_N/A' } } }));
  const s = summarize(readPublishedScores(f));
  near(s.scores['visdoc/OOD'], 60, 1e-12);
  assert.deepEqual(s.partial['visdoc/OOD']?.missing, ['ViDoSeek-doc', 'MMLongBench-doc']);
});

test('mmeb-v1 summaries hold only the image and V1 groups', () => {
  const s = summarize(readPublishedScores(join(PUB, 'v2.0.1', 'VLM2Vec-V1-Qwen2VL-7B.json')), 'mmeb-v1');
  assert.deepEqual(Object.keys(s.scores), ['image', 'image/CLS', 'image/QA', 'image/RET', 'image/VG', 'v1/IND', 'v1/OOD', 'v1/overall']);
  near(s.scores['v1/IND'], 71.31, 0.0051); // 71.305 printed as 71.31 in aggregates.md
  near(s.scores['v1/OOD'], 57.94);
  near(s.scores['v1/overall'], 65.37);
  assert.equal(Object.keys(s.tasks).length, 36);
  assert.ok(s.extra_tasks.includes('K700') && s.extra_tasks.includes('MomentSeeker_1k8'));
});
