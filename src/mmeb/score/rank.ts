// Exact dot-product scoring and ranking (docs/mmeb.md §6.1, §6.3).
// Scores are float32 like the reference's numpy `Q · Cᵀ`; the ranking is descending with ties
// broken by candidate order (the reference's unstable argsort is implementation-defined on exact
// ties, §6.3).
//
// Three scoring kernels, same ranking rule (rank-order.ts: radix sort / top-k heap on score bits):
// - `ort`  — blocks of Q·Cᵀ through the tensor engine's cached ORT session (rank-ort.ts); by far
//   the fastest on large pools, but asynchronous, so only in rankGlobalAsync/rankGlobalIndicesAsync;
//   there the rows of each block are ranked on worker threads (rank-pool.ts) while ORT multiplies
//   the next block;
// - `simd` — a WebAssembly f32x4 kernel (simd-kernel.ts), synchronous, no session to build;
// - `js`   — scalar, float64 sums rounded once to float32 (the portable fallback).
// The async entry points pick `ort` above ORT_MIN_WORK multiply-adds and fall back to `simd`/`js`
// when ORT cannot load. See bench/ranking.ts for figures.

import { Vlm2VecError } from '../../errors.ts';
import { simdKernel, type SimdKernel } from './simd-kernel.ts';
import { rankOrder } from './rank-order.ts';
import { POOL_MIN_SCORES, rankRowsPooled, startRankPool } from './rank-pool.ts';

export { rankOrder };

/** Row-major float32 matrix: `rows` vectors of length `dim`. */
export interface Matrix {
  data: Float32Array;
  rows: number;
  dim: number;
}

export interface RankOptions {
  /** Keep only the first `topK` ranked keys per query (default: the full list, like `_pred.jsonl`). */
  topK?: number;
  /**
   * Queries scored per block (bounds memory: blockRows × pool size floats). Default 64 for the
   * simd/js kernels; for `ort` up to 256 (fewer runs), fewer when the pool is huge (≤ 2^24 floats).
   */
  blockRows?: number;
  /**
   * Scoring kernel: `ort` (tensor engine / ONNX Runtime; async entry points only), `simd`
   * (WebAssembly f32x4) or `js` (scalar, float64 sums). Default: the fastest that works for the
   * size — `ort` for large pools in the async functions, else `simd` when available, else `js`.
   */
  kernel?: 'ort' | 'simd' | 'js';
  /**
   * With the `ort` kernel, rank the rows of each score block on worker threads while ORT
   * multiplies the next block (rank-pool.ts). Default true; false ranks on the calling thread
   * (same result, slower; e.g. where worker threads are unwanted).
   */
  sortThreads?: boolean;
}

/**
 * Pack vectors into one row-major matrix, checking they share a dimension.
 *
 * @example
 * toMatrix([new Float32Array([1, 0]), new Float32Array([0, 1])], 'MSCOCO_t2i queries'); // {rows: 2, dim: 2, ...}
 */
export function toMatrix(vectors: readonly Float32Array[], what: string): Matrix {
  const rows = vectors.length;
  const dim = vectors[0]?.length ?? 0;
  const data = new Float32Array(rows * dim);
  for (let i = 0; i < rows; i++) {
    const v = vectors[i] as Float32Array;
    if (v.length !== dim) {
      throw new Vlm2VecError('rank', `${what}: vector ${i} has dimension ${v.length}, expected ${dim} (as vector 0)`);
    }
    data.set(v, i * dim);
  }
  return { data, rows, dim };
}

function asMatrix(m: Matrix | readonly Float32Array[], what: string): Matrix {
  return Array.isArray(m) ? toMatrix(m as readonly Float32Array[], what) : (m as Matrix);
}

/**
 * Scores of query rows [q0, q1) against all candidate rows: out[(i - q0) * C.rows + j] = Q[i]·C[j].
 * `out` must hold (q1 - q0) × C.rows floats.
 */
