// Visdoc (BEIR) parsers: qrels semantics, prompts (empty vs non-empty vidore instructions), page
// image materialization (PNG as stored, JPEG→PNG, VisRAG names and the PIL q75 round trip), and
// the read-only fallback. Golden names/pixels come from the Python reference formulas
// (test/fixtures/mmeb/expected.json); prompts are written by hand from docs/mmeb.md §3.4.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { getTask } from '../tasks/registry.ts';
import type { TaskDef } from '../tasks/types.ts';
import { loadTask } from './index.ts';
import { fixtureCopy, rel } from './fixtures.test-helper.ts';
import { visragImageName } from './visdoc.ts';

const expected = JSON.parse(readFileSync(new URL('../../../test/fixtures/mmeb/expected.json', import.meta.url), 'utf8')) as {
  vidore_page10_sha256: string; vidore_page13_pixels: number[]; visrag_names: Record<string, string>;
  visrag_jpg_pil_q75_pixels: number[];
};
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

test('vidore: qrels score>0, max on repeat, first-seen order; queries, candidates and corpus', async () => {
  const data = fixtureCopy();
  const t = await loadTask(getTask('ViDoRe_arxivqa'), { dataDir: data });
  assert.equal(t.queries.length, 3);
  const [q0, q1, q2] = t.queries;
  assert.equal(q0!.item.text, 'Find a document image that matches the given query: What is shown in figure 1?');
  assert.equal(q0!.item.images, undefined);
  assert.deepEqual(q0!.label, ['10']);
  assert.deepEqual(q0!.relScores, [1]);
  // qrels rows for query 1: (12,1), (11,1), later (12,2) → order 12, 11 and 12 keeps the max 2
  assert.deepEqual(q1!.label, ['12', '11']);
  assert.deepEqual(q1!.relScores, [2, 1]);
  // query 2: (13, 0) is dropped
  assert.deepEqual(q2!.label, ['12']);
  assert.deepEqual(q2!.candidates.map((c) => c.key), ['12']);
  const cand = '<|image_pad|> Understand the content of the provided document image.';
  assert.equal(q1!.candidates[0]!.item.text, cand);
  assert.deepEqual(rel(data, q1!.candidates[0]!.item.images), ['visdoc-tasks/ViDoRe_arxivqa/12.png']);
  assert.deepEqual(t.corpus.map((c) => c.key), ['10', '11', '12', '13']);
  assert.deepEqual(t.corpus.map((c) => rel(data, c.item.images)[0]), [10, 11, 12, 13].map((i) => `visdoc-tasks/ViDoRe_arxivqa/${i}.png`));
  assert.equal(t.corpus[3]!.item.text, cand);
  // PNG pages are written byte for byte; the JPEG page becomes a lossless PNG of its pixels
  const root = join(data, 'visdoc-tasks/ViDoRe_arxivqa');
  assert.equal(sha(readFileSync(join(root, '10.png'))), expected.vidore_page10_sha256);
  const p13 = readFileSync(join(root, '13.png'));
  assert.deepEqual([...p13.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
  assert.deepEqual([...(await sharp(p13).removeAlpha().raw().toBuffer())], expected.vidore_page13_pixels);
});

test('vidore with empty instructions (v2.0.x code): leading-space query, token + space candidate', async () => {
  const data = fixtureCopy();
  const t = await loadTask(getTask('ViDoRe_arxivqa'), { dataDir: data, vidoreInstructions: 'empty' });
  assert.equal(t.queries[0]!.item.text, ' What is shown in figure 1?');
  assert.equal(t.queries[0]!.candidates[0]!.item.text, '<|image_pad|> ');
  assert.equal(t.corpus[0]!.item.text, '<|image_pad|> ');
});

test('page images are written once (second load does not rewrite them)', async () => {
  const data = fixtureCopy();
  await loadTask(getTask('ViDoRe_arxivqa'), { dataDir: data });
  const p = join(data, 'visdoc-tasks/ViDoRe_arxivqa/11.png');
  const m1 = statSync(p).mtimeMs;
  await new Promise((r) => setTimeout(r, 20));
  await loadTask(getTask('ViDoRe_arxivqa'), { dataDir: data });
  assert.equal(statSync(p).mtimeMs, m1);
});

test('visrag: instructions always on, string ids, cached names and the JPEG q75 round trip', async () => {
  const data = fixtureCopy();
  const t = await loadTask(getTask('VisRAG_ChartQA'), { dataDir: data, vidoreInstructions: 'empty' });
  assert.equal(t.queries[0]!.item.text, 'Find a document image that matches the given query: How many bars exceed 10?');
  const longId = 'a_very_long_document_page_name_that_exceeds_fifty_characters_for_sure_page_3.jpg';
  assert.deepEqual(t.queries[1]!.label, [longId]);
  assert.equal(visragImageName('chart_0001.png'), expected.visrag_names['chart_0001.png']);
  assert.equal(visragImageName(longId), expected.visrag_names[longId]);
  const root = join(data, 'visdoc-tasks/VisRAG_ChartQA');
  assert.deepEqual(t.corpus.map((c) => c.item.images![0]), [join(root, expected.visrag_names['chart_0001.png']!), join(root, expected.visrag_names[longId]!)]);
  // The old reference re-encoded .jpg pages with PIL (quality 75); our sharp re-encode decodes
  // to exactly the same pixels on this fixture (the files' bytes differ only in headers).
  const jpg = readFileSync(join(root, expected.visrag_names[longId]!));
  assert.deepEqual([...(await sharp(jpg).raw().toBuffer())], expected.visrag_jpg_pil_q75_pixels);
});

test('read-only fallback decision is made on writability (DATA/visdoc-tasks cannot be created)', async () => {
  // A *file* named visdoc-tasks makes the media root impossible to create (chmod would not stop
  // root, which runs these tests in CI).
  const data = fixtureCopy();
  const cache = fixtureCopy();
  rmSync(join(cache, 'visdoc-tasks'), { recursive: true, force: true });
  const { writeFileSync } = await import('node:fs');
  writeFileSync(join(data, 'visdoc-tasks'), 'not a folder');
  const warnings: string[] = [];
  const t = await loadTask(getTask('ViDoRe_arxivqa'), { dataDir: data, cacheDir: cache, onWarning: (m) => warnings.push(m) });
  assert.equal(t.corpus[0]!.item.images![0], join(cache, 'visdoc-tasks/ViDoRe_arxivqa/10.png'));
  assert.ok(existsSync(join(cache, 'visdoc-tasks/ViDoRe_arxivqa/13.png')));
  assert.match(warnings.join('\n'), /is not writable; page images go to/);
});

test('a language filter applies only when the task names one', async () => {
  const data = fixtureCopy();
  const base = getTask('ViDoRe_arxivqa');
  const task: TaskDef = { ...base, params: { ...base.params, language: 'french' } };
  // No query has language 'french' (the column is absent): nothing is left to load.
  await assert.rejects(loadTask(task, { dataDir: data }), /no queries were loaded/);
});

test('label kind comes from the corpus-id column type: int64 → int, string → str even when all digits', async () => {
  const data = fixtureCopy();
  // The fixture's ViDoRe corpus-id columns are int64; VisRAG's are strings (file names).
  const vidore = await loadTask(getTask('ViDoRe_arxivqa'), { dataDir: data });
  assert.deepEqual(vidore.queries.map((q) => q.labelKind), ['int', 'int', 'int']);
  const visrag = await loadTask(getTask('VisRAG_ChartQA'), { dataDir: data });
  assert.ok(visrag.queries.every((q) => q.labelKind === 'str'));
  // Same ids stored as strings ("12"): a str column, not ints. (JSON lines stand in for a
  // string parquet column; the page images already exist, so the corpus needs only its ids.)
  const { writeFileSync } = await import('node:fs');
  const repo = join(data, 'vidore/arxivqa_test_subsampled_beir');
  const jsonl = (rows: object[]): string => rows.map((r) => JSON.stringify(r)).join('\n');
  rmSync(join(repo, 'qrels/test-00000-of-00001.parquet'));
  writeFileSync(join(repo, 'qrels/test-00000-of-00001.jsonl'), jsonl([
    { 'query-id': 0, 'corpus-id': '10', score: 1 }, { 'query-id': 1, 'corpus-id': '12', score: 1 },
    { 'query-id': 1, 'corpus-id': '11', score: 1 }, { 'query-id': 2, 'corpus-id': '12', score: 1 }, { 'query-id': 1, 'corpus-id': '12', score: 2 },
  ]));
  rmSync(join(repo, 'corpus/test-00000-of-00001.parquet'));
  writeFileSync(join(repo, 'corpus/test-00000-of-00001.jsonl'), jsonl(['10', '11', '12', '13'].map((c) => ({ 'corpus-id': c }))));
  const strIds = await loadTask(getTask('ViDoRe_arxivqa'), { dataDir: data });
  assert.deepEqual(strIds.queries[1]!.label, ['12', '11']);
  assert.deepEqual(strIds.queries.map((q) => q.labelKind), ['str', 'str', 'str']);
  // qrels and corpus of different types can never match in the reference (12 != "12").
  writeFileSync(join(repo, 'corpus/test-00000-of-00001.jsonl'), jsonl([10, 11, 12, 13].map((c) => ({ 'corpus-id': c }))));
  await assert.rejects(loadTask(getTask('ViDoRe_arxivqa'), { dataDir: data }),
    /task ViDoRe_arxivqa: qrels 'corpus-id' holds strings but corpus 'corpus-id' holds integers/);
  writeFileSync(join(repo, 'corpus/test-00000-of-00001.jsonl'), jsonl([{ 'corpus-id': 10 }, { 'corpus-id': '11' }]));
  await assert.rejects(loadTask(getTask('ViDoRe_arxivqa'), { dataDir: data }),
    /row 1: corpus field 'corpus-id' is a string, but earlier rows hold integers/);
});
