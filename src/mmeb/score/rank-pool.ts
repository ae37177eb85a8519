// Ranking score blocks on worker threads. Why: ORT's run() blocks the calling thread for the
// whole matrix product, so with the sorts on that thread the two phases of scoring + ranking
// 1,000 × 10,000 queries simply added up (0.18 s + 0.35 s idle). With the pool the rows of block
// b are ranked on other threads while block b+1 is multiplied, and the sorts of one block are
// split across the threads.
//
// Results are identical to ranking on the calling thread: each worker runs the same
// rankOrderInto (rank-order.ts) on the same float32 rows. If a worker cannot start or crashes,
// the pool is dropped and the rows are ranked on the calling thread instead.

import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { rankOrderInto } from './rank-order.ts';
import type { RankJob, RankReply } from './rank-worker.ts';

/** Below this many scores per block the messages cost more than the threads save. */
export const POOL_MIN_SCORES = 1 << 18;

interface Pending {
  resolve: (order: Int32Array) => void;
  reject: (err: Error) => void;
}

class PoolWorker {
  readonly pending = new Map<number, Pending>();
  dead: Error | null = null;

  constructor(readonly worker: Worker) {
    worker.unref(); // an idle pool never keeps the process alive; ref'd while a job waits
    worker.on('message', (m: RankReply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) worker.unref();
      if (m.error !== undefined) p.reject(new Error(m.error));
      else p.resolve(m.order);
    });
    const fail = (e: Error) => {
      this.dead = e;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`ranking worker exited with code ${code}`)));
  }

  run(job: Omit<RankJob, 'id'>, id: number): Promise<Int32Array> {
    if (this.dead) return Promise.reject(this.dead);
    this.worker.ref();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, ...job } satisfies RankJob);
    });
  }
}

let workers: PoolWorker[] | null = null;
let broken = false;
let nextId = 0;

/** Threads of the pool: one per core, at most 4 (the sorts are memory-bound beyond that). */
function poolSize(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

/** Starts the pool if it is not running (cheap to call again); false if threads are unavailable. */
export function startRankPool(): boolean {
  if (broken) return false;
  if (workers !== null) return true;
  try {
    workers = Array.from({ length: poolSize() }, () => new PoolWorker(new Worker(new URL('./rank-worker-boot.mjs', import.meta.url))));
    return true;
  } catch {
    broken = true;
    return false;
  }
}

/** Whether the pool's threads are running, not started yet, or were dropped after a failure. */
export function rankPoolState(): 'running' | 'off' | 'broken' {
  return broken ? 'broken' : workers === null ? 'off' : 'running';
}

/** Stops the pool's threads (tests; the pool never keeps a process alive on its own). */
export async function stopRankPool(): Promise<void> {
  const ws = workers;
  workers = null;
  if (ws) await Promise.all(ws.map((w) => w.worker.terminate()));
}

function rankHere(scores: Float32Array, rows: number, n: number, k: number): Int32Array[] {
  const out: Int32Array[] = [];
  for (let i = 0; i < rows; i++) {
    const order = new Int32Array(k);
    rankOrderInto(scores, i * n, n, order, 0, k);
    out.push(order);
  }
  return out;
}

/**
 * Ranks `rows` score rows of length `n` (row i at `scores[i * n ..]`), keeping `k` indices per
 * row, on the pool's threads. `scores` is copied before this returns, so the caller may reuse it.
 * Falls back to the calling thread when the pool is unavailable or small blocks make it pointless.
 *
 * @example
 * const orders = await rankRowsPooled(block, 256, 10000, 10000); // 256 Int32Arrays of 10,000 indices
 */
export function rankRowsPooled(scores: Float32Array, rows: number, n: number, k: number): Promise<Int32Array[]> {
  if (k === 0 || rows * n < POOL_MIN_SCORES || !startRankPool() || workers === null || workers.some((w) => w.dead)) {
    return Promise.resolve(rankHere(scores, rows, n, k));
  }
  const shared = new SharedArrayBuffer(rows * n * 4);
  new Float32Array(shared).set(scores.subarray(0, rows * n));
  const ws = workers;
  const parts = Math.min(ws.length, rows);
  const jobs: Promise<Int32Array>[] = [];
  for (let w = 0; w < parts; w++) {
    const r0 = Math.floor((rows * w) / parts), r1 = Math.floor((rows * (w + 1)) / parts);
    jobs.push((ws[w] as PoolWorker).run({ scores: shared, r0, r1, n, stride: n, k }, nextId++));
  }
  return Promise.all(jobs).then(
    (orders) => {
      const out: Int32Array[] = [];
      // Views of each worker's buffer, one per row (rows r0..r1 of that worker, in order).
      for (const order of orders) {
        for (let i = 0; i < order.length / k; i++) out.push(order.subarray(i * k, (i + 1) * k));
      }
      return out;
    },
    () => {
      // A worker failed (it could not load, or crashed): drop the pool, rank here, same result.
      broken = true;
      void stopRankPool();
      return rankHere(new Float32Array(shared), rows, n, k);
    },
  );
}
