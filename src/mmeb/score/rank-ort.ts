// Scoring blocks S = Q_block · Cᵀ through the tensor engine (one ONNX MatMul, run by ORT's MLAS
// sgemm) — the fast path of rankGlobalIndicesAsync in rank.ts.
//
// Why C is a graph *input*, not a frozen initializer: measured on the 2-core box
// (1,000 × 10,000 × 1,536, blocks of 256 queries), C as an input with the transpose inside the
// graph took 0.6–1.0 s; C captured as an initializer 1.8–1.9 s (a new session per pool: building
// and pre-packing 61 MB costs more than it saves over 4 blocks); Cᵀ transposed in JS first 1.1–1.2 s.
// With symbolic M (queries) and N (candidates) one session serves every block and every task of
// a given dimension.
//
// Numerics: float32 products accumulated in float32 in MLAS's blocking order — like numpy's sgemm,
// neither is bit-identical to the other; rankings differ only on near-exact ties.
//
// Loaded lazily by rank.ts (`await import`), so the synchronous kernels work without ORT.

import { fromArray, jit, matmul, transpose } from '../../tensor/index.ts';
import type { Tensor } from '../../tensor/index.ts';
import type { Matrix } from './rank.ts';

const scoresOf = jit((q: Tensor, c: Tensor) => matmul(q, transpose(c)), {
  name: 'mmeb_scores',
  dynamic: { '0': ['M', null], '1': ['N', null] },
});

/** Sessions built by the scoring function so far (tests check that block sizes share one). */
export function ortScoringSessions(): number {
  return scoresOf.sessionCount;
}

/**
 * Runs `onBlock(q0, n, scores)` for consecutive blocks of `block` query rows, where
 * `scores[i * C.rows + j] = Q[q0 + i] · C[j]` (float32, row-major, n × C.rows).
 *
 * @example
 * await scoreBlocksOrt(Q, C, 256, (q0, n, s) => { for (let i = 0; i < n; i++) use(rankOrder(s, i * C.rows, C.rows)); });
 */
export async function scoreBlocksOrt(
  Q: Matrix,
  C: Matrix,
  block: number,
  onBlock: (q0: number, n: number, scores: Float32Array) => void,
): Promise<void> {
  const dim = Q.dim;
  const c = fromArray(C.data.subarray(0, C.rows * dim), [C.rows, dim], 'float32');
  for (let q0 = 0; q0 < Q.rows; q0 += block) {
    const n = Math.min(block, Q.rows - q0);
    const q = fromArray(Q.data.subarray(q0 * dim, (q0 + n) * dim), [n, dim], 'float32');
    const s = await scoresOf(q, c);
    onBlock(q0, n, (await s.data()) as Float32Array);
  }
}