export function scoreRows(Q: Matrix, q0: number, q1: number, C: Matrix, out: Float32Array): void {
  const dim = Q.dim;
  if (C.dim !== dim) throw new Vlm2VecError('rank', `query dimension ${dim} does not match candidate dimension ${C.dim}`);
  const q = Q.data;
  const c = C.data;
  const nc = C.rows;
  // Candidate tiles of ~256 KB stay in L2 while every query block of the tile passes over them.
  const tile = Math.max(2, Math.floor(65536 / Math.max(1, dim)));
  for (let j0 = 0; j0 < nc; j0 += tile) {
    const j1 = Math.min(nc, j0 + tile);
    let i = q0;
    for (; i + 4 <= q1; i += 4) {
      const a0 = i * dim, a1 = a0 + dim, a2 = a1 + dim, a3 = a2 + dim;
      const r0 = (i - q0) * nc, r1 = r0 + nc, r2 = r1 + nc, r3 = r2 + nc;
      let j = j0;
      for (; j + 2 <= j1; j += 2) {
        const b0 = j * dim, b1 = b0 + dim;
        let s00 = 0, s01 = 0, s10 = 0, s11 = 0, s20 = 0, s21 = 0, s30 = 0, s31 = 0;
        for (let k = 0; k < dim; k++) {
          const x0 = c[b0 + k] as number, x1 = c[b1 + k] as number;
          const y0 = q[a0 + k] as number, y1 = q[a1 + k] as number;
          const y2 = q[a2 + k] as number, y3 = q[a3 + k] as number;
          s00 += y0 * x0; s01 += y0 * x1;
          s10 += y1 * x0; s11 += y1 * x1;
          s20 += y2 * x0; s21 += y2 * x1;
          s30 += y3 * x0; s31 += y3 * x1;
        }
        out[r0 + j] = s00; out[r0 + j + 1] = s01;
        out[r1 + j] = s10; out[r1 + j + 1] = s11;
        out[r2 + j] = s20; out[r2 + j + 1] = s21;
        out[r3 + j] = s30; out[r3 + j + 1] = s31;
      }
      for (; j < j1; j++) {
        const b0 = j * dim;
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (let k = 0; k < dim; k++) {
          const x = c[b0 + k] as number;
          s0 += (q[a0 + k] as number) * x; s1 += (q[a1 + k] as number) * x;
          s2 += (q[a2 + k] as number) * x; s3 += (q[a3 + k] as number) * x;
        }
        out[r0 + j] = s0; out[r1 + j] = s1; out[r2 + j] = s2; out[r3 + j] = s3;
      }
    }
    for (; i < q1; i++) {
      const a = i * dim;
      const r = (i - q0) * nc;
      for (let j = j0; j < j1; j++) out[r + j] = dot(q, a, c, j * dim, dim);
    }
  }
}

function dot(a: Float32Array, ao: number, b: Float32Array, bo: number, n: number): number {
  let s = 0;
  for (let k = 0; k < n; k++) s += (a[ao + k] as number) * (b[bo + k] as number);
  return s;
}

/**
 * Global ranking: every query against the whole pool (Q·Cᵀ), each row fully sorted.
 * Returns, per query, the pool indices in ranked order.
 */
export function rankGlobalIndices(
  queries: Matrix | readonly Float32Array[],
  pool: Matrix | readonly Float32Array[],
  opts: RankOptions = {},
): Int32Array[] {
  if (opts.kernel === 'ort') {
    throw new Vlm2VecError('rank', "kernel 'ort' runs asynchronously: call rankGlobalIndicesAsync/rankGlobalAsync, or choose kernel 'simd' or 'js'");
  }
  const { Q, C } = prepare(queries, pool);
  if (C.rows === 0) return Array.from({ length: Q.rows }, () => new Int32Array(0));
  return rankSync(Q, C, opts);
}

function prepare(queries: Matrix | readonly Float32Array[], pool: Matrix | readonly Float32Array[]): { Q: Matrix; C: Matrix } {
  const Q = asMatrix(queries, 'queries');
  const C = asMatrix(pool, 'candidate pool');
  if (Q.rows > 0 && C.rows > 0 && Q.dim !== C.dim) {
    throw new Vlm2VecError('rank', `query dimension ${Q.dim} does not match candidate dimension ${C.dim}`);
  }
  return { Q, C };
}

function rankSync(Q: Matrix, C: Matrix, opts: RankOptions): Int32Array[] {
  const block = Math.max(1, opts.blockRows ?? 64);
  const topK = opts.topK ?? C.rows;
  const kernel = opts.kernel === 'js' ? null : simdKernel();
  if (opts.kernel === 'simd' && kernel === null) throw new Vlm2VecError('rank', 'WebAssembly SIMD is not available in this runtime');
  if (kernel && Q.rows > 0 && C.rows > 0) return rankGlobalSimd(kernel, Q, C, block, topK);
  const out: Int32Array[] = [];
  const buf = new Float32Array(Math.min(block, Math.max(1, Q.rows)) * C.rows);
  for (let q0 = 0; q0 < Q.rows; q0 += block) {
    const q1 = Math.min(Q.rows, q0 + block);
    scoreRows(Q, q0, q1, C, buf);
    for (let i = q0; i < q1; i++) out.push(rankOrder(buf, (i - q0) * C.rows, C.rows, topK));
  }
  return out;
}

