// Bad input: every error names the task, the file/folder and the field, and says what to do.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getTask } from '../tasks/registry.ts';
import { Vlm2VecError } from '../../errors.ts';
import { loadTask } from './index.ts';
import { fixtureCopy } from './fixtures.test-helper.ts';
import { execFileSync } from 'node:child_process';

/** Rewrite one parquet file of a fixture copy through pyarrow-free JSON lines. */
function replaceWithJsonl(dir: string, rows: object[]): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'test.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
}

async function rejectsWith(p: Promise<unknown>, ...patterns: RegExp[]): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof Vlm2VecError, `expected a Vlm2VecError, got ${String(err)}`);
    for (const re of patterns) assert.match(err.message, re);
    return true;
  });
}

test('missing dataset repo: names the path and the pull command', async () => {
  const data = fixtureCopy();
  rmSync(join(data, 'VLM2Vec/Breakfast'), { recursive: true });
  await rejectsWith(loadTask(getTask('Breakfast'), { dataDir: data }),
    /task Breakfast/, /VLM2Vec\/Breakfast/, /does not exist/, /vlm2vec data pull --tasks Breakfast --data/);
});

test('missing split files: names the patterns tried', async () => {
  const data = fixtureCopy();
  rmSync(join(data, 'ziyjiang/MMEB_Test_Instruct/CIRR'), { recursive: true });
  await rejectsWith(loadTask(getTask('CIRR'), { dataDir: data }), /task CIRR/, /config 'CIRR'/, /CIRR\/test-\*/, /data pull/);
});

test('missing config in the card lists the configs there', async () => {
  const data = fixtureCopy();
  const task = { ...getTask('NExTQA'), source: { repo: 'VLM2Vec/NExTQA', configs: ['XX'], split: 'test' } };
  await rejectsWith(loadTask(task, { dataDir: data }), /config 'XX' is not in .*README\.md/, /configs: MC, OE/);
});

test('missing image file names the field, the row and the archive to extract', async () => {
  const data = fixtureCopy();
  rmSync(join(data, 'image-tasks/OK-VQA/img_1.jpg'));
  await rejectsWith(loadTask(getTask('OK-VQA'), { dataDir: data }),
    /task OK-VQA/, /image-tasks\/OK-VQA\/img_1\.jpg/, /field 'qry_img_path'/, /row 0/, /mmeb_v1\.tar\.gz/);
});

test('missing frame folder and empty frame folder', async () => {
  const data = fixtureCopy();
  const dir = join(data, 'video-tasks/frames/video_cls/Breakfast/P03_cereals');
  rmSync(dir, { recursive: true });
  await rejectsWith(loadTask(getTask('Breakfast'), { dataDir: data }), /task Breakfast/, /P03_cereals not found/, /row 0/);
  mkdirSync(dir);
  writeFileSync(join(dir, 'readme.txt'), 'no frames');
  await rejectsWith(loadTask(getTask('Breakfast'), { dataDir: data }), /P03_cereals has no \.jpg\/\.jpeg\/\.png frames/);
});

test('retrieval candidates need 8 frames (the reference asserts it)', async () => {
  const data = fixtureCopy();
  rmSync(join(data, 'video-tasks/frames/video_ret/VATEX/abc_000010_000020/frame_0008.jpg'));
  await rejectsWith(loadTask(getTask('VATEX'), { dataDir: data }), /has 7 frames; this parser needs at least 8/);
});

test('malformed rows: missing field, wrong type, bad answer', async () => {
  const data = fixtureCopy();
  replaceWithJsonl(join(data, 'VLM2Vec/Breakfast/data'), [{ video_id: 'P03_cereals' }]);
  await rejectsWith(loadTask(getTask('Breakfast'), { dataDir: data }), /task Breakfast/, /test\.jsonl row 0/, /field 'pos_text' should be a string, found missing/);

  replaceWithJsonl(join(data, 'VLM2Vec/SmthSmthV2'), [{ video_id: 12345, pos_text: 'x', neg_text: 'not a list' }]);
  await rejectsWith(loadTask(getTask('SmthSmthV2'), { dataDir: data }), /field 'neg_text' should be a list of strings, found a string/);

  replaceWithJsonl(join(data, 'VLM2Vec/Video-MME/data'), [{ question: 'q', videoID: 'fFjv93ACGo8', options: ['A. x', 'B. y'], answer: 'E' }]);
  await rejectsWith(loadTask(getTask('Video-MME'), { dataDir: data }), /field 'answer' should be a letter A-D/, /found 'E'/);
});

test('moment retrieval without a positive clip folder', async () => {
  const data = fixtureCopy();
  const base = join(data, 'video-tasks/frames/video_mret/QVHighlight/vid_A_60.0_210.0');
  execFileSync('mv', [join(base, 'positive_3'), join(base, 'negative_3')]);
  await rejectsWith(loadTask(getTask('QVHighlight'), { dataDir: data }), /query without a positive/, /vid_A_60\.0_210\.0/);
});

test('visdoc query without a positive qrel', async () => {
  const data = fixtureCopy();
  const repo = join(data, 'vidore/arxivqa_test_subsampled_beir');
  rmSync(join(repo, 'qrels'), { recursive: true });
  mkdirSync(join(repo, 'qrels'));
  writeFileSync(join(repo, 'qrels/test-00000-of-00001.jsonl'), [
    { 'query-id': 0, 'corpus-id': 10, score: 1 }, { 'query-id': 1, 'corpus-id': 11, score: 1 }, { 'query-id': 2, 'corpus-id': 12, score: 0 },
  ].map((r) => JSON.stringify(r)).join('\n'));
  // The card points qrels at qrels/test-*, which this JSON-lines shard matches.
  await rejectsWith(loadTask(getTask('ViDoRe_arxivqa'), { dataDir: data }), /task ViDoRe_arxivqa/, /query without a positive: query-id '2'/, /queries\/test-00000-of-00001\.parquet row 2/);
});

test('corrupt parquet file names the file', async () => {
  const data = fixtureCopy();
  writeFileSync(join(data, 'VLM2Vec/ActivityNetQA/data/test-00000-of-00001.parquet'), 'not parquet at all');
  await rejectsWith(loadTask(getTask('ActivityNetQA'), { dataDir: data }), /cannot read parquet file .*ActivityNetQA\/data\/test-00000-of-00001\.parquet/);
});
