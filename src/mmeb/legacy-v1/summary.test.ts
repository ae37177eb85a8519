import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { summarizeV1, writeV1Summary } from './summary.ts';

const work = mkdtempSync(join(tmpdir(), 'v2v-v1sum-'));
after(() => rmSync(work, { recursive: true, force: true }));

test('V1 groups are unweighted means over the datasets present, partial groups flagged', () => {
  // ImageNet-1K: CLS, IND. ImageNet-A: CLS, OOD. MSCOCO: VG, IND. CIFAR-100: in no group.
  const s = summarizeV1('m', { 'ImageNet-1K': 0.5, 'ImageNet-A': 0.25, 'MSCOCO': 1, 'CIFAR-100': 0.9 });
  assert.equal(s.scores.Classification, 37.5);
  assert.equal(s.scores.Grounding, 100);
  assert.equal(s.scores.IND, 75);
  assert.equal(s.scores.OOD, 25);
  assert.equal(s.scores.Overall, (0.5 + 0.25 + 1) / 3 * 100); // over datasets, not over group means
  assert.equal(s.scores.VQA, undefined);
  assert.deepEqual(s.partial.Classification, { n: 2, expected: 10 });
  assert.deepEqual(s.partial.Overall, { n: 3, expected: 36 });
  assert.deepEqual(s.partial.IND, { n: 2, expected: 20 });
  assert.equal(s.subsets['CIFAR-100'], 90);
});

test('writeV1Summary reads the finished score files of OUT', async () => {
  writeFileSync(join(work, 'VOC2007_score.json'), '{\n    "acc": 0.75,\n    "num_correct": 3,\n    "num_pred": 4\n}');
  writeFileSync(join(work, 'OVEN_score.json'), 'not json'); // unreadable: not finished
  writeFileSync(join(work, 'Extra_score.json'), '{"acc": 0.5, "num_correct": 1, "num_pred": 2}');
  const { summary, file } = await writeV1Summary(work, 'm', ['Extra']);
  assert.deepEqual(summary.subsets, { VOC2007: 75, Extra: 50 });
  assert.equal(summary.scores.Overall, 75);
  assert.equal(summary.scores.Retrieval, undefined);
  assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), JSON.parse(JSON.stringify(summary)));
});
