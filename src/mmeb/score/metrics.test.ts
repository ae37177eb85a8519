import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { scoreTask, scoreTaskWithInfo, queryMetrics } from './metrics.ts';
import { METRIC_KEYS, type PredLine } from '../tasks/types.ts';

const close = (a: number, b: number, tol = 5e-4) => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

test('spec duplicate example: ["a","a","b"] vs label a', () => {
  const s = scoreTask([{ prediction: ['a', 'a', 'b'], label: ['a'], rel_scores: null }]);
  close(s['ndcg_linear@5'], 1 + 1 / Math.log2(3)); // both "a" occurrences count
  close(s['ndcg_linear@5'], 1.631);
  assert.equal(s['map@5'], 2.0);
  assert.equal(s['hit@1'], 1);
  assert.equal(s['precision@5'], 0.2);
  assert.equal(s['mrr@5'], 1);
  assert.equal(s['recall@5'], 1);
  assert.equal(s.num_pred, 1);
  assert.equal(s.num_data, 1);
});

test('spec graded example: reference pairing 0.936/0.952, corrected 0.776/0.709', () => {
  const line: PredLine = { prediction: ['40', '7', '12', '15', '3'], label: ['12', '15', '40'], rel_scores: [2, 1, 1] };
  const ref = scoreTaskWithInfo([line]);
  close(ref.scores['ndcg_linear@5'], 0.936);
  close(ref.scores['ndcg_exponential@5'], 0.952);
  assert.equal(ref.info.graded_ndcg, 'reference');
  const cor = scoreTaskWithInfo([line], { graded: 'corrected' });
  close(cor.scores['ndcg_linear@5'], 0.776);
  close(cor.scores['ndcg_exponential@5'], 0.709);
  assert.equal(cor.info.graded_ndcg, 'corrected');
  // Equal grades: both pairings give the same numbers, so nothing is flagged (the score file
  // then has exactly the reference's keys).
  const flat: PredLine = { ...line, rel_scores: [1, 1, 1] };
  assert.deepEqual(scoreTaskWithInfo([flat]).info, {});
  assert.deepEqual(scoreTaskWithInfo([flat]).scores, scoreTaskWithInfo([flat], { graded: 'corrected' }).scores);
  assert.deepEqual(scoreTaskWithInfo([flat, line]).info, { graded_ndcg: 'reference' });
  // Hand computation of the reference value: rel [2,0,1,1,0], ideal [2,1,1].
  const dcg = 2 + 1 / 2 + 1 / Math.log2(5);
  const idcg = 2 + 1 / Math.log2(3) + 1 / 2;
  assert.equal(ref.scores['ndcg_linear@5'], dcg / idcg);
});

test('graded pairing follows the declared id type: all-digit str ids are not ordered like ints', () => {
  // Golden values: the reference formula under CPython 3.11 with PYTHONHASHSEED=0, e.g.
  // list(set(['12', '15', '40'])) == ['15', '12', '40'] while list(set([12, 15, 40])) == [40, 12, 15];
  // ndcg_linear@5 = 0.7542018831477091 (str) vs 0.9360403422435027 (int).
  const base: PredLine = { prediction: ['40', '7', '12', '15', '3'], label: ['12', '15', '40'], rel_scores: [2, 1, 1] };
  const asStr = scoreTaskWithInfo([{ ...base, labelKind: 'str' }]);
  assert.equal(asStr.scores['ndcg_linear@5'], 0.7542018831477091);
  assert.equal(asStr.scores['ndcg_exponential@5'], 0.6758840844016503);
  assert.equal(asStr.info.seed_dependent_graded_queries, 1);
  const asInt = scoreTaskWithInfo([{ ...base, labelKind: 'int' }]);
  assert.equal(asInt.scores['ndcg_linear@5'], 0.9360403422435027);
  assert.equal(asInt.scores['ndcg_exponential@5'], 0.9515234565959557);
  assert.equal(asInt.info.seed_dependent_graded_queries, undefined);
  // Unknown kind: the textual guess (canonical integers → int) is the fallback.
  assert.equal(scoreTask([base])['ndcg_linear@5'], 0.9360403422435027);
  assert.throws(() => scoreTask([{ ...base, label: ['12', 'x', '40'], labelKind: 'int' }]), /query 0: label 'x' is not an integer/);
});

