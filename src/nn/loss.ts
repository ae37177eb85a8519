// Losses and output normalization as compositions.

import { Vlm2VecError } from '../errors.ts';
import type { Tensor } from '../tensor/index.ts';
import { cast, countTrue, div, fmtShape, logSoftmax, mul, neg, notEqual, oneHot, sum, where } from '../tensor/index.ts';

export { l2Normalize } from '../tensor/index.ts';

/** Options of {@link crossEntropy}. */
export interface CrossEntropyOptions {
  /** Targets equal to this value are skipped (PyTorch default -100). */
  ignoreIndex?: number;
  /** 'mean' over non-ignored targets (PyTorch default) or 'sum'. */
  reduction?: 'mean' | 'sum';
}

/**
 * Cross-entropy of logits [N, C] against integer class targets [N]
 * (torch.nn.functional.cross_entropy with ignore_index). Returns a scalar.
 *
 * @example const loss = crossEntropy(logits, labels); // logits [N, C], labels int64 [N]
 */
export function crossEntropy(logits: Tensor, targets: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  if (logits.rank !== 2 || targets.rank !== 1) {
    throw new Vlm2VecError('cross_entropy', `expects logits [N, C] and targets [N], got ${fmtShape(logits.shape)} and ${fmtShape(targets.shape)}`);
  }
  const classes = logits.shape[1];
  if (typeof classes !== 'number') {
    throw new Vlm2VecError('cross_entropy', `class count must be static, got ${fmtShape(logits.shape)}`);
  }
  const keep = notEqual(targets, opts.ignoreIndex ?? -100); // [N] bool
  // Ignored rows pick class 0 (any valid index) and are zeroed afterwards; the one-hot
  // contraction keeps the gradient a plain product (no scatter in the backward pass).
  const safe = where(keep, targets, 0); // [N]
  const logp = logSoftmax(logits, -1); // [N, C]
  const picked = sum(mul(logp, oneHot(safe, classes, logits.dtype)), -1); // [N]
  const total = sum(where(keep, neg(picked), 0)); // []
  if (opts.reduction === 'sum') return total;
  // PyTorch divides by the number of kept targets (NaN when none are kept; so do we).
  return div(total, cast(countTrue(keep), logits.dtype));
}
