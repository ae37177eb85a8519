// One thread of the ranking pool (rank-pool.ts): ranks rows [r0, r1) of a shared score block
// with the same rankOrderInto as the main thread, and transfers the indices back (no copy).

import { parentPort } from 'node:worker_threads';
import { rankOrderInto } from './rank-order.ts';

export interface RankJob {
  id: number;
  /** n-float rows, `stride` floats apart. */
  scores: SharedArrayBuffer;
  r0: number;
  r1: number;
  n: number;
  stride: number;
  /** Ranked indices kept per row (≤ n). */
  k: number;
}

export type RankReply = { id: number; order: Int32Array; error?: undefined } | { id: number; error: string };

const port = parentPort;
if (port === null) throw new Error('rank-worker.ts runs only as a worker thread (see rank-pool.ts)');
port.on('message', (job: RankJob) => {
  try {
    const scores = new Float32Array(job.scores);
    const order = new Int32Array((job.r1 - job.r0) * job.k);
    for (let r = job.r0; r < job.r1; r++) rankOrderInto(scores, r * job.stride, job.n, order, (r - job.r0) * job.k, job.k);
    port.postMessage({ id: job.id, order } satisfies RankReply, [order.buffer]);
  } catch (err) {
    port.postMessage({ id: job.id, error: String(err instanceof Error ? err.stack ?? err.message : err) } satisfies RankReply);
  }
});
