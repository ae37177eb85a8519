import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { rankOrder } from './rank-order.ts';
import { POOL_MIN_SCORES, rankPoolState, rankRowsPooled, stopRankPool } from './rank-pool.ts';

after(() => stopRankPool());

function block(rows: number, n: number, seed: number): Float32Array {
  let x = seed >>> 0;
  const rnd = () => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const s = Float32Array.from({ length: rows * n }, () => (rnd() < 0.2 ? Math.floor(rnd() * 4) / 2 : rnd() * 2 - 1));
  s[5] = NaN;
  s[n + 3] = -0;
  return s;
}

test('rows ranked on the worker threads equal rankOrder on this thread (full lists, top 10, top 0)', async () => {
  const rows = 37, n = 8000; // 296,000 scores: above POOL_MIN_SCORES, so the pool runs
  assert.ok(rows * n >= POOL_MIN_SCORES);
  const s = block(rows, n, 3);
  for (const k of [n, 10, 0]) {
    const got = await rankRowsPooled(s, rows, n, k);
    assert.equal(got.length, rows);
    for (let i = 0; i < rows; i++) {
      assert.deepEqual(Array.from(got[i] as Int32Array), Array.from(rankOrder(s, i * n, n, k)), `row ${i} k=${k}`);
    }
  }
  assert.equal(rankPoolState(), 'running'); // the threads did the work (a failure falls back and says 'broken')
});

test('the score block is copied before the call returns (the caller may overwrite it at once)', async () => {
  const rows = 40, n = 7000;
  const s = block(rows, n, 4);
  const want = Array.from({ length: rows }, (_, i) => Array.from(rankOrder(s, i * n, n, 3)));
  const pending = rankRowsPooled(s, rows, n, 3);
  s.fill(0);
  assert.deepEqual((await pending).map((r) => Array.from(r)), want);
});
