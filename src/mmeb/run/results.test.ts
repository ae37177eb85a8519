import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatPredLine, formatScoreFile, pyFloat, pyString, readFinishedScores, writeTaskResults } from './results.ts';
import { METRIC_KEYS, type ScoreDict, type TaskDef } from '../tasks/types.ts';

test('pyFloat writes floats exactly like Python repr', () => {
  // Expected strings are Python 3 `repr(x)` of the same doubles.
  const cases: [number, string][] = [
    [1, '1.0'], [0, '0.0'], [0.1, '0.1'], [1e-5, '1e-05'], [1.5e-5, '1.5e-05'], [0.0001, '0.0001'],
    [1e16, '1e+16'], [1e15, '1000000000000000.0'], [123456789012345678, '1.2345678901234568e+17'],
    [2 / 3, '0.6666666666666666'], [100, '100.0'], [(1 / 3) * 1e-7, '3.333333333333333e-08'],
    [12345.678, '12345.678'], [-0.25, '-0.25'], [5e-324, '5e-324'], [1.7976931348623157e308, '1.7976931348623157e+308'],
  ];
  for (const [x, s] of cases) assert.equal(pyFloat(x), s, String(x));
});

test('pred lines match json.dumps (separators, ensure_ascii, null)', () => {
  const line = formatPredLine({ prediction: ['café', 'a"b\\', '\n\x7f\u2028😀'], label: ['x'], rel_scores: null });
  assert.equal(line, String.raw`{"prediction": ["caf\u00e9", "a\"b\\", "\n\u007f\u2028\ud83d\ude00"], "label": ["x"], "rel_scores": null}`);
  assert.equal(formatPredLine({ prediction: ['1', '2'], label: ['2'], rel_scores: [2] }),
    '{"prediction": ["1", "2"], "label": ["2"], "rel_scores": [2]}');
  assert.equal(pyString('tab\there'), '"tab\\there"');
  // Python int ids (ViDoRe's int64 corpus-id) are JSON numbers in the reference's file
  // (json.dumps({"prediction": [40, 7], "label": [12, 15], ...})); str ids stay strings even when all digits.
  assert.equal(formatPredLine({ prediction: ['40', '7'], label: ['12', '15'], rel_scores: [2, 1], labelKind: 'int' }),
    '{"prediction": [40, 7], "label": [12, 15], "rel_scores": [2, 1]}');
  assert.equal(formatPredLine({ prediction: ['40', '7'], label: ['12'], rel_scores: [2], labelKind: 'str' }),
    '{"prediction": ["40", "7"], "label": ["12"], "rel_scores": [2]}');
  // 64-bit ids are written from their decimal text, never through a double.
  assert.equal(formatPredLine({ prediction: ['9007199254740993'], label: ['9007199254740993'], rel_scores: [1], labelKind: 'int' }),
    '{"prediction": [9007199254740993], "label": [9007199254740993], "rel_scores": [1]}');
  assert.throws(() => formatPredLine({ prediction: ['a'], label: ['1'], rel_scores: [1], labelKind: 'int' }), /prediction id 'a' is not an integer/);
});

test('score file: 24 metrics in reference order, then num_pred, num_data, indent 4', () => {
  const scores = Object.fromEntries(METRIC_KEYS.map((k, i) => [k, i === 0 ? 1 : i / 8])) as Record<string, number>;
  const text = formatScoreFile({ ...scores, num_pred: 8, num_data: 8 } as ScoreDict, { graded_ndcg: 'reference' });
  const lines = text.split('\n');
  assert.equal(lines[0], '{');
  assert.equal(lines[1], '    "hit@1": 1.0,');
  assert.equal(lines[2], '    "hit@5": 0.125,');
  assert.equal(lines[24], '    "mrr@10": 2.875,');
  assert.equal(lines[25], '    "num_pred": 8,');
  assert.equal(lines[26], '    "num_data": 8,');
  assert.equal(lines[27], '    "graded_ndcg": "reference"');
  assert.equal(lines[28], '}');
  assert.deepEqual(Object.keys(JSON.parse(text)), [...METRIC_KEYS, 'num_pred', 'num_data', 'graded_ndcg']);
});

test('results are written under OUT/<modality>/ and a finished task is recognised', async () => {
  const out = mkdtempSync(join(tmpdir(), 'v2v-results-'));
  try {
    const task = { name: 'Fake_t2i', modality: 'image', metric: 'hit@1' } as TaskDef;
    assert.equal(readFinishedScores(out, task), undefined);
    const scores = { ...Object.fromEntries(METRIC_KEYS.map((k) => [k, 0.5])), num_pred: 2, num_data: 2 } as ScoreDict;
    const { scoreFile, predFile } = await writeTaskResults(out, task, scores, [
      { prediction: ['b', 'a'], label: ['a'], rel_scores: null },
      { prediction: ['a', 'b'], label: ['a'], rel_scores: null },
    ]);
    assert.equal(scoreFile, join(out, 'image', 'Fake_t2i_score.json'));
    assert.equal(readFileSync(predFile, 'utf8').split('\n').length, 3);
    assert.equal(readFinishedScores(out, task)?.['hit@1'], 0.5);
    // A score file without the headline metric does not count as finished.
    mkdirSync(join(out, 'image'), { recursive: true });
    writeFileSync(scoreFile, '{"num_pred": 2}');
    assert.equal(readFinishedScores(out, task), undefined);
    // A graded task scored with the other nDCG pairing is not finished for this mode.
    await writeTaskResults(out, task, scores, [], { graded_ndcg: 'reference' });
    assert.equal(readFinishedScores(out, task)?.['hit@1'], 0.5);
    assert.equal(readFinishedScores(out, task, 'reference')?.['hit@1'], 0.5);
    assert.equal(readFinishedScores(out, task, 'corrected'), undefined);
    await writeTaskResults(out, task, scores, [], { graded_ndcg: 'corrected' });
    assert.equal(readFinishedScores(out, task), undefined);
    assert.equal(readFinishedScores(out, task, 'corrected')?.['hit@1'], 0.5);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
