// Scoring + ranking speed of the MMEB harness: 1,000 queries × 10,000 candidates × 1,536 dims
// (Q·Cᵀ then a full descending sort per query, like `_pred.jsonl`).
// Compares: ours (WebAssembly SIMD kernel), ours (scalar JS kernel), a naive JS triple loop with
// a comparator sort, and numpy (`Q @ C.T` + `argsort(-S)`, as the reference) when /work/refenv
// (or $VLM2VEC_PYTHON) has numpy. The slow JS variants run on a query subset and are
// extrapolated linearly (the work is linear in the number of queries); this is printed.
// Usage: node --import tsx bench/ranking.ts [queries] [candidates] [dim]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rankGlobalIndices, type Matrix } from '../src/mmeb/rank.ts';

const [nq, nc, dim] = [Number(process.argv[2] ?? 1000), Number(process.argv[3] ?? 10000), Number(process.argv[4] ?? 1536)];

function random(rows: number, seed: number): Matrix {
  let s = seed >>> 0;
  const data = new Float32Array(rows * dim);
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = s / 2 ** 32 - 0.5;
  }
  return { data, rows, dim };
}

function naive(Q: Matrix, C: Matrix, rows: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < rows; i++) {
    const s: number[] = [];
    for (let j = 0; j < C.rows; j++) {
      let acc = 0;
      for (let k = 0; k < dim; k++) acc += (Q.data[i * dim + k] as number) * (C.data[j * dim + k] as number);
      s.push(acc);
    }
    out.push(s.map((_, j) => j).sort((a, b) => (s[b] as number) - (s[a] as number) || a - b));
  }
  return out;
}

function time<T>(f: () => T): [T, number] {
  const t = performance.now();
  const r = f();
  return [r, (performance.now() - t) / 1000];
}

const Q = random(nq, 1);
const C = random(nc, 2);
console.log(`scoring + full ranking: ${nq} queries × ${nc} candidates × ${dim} dims (${((2 * nq * nc * dim) / 1e9).toFixed(1)} GFLOP)`);
const results: [string, number, string][] = [];

const [simd, tSimd] = time(() => rankGlobalIndices(Q, C, { kernel: 'simd' }));
results.push(['ours, wasm SIMD kernel', tSimd, 'measured']);

const sub = Math.min(nq, 64);
const Qs: Matrix = { data: Q.data.subarray(0, sub * dim), rows: sub, dim };
const [js, tJs] = time(() => rankGlobalIndices(Qs, C, { kernel: 'js' }));
results.push(['ours, scalar JS kernel', (tJs * nq) / sub, `${sub} queries, extrapolated`]);

const nsub = Math.min(nq, 16);
const [nv, tNaive] = time(() => naive(Q, C, nsub));
results.push(['naive JS loop + comparator sort', (tNaive * nq) / nsub, `${nsub} queries, extrapolated`]);

// Sanity: the three agree on the top candidate of the first queries (ties are measure-zero here).
for (let i = 0; i < nsub; i++) {
  if (simd[i]?.[0] !== js[i]?.[0] || js[i]?.[0] !== nv[i]?.[0]) console.warn(`warning: top-1 differs on query ${i}`);
}

const python = process.env.VLM2VEC_PYTHON ?? '/work/refenv/bin/python';
if (existsSync(python)) {
  const code = `
import time, numpy as np
rng = np.random.default_rng(0)
Q = (rng.random((${nq}, ${dim}), dtype=np.float32) - 0.5); C = (rng.random((${nc}, ${dim}), dtype=np.float32) - 0.5)
t = time.perf_counter(); S = Q @ C.T; order = np.argsort(-S, axis=1); dt = time.perf_counter() - t
import os; print(dt, np.__version__, os.environ.get('OMP_NUM_THREADS', 'default'))`;
  const r = spawnSync(python, ['-c', code], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1' } });
  const [dt, ver] = (r.stdout ?? '').trim().split(' ');
  if (r.status === 0 && dt) results.push([`numpy ${ver} (Q @ C.T + argsort, 1 BLAS thread)`, Number(dt), 'measured']);
  else console.log(`numpy: skipped (${python} failed: ${(r.stderr ?? '').trim().split('\n').pop()})`);
} else {
  console.log(`numpy: skipped (no Python at ${python}; set VLM2VEC_PYTHON)`);
}

for (const [name, s, how] of results) {
  console.log(`${name.padEnd(52)} ${s.toFixed(2).padStart(8)} s  ${(tSimd > 0 ? s / tSimd : 0).toFixed(1).padStart(6)}× ours  (${how})`);
}
