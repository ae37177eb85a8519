import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadV1Subset, v1RepoDir } from './load.ts';

const FIX = fileURLToPath(new URL('../../../test/fixtures/mmeb/v1', import.meta.url));
const CLS = '<|image_1|> Represent the given image for classification.';

let work: string;
before(() => { work = mkdtempSync(join(tmpdir(), 'v2v-v1load-')); });
after(() => rmSync(work, { recursive: true, force: true }));

test('loads a subset from DATA/TIGER-Lab/MMEB-eval: unique pairs per side, rows pointing at them', async () => {
  const s = await loadV1Subset(FIX, 'ImageNet-1K');
  assert.equal(s.files.length, 1);
  assert.match(s.files[0]!, /TIGER-Lab\/MMEB-eval\/ImageNet-1K\/test-00000-of-00001\.parquet$/);
  assert.deepEqual(s.queries.map((p) => [p.text, p.imgPath]), [[CLS, 'ImageNet-1K/cat.jpg'], [CLS, 'ImageNet-1K/dog.jpg']]);
  assert.deepEqual(s.targets.map((p) => [p.text, p.imgPath]),
    [['cat', ''], ['dog', ''], ["it's a bird", ''], ['a "big" fish\nswimming', '']]);
  // Row 2 repeats row 0's query; its candidates are bird, cat, dog.
  assert.deepEqual(s.rows, [{ query: 0, targets: [0, 1, 2] }, { query: 1, targets: [1, 0, 3] }, { query: 0, targets: [2, 0, 1] }]);
  assert.match(s.queries[1]!.origin, /field 'qry_img_path' of .*ImageNet-1K.* row 1$/);
  assert.match(s.targets[3]!.origin, /field 'tgt_img_path\[2\]' of .* row 1$/);
});

test('image candidates keep their (text, path) pairs; the repo folder itself works as --data', async () => {
  const repo = join(FIX, 'TIGER-Lab', 'MMEB-eval');
  assert.equal(v1RepoDir(FIX), repo);
  assert.equal(v1RepoDir(repo), repo);
  const s = await loadV1Subset(repo, 'MSCOCO_t2i');
  const inst = '<|image_1|> Represent the given image.';
  assert.deepEqual(s.queries.map((p) => [p.text, p.imgPath]), [
    ['Find me an everyday image that matches the given caption: a gradient', ''],
    ['Find me an everyday image that matches the given caption: café au lait', ''],
  ]);
  assert.deepEqual(s.targets.map((p) => p.imgPath), ['MSCOCO_t2i/a.png', 'MSCOCO_t2i/b.png', 'MSCOCO_t2i/big.png']);
  assert.ok(s.targets.every((p) => p.text === inst));
  assert.deepEqual(s.rows.map((r) => r.targets), [[0, 1, 2], [2, 0]]);
});

test('a missing subset folder names the subset and lists the ones present', async () => {
  await assert.rejects(loadV1Subset(FIX, 'ImageNet-A'),
    /\[mmeb-v1\] subset 'ImageNet-A': .*subsets found there: ImageNet-1K, MSCOCO_t2i, WebQA/);
  // Without a dataset card: the folder convention.
  const repo = join(work, 'nocard');
  mkdirSync(join(repo, 'A'), { recursive: true });
  writeFileSync(join(repo, 'A', 'test.jsonl'), '{"qry_text": "q", "qry_img_path": "", "tgt_text": ["a"], "tgt_img_path": [""]}\n');
  assert.equal((await loadV1Subset(repo, 'A')).rows.length, 1);
  await assert.rejects(loadV1Subset(repo, 'B'), /\[mmeb-v1\] subset 'B': .*no folder .*nocard\/B.*subsets found there: A/);
});

function badRepo(name: string, row: Record<string, unknown>): string {
  const repo = join(work, name);
  mkdirSync(join(repo, 'S'), { recursive: true });
  const good = { qry_text: 'q', qry_img_path: '', tgt_text: ['a', 'b'], tgt_img_path: ['', ''] };
  writeFileSync(join(repo, 'S', 'test.jsonl'), `${JSON.stringify(good)}\n${JSON.stringify({ ...good, ...row })}\n`);
  return repo;
}

test('bad column types and inconsistent candidate lists name the file, the row and the field', async () => {
  await assert.rejects(loadV1Subset(badRepo('t1', { qry_text: 7 }), 'S'),
    /S\/test\.jsonl row 1: field 'qry_text' should be a string, found a number/);
  await assert.rejects(loadV1Subset(badRepo('t2', { tgt_text: 'a' }), 'S'),
    /S\/test\.jsonl row 1: field 'tgt_text' should be a list of strings, found a string/);
  await assert.rejects(loadV1Subset(badRepo('t3', { tgt_img_path: ['', null] }), 'S'),
    /row 1: field 'tgt_img_path' should be a list of strings, found null/);
  await assert.rejects(loadV1Subset(badRepo('t4', { qry_img_path: null }), 'S'),
    /row 1: field 'qry_img_path' should be a string, found null/);
  await assert.rejects(loadV1Subset(badRepo('t5', { tgt_img_path: [''] }), 'S'),
    /\[mmeb-v1\] subset 'S': .*row 1: 'tgt_text' has 2 entries but 'tgt_img_path' has 1/);
  await assert.rejects(loadV1Subset(badRepo('t6', { tgt_text: [], tgt_img_path: [] }), 'S'), /row 1: no candidates/);
});