test('multiple positives, hand-computed', () => {
  const m = queryMetrics({ prediction: ['d1', 'x', 'd2', 'y', 'z', 'd3'], label: ['d1', 'd2', 'd3'], rel_scores: null }).metrics;
  assert.equal(m['hit@1'], 1);
  assert.equal(m['precision@1'], 1);
  close(m['recall@1'], 1 / 3, 1e-12);
  assert.equal(m['precision@5'], 2 / 5);
  close(m['recall@5'], 2 / 3, 1e-12);
  close(m['f1@5'], (2 * 0.4 * (2 / 3)) / (0.4 + 2 / 3), 1e-12);
  close(m['map@5'], (1 + 2 / 3) / 3, 1e-12);
  close(m['ndcg_linear@5'], 1.5 / (1 + 1 / Math.log2(3) + 0.5), 1e-12);
  close(m['recall@10'], 1, 0);
  close(m['map@10'], (1 + 2 / 3 + 3 / 6) / 3, 1e-12);
  assert.equal(m['mrr@10'], 1);
  // precision divides by k even with fewer candidates
  const few = queryMetrics({ prediction: ['a', 'b'], label: ['b'], rel_scores: null }).metrics;
  assert.equal(few['precision@10'], 0.1);
  assert.equal(few['mrr@5'], 0.5);
  assert.equal(few['hit@1'], 0);
  assert.equal(few['ndcg_linear@1'], 0);
});

test('empty label set: recall 1, everything else 0', () => {
  const m = queryMetrics({ prediction: ['a', 'b'], label: [], rel_scores: null }).metrics;
  for (const k of [1, 5, 10]) {
    assert.equal(m[`recall@${k}` as 'recall@1'], 1);
    assert.equal(m[`precision@${k}` as 'precision@1'], 0);
    assert.equal(m[`hit@${k}` as 'hit@1'], 0);
    assert.equal(m[`f1@${k}` as 'f1@1'], 0);
    assert.equal(m[`map@${k}` as 'map@1'], 0);
    assert.equal(m[`ndcg_linear@${k}` as 'ndcg_linear@1'], 0);
  }
});

test('duplicate labels are deduplicated before counting', () => {
  const m = queryMetrics({ prediction: ['a', 'b', 'c'], label: ['b', 'b'], rel_scores: null }).metrics;
  assert.equal(m['recall@5'], 1);
  assert.equal(m['map@5'], 0.5);
  close(m['ndcg_linear@5'], 1 / Math.log2(3), 1e-12);
});

test('graded length mismatch is a clear error', () => {
  assert.throws(
    () => scoreTask([{ prediction: ['1'], label: ['1', '2'], rel_scores: [1] }]),
    /query 0: .*2 distinct labels but 1 rel_scores/,
  );
});

test('score dict keys are in the reference order', () => {
  const s = scoreTask([{ prediction: ['a'], label: ['a'], rel_scores: null }]);
  assert.deepEqual(Object.keys(s), [...METRIC_KEYS, 'num_pred', 'num_data']);
});

interface Fixture {
  metrics: { kind: string; cases: PredLine[]; scores: Record<string, number>; scores_corrected?: Record<string, number> }[];
}
const fixture = JSON.parse(readFileSync(new URL('../../../test/fixtures/mmeb/set-order.json', import.meta.url), 'utf8')) as Fixture;

test('random tasks equal the CPython/numpy golden scores bit for bit', () => {
  assert.equal(fixture.metrics.length, 4);
  for (const t of fixture.metrics) {
    const s = scoreTask(t.cases);
    for (const k of METRIC_KEYS) assert.equal(s[k], t.scores[k], `${t.kind} ${k}`);
    if (t.scores_corrected) {
      const c = scoreTask(t.cases, { graded: 'corrected' });
      for (const k of METRIC_KEYS) assert.equal(c[k], t.scores_corrected[k], `${t.kind} corrected ${k}`);
      // the two modes must actually differ on this data, or the test proves nothing
      assert.notEqual(c['ndcg_exponential@10'], s['ndcg_exponential@10']);
      const info = scoreTaskWithInfo(t.cases).info;
      assert.equal(info.graded_ndcg, 'reference');
      if (t.kind === 'graded_str') assert.ok((info.seed_dependent_graded_queries ?? 0) > 10);
      else assert.equal(info.seed_dependent_graded_queries, undefined);
    }
  }
});