/**
 * Below this many multiply-adds (queries × candidates × dim) the synchronous kernels win: the
 * first ORT call builds a session (tens of ms), and each run costs ~35 µs + copies.
 */
export const ORT_MIN_WORK = 5e7;

/** Score-block budget for the ORT path (floats): bounds memory on very large pools. */
const ORT_BLOCK_FLOATS = 2 ** 24;

let ortModule: Promise<typeof import('./rank-ort.ts')> | null = null;
let ortFailure: unknown = null;

/**
 * {@link rankGlobalIndices} with the `ort` kernel available (and chosen by default for pools of
 * at least {@link ORT_MIN_WORK} multiply-adds). Same result rule: descending score, ties by
 * candidate order; `topK` keeps only the first keys.
 *
 * @example
 * await rankGlobalIndicesAsync(queries, pool, { topK: 10 }); // Int32Array[] of pool indices
 */
export async function rankGlobalIndicesAsync(
  queries: Matrix | readonly Float32Array[],
  pool: Matrix | readonly Float32Array[],
  opts: RankOptions = {},
): Promise<Int32Array[]> {
  const { Q, C } = prepare(queries, pool);
  if (C.rows === 0) return Array.from({ length: Q.rows }, () => new Int32Array(0));
  const auto = opts.kernel === undefined;
  const useOrt = opts.kernel === 'ort' || (auto && ortFailure === null && Q.rows * C.rows * Q.dim >= ORT_MIN_WORK);
  if (Q.rows === 0) return [];
  if (!useOrt) return rankSync(Q, C, opts);
  const topK = opts.topK ?? C.rows;
  try {
    ortModule ??= import('./rank-ort.ts');
    const { scoreBlocksOrt } = await ortModule;
    const block = opts.blockRows ?? Math.max(1, Math.min(256, Math.floor(ORT_BLOCK_FLOATS / C.rows)));
    // Each block's rows are ranked on the pool's threads while ORT multiplies the next block
    // (rank-pool.ts; ORT's run blocks this thread). Blocks are collected in order.
    const k = Math.max(0, Math.min(C.rows, topK));
    const threads = opts.sortThreads !== false;
    if (threads && Q.rows * C.rows >= POOL_MIN_SCORES) startRankPool();
    const blocks: Promise<Int32Array[]>[] = [];
    await scoreBlocksOrt(Q, C, Math.max(1, block), (_q0, n, s) => {
      if (threads) blocks.push(rankRowsPooled(s, n, C.rows, k));
      else blocks.push(Promise.resolve(Array.from({ length: n }, (_, i) => rankOrder(s, i * C.rows, C.rows, k))));
    });
    return (await Promise.all(blocks)).flat();
  } catch (err) {
    if (!auto) throw err instanceof Vlm2VecError ? err : new Vlm2VecError('rank', `ORT scoring of ${Q.rows} × ${C.rows} × ${Q.dim} failed: ${String(err)}`);
    // Default mode: the fastest kernel *that works* — remember the failure, say so once, carry on.
    ortFailure = err;
    process.emitWarning(`[rank] ONNX Runtime scoring unavailable (${String(err)}); using the WebAssembly/JS kernels`);
    return rankSync(Q, C, opts);
  }
}

/**
 * {@link rankGlobal} on {@link rankGlobalIndicesAsync}: the fast path for large pools.
 *
 * @example
 * await rankGlobalAsync(queryVectors, poolVectors, poolKeys); // [['doc1', 'doc0'], ...]
 */
export async function rankGlobalAsync(
  queries: Matrix | readonly Float32Array[],
  pool: Matrix | readonly Float32Array[],
  keys: readonly string[],
  opts: RankOptions = {},
): Promise<string[][]> {
  checkKeys(pool, keys);
  return (await rankGlobalIndicesAsync(queries, pool, opts)).map((idx) => Array.from(idx, (i) => keys[i] as string));
}

function checkKeys(pool: Matrix | readonly Float32Array[], keys: readonly string[]): void {
  const rows = Array.isArray(pool) ? pool.length : (pool as Matrix).rows;
  if (keys.length !== rows) {
    throw new Vlm2VecError('rank', `candidate pool has ${rows} vectors but ${keys.length} keys`);
  }
}

/**
 * Global ranking returning keys (`prediction` lists of `_pred.jsonl`).
 *
 * @example
 * rankGlobal([q], [c0, c1], ['doc0', 'doc1']); // [['doc1', 'doc0']] when q·c1 > q·c0
 */
