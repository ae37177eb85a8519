// Small compositions shared by models and losses (no gradient rules of their own).

import type { Tensor } from '../tensor.ts';
import { div, maximum, mul, sqrt } from './elementwise.ts';
import { sum } from './reduce.ts';

/**
 * x / max(||x||_2, eps) along an axis (torch.nn.functional.normalize).
 * @example l2Normalize(embeddings, -1)
 */
export function l2Normalize(x: Tensor, axis = -1, eps = 1e-12): Tensor {
  return div(x, maximum(sqrt(sum(mul(x, x), axis, true)), eps));
}
