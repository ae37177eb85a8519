import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { pyPairRepr, pyStrRepr } from './pyrepr.ts';
import { argmaxFirst, formatV1PredFile, formatV1ScoreFile, v1Scores } from './score.ts';

const FIX = fileURLToPath(new URL('../../../test/fixtures/mmeb/v1/', import.meta.url));
const expected = JSON.parse(readFileSync(`${FIX}expected.json`, 'utf8')) as { repr: [string, string, string][] };

test('pred.txt lines: repr((text, path)) exactly as CPython writes it', () => {
  assert.ok(expected.repr.length >= 9);
  for (const [text, path, gold] of expected.repr) assert.equal(pyPairRepr(text, path), gold, JSON.stringify(text));
  // Hand-checked cases of the quoting rule.
  assert.equal(pyStrRepr("it's"), `"it's"`);
  assert.equal(pyStrRepr(`say "hi"`), `'say "hi"'`);
  assert.equal(pyStrRepr(`it's "x"`), `'it\\'s "x"'`);
  assert.equal(pyStrRepr('\ud800'), "'\\ud800'"); // a lone surrogate
});

test('argmax takes the first maximum: an exact tie with the positive counts as correct', () => {
  assert.equal(argmaxFirst([0.5, 0.2, 0.5]), 0);
  assert.equal(argmaxFirst([0.1, 0.5, 0.5]), 1);
  assert.equal(argmaxFirst([0, 0, 0]), 0);
  assert.equal(argmaxFirst([0.1, NaN, 0.9]), 1); // numpy: NaN is the maximum
  assert.equal(argmaxFirst([-3, -1, -2]), 1);
});

test('dot product and cosine differ on unnormalized vectors', () => {
  const q = Float32Array.of(1, 0);
  const t = [Float32Array.of(1, 0), Float32Array.of(2, 2)];
  assert.deepEqual([...v1Scores(q, t, false)], [1, 2]);
  const cos = v1Scores(q, t, true);
  assert.equal(cos[0], 1);
  assert.ok(Math.abs(cos[1]! - Math.SQRT1_2) < 1e-12);
  assert.equal(argmaxFirst(v1Scores(q, t, false)), 1);
  assert.equal(argmaxFirst(cos), 0);
  // Cosine divides by both norms: a scaled query gives the same scores, the dot product does not.
  assert.deepEqual([...v1Scores(Float32Array.of(5, 0), t, true)], [...cos]);
  assert.deepEqual([...v1Scores(Float32Array.of(5, 0), t, false)], [5, 10]);
  assert.ok(Number.isNaN(v1Scores(Float32Array.of(0, 0), t, true)[0]!)); // 0/0 as numpy
});

test('score file: json.dump(indent=4) with Python float repr, no trailing newline', () => {
  assert.equal(formatV1ScoreFile({ acc: 2 / 3, num_correct: 2, num_pred: 3 }),
    '{\n    "acc": 0.6666666666666666,\n    "num_correct": 2,\n    "num_pred": 3\n}');
  assert.equal(formatV1ScoreFile({ acc: 1, num_correct: 4, num_pred: 4 }), '{\n    "acc": 1.0,\n    "num_correct": 4,\n    "num_pred": 4\n}');
  assert.equal(formatV1ScoreFile({ acc: 0, num_correct: 0, num_pred: 4 }), '{\n    "acc": 0.0,\n    "num_correct": 0,\n    "num_pred": 4\n}');
  assert.equal(formatV1ScoreFile({ acc: 1 / 100000, num_correct: 1, num_pred: 100000 }).split('\n')[1], '    "acc": 1e-05,');
  assert.equal(formatV1PredFile([{ text: "it's", imgPath: '' }, { text: 'a', imgPath: 'x.png' }]), `("it's", '')\n('a', 'x.png')\n`);
  assert.equal(formatV1PredFile([]), '');
});