export function rankGlobal(
  queries: Matrix | readonly Float32Array[],
  pool: Matrix | readonly Float32Array[],
  keys: readonly string[],
  opts: RankOptions = {},
): string[][] {
  checkKeys(pool, keys);
  return rankGlobalIndices(queries, pool, opts).map((idx) => Array.from(idx, (i) => keys[i] as string));
}

/**
 * Local ranking: each query ranks its own candidate list (duplicate keys kept, each occurrence
 * scored), ties by list position.
 *
 * @example
 * rankLocal([q], [['cat', 'dog', 'cat']], vectors); // e.g. [['dog', 'cat', 'cat']]
 */
export function rankLocal(
  queries: readonly Float32Array[],
  lists: readonly (readonly string[])[],
  vectors: ReadonlyMap<string, Float32Array>,
  opts: RankOptions = {},
): string[][] {
  if (queries.length !== lists.length) {
    throw new Vlm2VecError('rank', `${queries.length} query vectors but ${lists.length} candidate lists`);
  }
  const out: string[][] = [];
  for (let i = 0; i < queries.length; i++) {
    const q = queries[i] as Float32Array;
    const list = lists[i] as readonly string[];
    const scores = new Float32Array(list.length);
    for (let j = 0; j < list.length; j++) {
      const key = list[j] as string;
      const v = vectors.get(key);
      if (!v) throw new Vlm2VecError('rank', `query ${i}: no embedding for candidate '${key}'`);
      if (v.length !== q.length) {
        throw new Vlm2VecError('rank', `query ${i}: candidate '${key}' has dimension ${v.length}, expected ${q.length}`);
      }
      scores[j] = dot(q, 0, v, 0, q.length);
    }
    const order = rankOrder(scores, 0, list.length, opts.topK ?? list.length);
    out.push(Array.from(order, (j) => list[j] as string));
  }
  return out;
}

/**
 * The SIMD path of {@link rankGlobalIndices}. Wasm memory layout: [C padded][Q block padded][scores];
 * candidate tiles of ~512 KB are swept by each query block so they are read from cache.
 */
function rankGlobalSimd(kernel: SimdKernel, Q: Matrix, C: Matrix, block: number, topK: number): Int32Array[] {
  const dim = Q.dim;
  const d4 = Math.ceil(dim / 4);
  const rb = d4 * 16;
  const ncPad = C.rows + (C.rows % 2);
  const qb = Math.ceil(Math.min(block, Q.rows) / 4) * 4;
  const cPtr = 0;
  const qPtr = ncPad * rb;
  const outPtr = qPtr + qb * rb;
  const bytes = outPtr + qb * ncPad * 4;
  if (bytes > 2 ** 32 - 65536) {
    throw new Vlm2VecError('rank', `scoring ${C.rows} candidates × ${dim} dims needs ${bytes} bytes of wasm memory (max 4 GiB); use kernel 'js'`);
  }
  const mem = kernel.memory;
  const need = Math.ceil(bytes / 65536) - mem.buffer.byteLength / 65536;
  if (need > 0) mem.grow(need);
  const f32 = new Float32Array(mem.buffer);
  f32.fill(0, 0, bytes / 4);
  const stride = rb / 4;
  for (let j = 0; j < C.rows; j++) f32.set(C.data.subarray(j * dim, (j + 1) * dim), (cPtr / 4) + j * stride);
  const tile = Math.max(2, Math.floor(524288 / rb / 2) * 2);
  const scores = f32.subarray(outPtr / 4, outPtr / 4 + qb * ncPad);
  const out: Int32Array[] = [];
  for (let q0 = 0; q0 < Q.rows; q0 += qb) {
    const n = Math.min(qb, Q.rows - q0);
    f32.fill(0, qPtr / 4, qPtr / 4 + qb * stride);
    for (let i = 0; i < n; i++) f32.set(Q.data.subarray((q0 + i) * dim, (q0 + i + 1) * dim), qPtr / 4 + i * stride);
    const rows4 = Math.ceil(n / 4) * 4;
    for (let j0 = 0; j0 < ncPad; j0 += tile) {
      const nt = Math.min(tile, ncPad - j0);
      kernel.scores(qPtr, rows4, cPtr + j0 * rb, nt, d4, outPtr + j0 * 4, ncPad * 4);
    }
    for (let i = 0; i < n; i++) out.push(rankOrder(scores, i * ncPad, C.rows, topK));
  }
  return out;
}
