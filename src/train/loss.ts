// The contrastive loss of VLM2Vec training (the reference's `SimpleContrastiveLoss`, src/loss.py):
// scores = q·pᵀ / temperature, cross-entropy of each query against its own target. The reps are
// what the encoder returns (L2-normalized when `--normalize True`: the reference normalizes in
// the pooling, not in the loss). With hard negatives the targets come grouped per query
// ([pos₀, neg₀…, pos₁, neg₁…]), so query i's target is i·(n_targets / n_queries), as
// SimpleContrastiveLoss's `arange(0, Nq·k, k)` with k = Nt // Nq. (MMEBModel.forward writes
// `arange(Nq) · (Nq // Nt)`, which is 0 for every query once Nt > Nq; training runs through
// SimpleContrastiveLoss, so that is the one followed.)

import { Vlm2VecError } from '../errors.ts';
import { crossEntropy } from '../nn/loss.ts';
import type { Tensor } from '../tensor/index.ts';
import { arange, div, fmtShape, matmul, transpose } from '../tensor/index.ts';

/** Options of {@link infoNCE}. */
export interface InfoNCEOptions {
  /** Softmax temperature (the reference's `--temperature`, 0.02 in its scripts). */
  temperature: number;
}

/**
 * InfoNCE over in-batch negatives: q [Nq, D], p [Nt, D] with Nt a multiple of Nq; mean over
 * queries of −log softmax(q·pᵀ/T)[i, i·Nt/Nq]. A differentiable scalar.
 *
 * @example const loss = infoNCE(qEmb, pEmb, { temperature: 0.02 }); // qEmb [B, D], pEmb [B, D]
 */
export function infoNCE(q: Tensor, p: Tensor, opts: InfoNCEOptions): Tensor {
  const [nq, d] = q.shape;
  const [nt, dp] = p.shape;
  if (q.rank !== 2 || p.rank !== 2 || typeof nq !== 'number' || typeof nt !== 'number' || d !== dp) {
    throw new Vlm2VecError('info_nce', `expects query reps [Nq, D] and target reps [Nt, D] of static sizes, got ${fmtShape(q.shape)} and ${fmtShape(p.shape)}`);
  }
  if (nq === 0 || nt % nq !== 0) {
    throw new Vlm2VecError('info_nce', `the ${nt} target reps must be a whole number of targets per query for the ${nq} queries (positive first, then its hard negatives)`);
  }
  if (!(opts.temperature > 0)) throw new Vlm2VecError('info_nce', `temperature must be > 0, got ${opts.temperature}`);
  const scores = div(matmul(q, transpose(p)), opts.temperature); // [Nq, Nt]
  const k = nt / nq;
  const targets = arange(nq * k, { step: k }); // [Nq] int64: 0, k, 2k, …
  return crossEntropy(scores, targets);
}
