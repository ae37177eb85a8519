import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rankOrder, rankGlobal, rankGlobalIndices, rankLocal, scoreRows, toMatrix } from './rank.ts';
import { buildCandidatePool } from '../load/pool.ts';
import type { LoadedTask, TaskDef } from '../tasks/types.ts';
import { getTask } from '../tasks/registry.ts';

const v = (...x: number[]) => new Float32Array(x);

test('ties keep candidate order, descending otherwise', () => {
  assert.deepEqual([...rankOrder(v(0.1, 0.9, 0.9, -1, 0.1), 0, 5)], [1, 2, 0, 4, 3]);
  assert.deepEqual([...rankOrder(v(0, -0, 0, 1e-30), 0, 4)], [3, 0, 1, 2]);
  assert.deepEqual([...rankOrder(v(NaN, 1, -Infinity), 0, 3)], [1, 2, 0]);
  assert.deepEqual([...rankOrder(v(3, 1, 2), 0, 3, 2)], [0, 2]);
});

test('global ranking equals a brute-force sort on random data (odd sizes exercise every kernel tail)', () => {
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5;
  const dim = 13;
  const Q = Array.from({ length: 11 }, () => Float32Array.from({ length: dim }, rnd));
  const C: Float32Array[] = Array.from({ length: 37 }, () => Float32Array.from({ length: dim }, rnd));
  C[5] = C[9] as Float32Array; // an exact tie: index 5 must precede 9
  const keys = C.map((_, i) => `c${i}`);
  const got = rankGlobal(Q, C, keys, { blockRows: 3, kernel: 'js' });
  Q.forEach((q, qi) => {
    const s = C.map((c) => Math.fround(c.reduce((a, x, k) => a + x * (q[k] as number), 0)));
    const want = keys.map((_, i) => i).sort((a, b) => (s[b] as number) - (s[a] as number) || a - b).map((i) => `c${i}`);
    assert.deepEqual(got[qi], want, `query ${qi}`);
    assert.ok((got[qi] as string[]).indexOf('c5') < (got[qi] as string[]).indexOf('c9'));
  });
  const top = rankGlobalIndices(Q, C, { topK: 10, kernel: 'js' });
  assert.equal(top[0]?.length, 10);
  assert.deepEqual(Array.from(top[0] as Int32Array, (i) => `c${i}`), got[0]?.slice(0, 10));
  // SIMD kernel (float32 lanes): order agrees with float64 scores up to rounding, ties by index.
  const simd = rankGlobal(Q, C, keys, { kernel: 'simd', blockRows: 5 });
  Q.forEach((q, qi) => {
    const s = C.map((c) => c.reduce((a, x, k) => a + x * (q[k] as number), 0));
    const idx = (simd[qi] as string[]).map((k) => Number(k.slice(1)));
    for (let r = 1; r < idx.length; r++) assert.ok((s[idx[r - 1] as number] as number) >= (s[idx[r] as number] as number) - 1e-5);
    assert.ok(idx.indexOf(5) < idx.indexOf(9));
    assert.deepEqual(new Set(idx).size, 37);
  });
  const out = new Float32Array(2 * 37);
  scoreRows(toMatrix(Q, 'q'), 4, 6, toMatrix(C, 'c'), out);
  assert.equal(out[37 + 3], Math.fround((Q[5] as Float32Array).reduce((a, x, k) => a + x * ((C[3] as Float32Array)[k] as number), 0)));
});

test('SIMD kernel across several candidate tiles, padded dim and rows, topK', () => {
  let seed = 11;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5;
  const dim = 1030; // not a multiple of 4; 300 candidates span 3 tiles of 126 rows
  const Q = Array.from({ length: 9 }, () => Float32Array.from({ length: dim }, rnd));
  const C: Float32Array[] = Array.from({ length: 301 }, () => Float32Array.from({ length: dim }, rnd));
  C[250] = C[3] as Float32Array;
  const idx = rankGlobalIndices(Q, C, { kernel: 'simd', blockRows: 6 });
  const top = rankGlobalIndices(Q, C, { kernel: 'simd', topK: 7 });
  Q.forEach((q, qi) => {
    const s = C.map((c) => c.reduce((a, x, k) => a + x * (q[k] as number), 0));
    const order = Array.from(idx[qi] as Int32Array);
    assert.equal(new Set(order).size, 301);
    for (let r = 1; r < order.length; r++) assert.ok((s[order[r - 1] as number] as number) >= (s[order[r] as number] as number) - 1e-4, `query ${qi} rank ${r}`);
    assert.ok(order.indexOf(3) === order.indexOf(250) - 1, 'identical candidates tie, lower index first');
    assert.deepEqual(Array.from(top[qi] as Int32Array), order.slice(0, 7));
  });
});

test('local ranking keeps duplicate keys and list order on ties', () => {
  const vectors = new Map([['a', v(1, 0)], ['b', v(0, 1)], ['c', v(0.5, 0.5)]]);
  const got = rankLocal([v(0, 1), v(1, 1)], [['a', 'b', 'a', 'c'], ['a', 'b', 'c']], vectors);
  assert.deepEqual(got, [['b', 'c', 'a', 'a'], ['a', 'b', 'c']]);
  assert.throws(() => rankLocal([v(1, 0)], [['zz']], vectors), /query 0: no embedding for candidate 'zz'/);
  assert.throws(() => rankLocal([v(1, 0, 0)], [['a']], vectors), /dimension 2, expected 3/);
});

test('empty inputs give empty rankings', () => {
  assert.deepEqual(rankGlobal([], [], []), []);
  assert.deepEqual(rankGlobal([v(1, 2)], [], []), [[]]);
  assert.deepEqual(rankLocal([v(1)], [[]], new Map()), [[]]);
  assert.deepEqual(rankGlobal([v(1, 2, 3)], [v(1, 0, 0), v(0, 0, 1)], ['a', 'b']), [['b', 'a']]);
});

test('dimension mismatches are clear errors', () => {
  assert.throws(() => toMatrix([v(1, 2), v(1)], 'K700 candidates'), /K700 candidates: vector 1 has dimension 1, expected 2/);
  assert.throws(() => rankGlobal([v(1, 2)], [v(1, 2, 3)], ['x']), /query dimension 2 does not match candidate dimension 3/);
  assert.throws(() => rankGlobal([v(1, 2)], [v(1, 2)], ['x', 'y']), /1 vectors but 2 keys/);
});

test('candidate pool: queries first in order, then corpus, first occurrence wins', () => {
  const task = getTask('K700') as TaskDef;
  const cand = (key: string, text: string) => ({ key, item: { text } });
  const loaded: LoadedTask = {
    task,
    queries: [
      { item: { text: 'q0' }, candidates: [cand('x', 'x-first'), cand('y', 'y')], label: ['x'], relScores: null },
      { item: { text: 'q1' }, candidates: [cand('x', 'x-second'), cand('z', 'z')], label: ['z'], relScores: null },
    ],
    corpus: [cand('w', 'w'), cand('y', 'y-corpus')],
  };
  const pool = buildCandidatePool(loaded);
  assert.deepEqual(pool.map((c) => c.key), ['x', 'y', 'z', 'w']);
  assert.equal(pool[0]?.item.text, 'x-first');
  assert.equal(pool[1]?.item.text, 'y');
});
