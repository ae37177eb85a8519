import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configureRuntime } from '../../tensor/index.ts';
import { ORT_MIN_WORK, rankGlobal, rankGlobalAsync, rankGlobalIndices, rankGlobalIndicesAsync, type Matrix } from './rank.ts';
import { ortScoringSessions } from './rank-ort.ts';

configureRuntime({ threads: 1 }); // 2 shared cores

function random(rows: number, dim: number, seed: number): Matrix {
  let x = seed >>> 0;
  const data = new Float32Array(rows * dim);
  for (let i = 0; i < data.length; i++) data[i] = (x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5;
  return { data, rows, dim };
}

/** Exact (float64) dot products of query i with every candidate. */
function exact(Q: Matrix, C: Matrix, i: number): Float64Array {
  const s = new Float64Array(C.rows);
  for (let j = 0; j < C.rows; j++) {
    let a = 0;
    for (let k = 0; k < Q.dim; k++) a += (Q.data[i * Q.dim + k] as number) * (C.data[j * Q.dim + k] as number);
    s[j] = a;
  }
  return s;
}

test('ORT kernel ranks like the JS kernel wherever score gaps exceed 1e-6', async () => {
  const Q = random(37, 96, 1), C = random(700, 96, 2);
  const ort = await rankGlobalIndicesAsync(Q, C, { kernel: 'ort', blockRows: 8 });
  const js = rankGlobalIndices(Q, C, { kernel: 'js' });
  let clearRows = 0;
  for (let i = 0; i < Q.rows; i++) {
    const s = exact(Q, C, i);
    const o = Array.from(ort[i] as Int32Array);
    assert.equal(new Set(o).size, C.rows, `query ${i}: a permutation of the pool`);
    for (let r = 1; r < o.length; r++) {
      assert.ok((s[o[r - 1] as number] as number) >= (s[o[r] as number] as number) - 1e-6, `query ${i} rank ${r}`);
    }
    // Top-10 identical to the JS kernel when no gap among the first 11 (exact scores) is ≤ 1e-6.
    const j = Array.from(js[i] as Int32Array);
    const gaps = j.slice(0, 11).every((c, r) => r === 0 || (s[j[r - 1] as number] as number) - (s[c] as number) > 1e-6);
    if (gaps) {
      clearRows++;
      assert.deepEqual(o.slice(0, 10), j.slice(0, 10), `query ${i} top-10`);
    }
  }
  assert.ok(clearRows >= 30, `only ${clearRows} of 37 queries without near-ties in the top 11`);
});

test('ORT kernel: exact ties keep candidate order (duplicated rows, all-zero query), topK', async () => {
  const dim = 64;
  const Q = random(5, dim, 3), C = random(300, dim, 4);
  C.data.copyWithin(200 * dim, 40 * dim, 41 * dim); // candidate 200 duplicates candidate 40
  Q.data.fill(0, 4 * dim, 5 * dim); // query 4 scores 0 against everything
  const all = await rankGlobalIndicesAsync(Q, C, { kernel: 'ort' });
  for (let i = 0; i < 4; i++) {
    const o = Array.from(all[i] as Int32Array);
    assert.equal(o.indexOf(200), o.indexOf(40) + 1, `query ${i}: duplicate follows its original`);
  }
  assert.deepEqual(Array.from(all[4] as Int32Array), Array.from({ length: 300 }, (_, j) => j));
  const top = await rankGlobalIndicesAsync(Q, C, { kernel: 'ort', topK: 10 });
  for (let i = 0; i < 5; i++) assert.deepEqual(Array.from(top[i] as Int32Array), Array.from(all[i] as Int32Array).slice(0, 10));
});

test('one ORT session serves every block size and pool size of a dimension', async () => {
  const dim = 40;
  const before = ortScoringSessions();
  const Q = random(23, dim, 5);
  for (const [nc, block] of [[50, 7], [333, 23], [51, 1]] as const) {
    const C = random(nc, dim, nc);
    const got = await rankGlobalIndicesAsync(Q, C, { kernel: 'ort', blockRows: block, topK: 5 });
    assert.equal(got.length, 23);
    const s = exact(Q, C, 22);
    const best = s.indexOf(Math.max(...s));
    assert.equal(got[22]?.[0], best, `pool ${nc}, block ${block}: best candidate of the last query`);
  }
  assert.equal(ortScoringSessions() - before, 1);
});

test('async entry points: default kernel by size, keys, errors', async () => {
  const Q = random(6, 16, 6), C = random(30, 16, 7);
  const keys = Array.from({ length: 30 }, (_, j) => `c${j}`);
  const sessions = ortScoringSessions();
  const small = await rankGlobalAsync(Q, C, keys); // 2,880 multiply-adds: synchronous kernel
  assert.equal(ortScoringSessions(), sessions, 'tiny pools do not build an ORT session');
  assert.deepEqual(small, rankGlobal(Q, C, keys, { kernel: 'js' }));
  assert.ok(6 * 30 * 16 < ORT_MIN_WORK);
  await assert.rejects(rankGlobalAsync(Q, C, keys.slice(1)), /30 vectors but 29 keys/);
  await assert.rejects(rankGlobalIndicesAsync(Q, random(3, 8, 1), { kernel: 'ort' }), /query dimension 16 does not match candidate dimension 8/);
  assert.throws(() => rankGlobalIndices(Q, C, { kernel: 'ort' }), /kernel 'ort' runs asynchronously/);
  assert.deepEqual(await rankGlobalAsync([], [], [], { kernel: 'ort' }), []);
  assert.deepEqual(await rankGlobalAsync([new Float32Array([1, 2])], [], [], { kernel: 'ort' }), [[]]);
});

test('default kernel is ORT from ORT_MIN_WORK multiply-adds on', async () => {
  const dim = 1000;
  const Q = random(100, dim, 8), C = random(ORT_MIN_WORK / (100 * dim), dim, 9);
  const sessions = ortScoringSessions();
  const got = await rankGlobalIndicesAsync(Q, C, { topK: 3 });
  assert.equal(ortScoringSessions(), sessions + 1, 'a new dimension builds the ORT session');
  for (const i of [0, 57, 99]) {
    const s = exact(Q, C, i);
    const order = Array.from(s, (_, j) => j).sort((a, b) => (s[b] as number) - (s[a] as number));
    assert.deepEqual(Array.from(got[i] as Int32Array), order.slice(0, 3), `query ${i}`);
  }
});

test('ORT blocks ranked on the worker pool equal ranking on this thread (full lists and top 10)', async () => {
  const { rankPoolState, stopRankPool } = await import('./rank-pool.ts');
  const Q = random(40, 16, 9), C = random(7000, 16, 10); // 280,000 scores: the pool runs
  C.data.copyWithin(6000 * 16, 17 * 16, 18 * 16); // an exact tie: 6000 duplicates 17
  for (const topK of [7000, 10]) {
    const pooled = await rankGlobalIndicesAsync(Q, C, { kernel: 'ort', blockRows: 16, topK });
    const here = await rankGlobalIndicesAsync(Q, C, { kernel: 'ort', blockRows: 16, topK, sortThreads: false });
    assert.equal(rankPoolState(), 'running');
    assert.deepEqual(pooled.map((r) => Array.from(r)), here.map((r) => Array.from(r)), `topK ${topK}`);
  }
  await stopRankPool();
});
