// LayerNorm and RMSNorm as compositions (no gradient rules of their own). Both normalize over the
// last axis in float32, like the reference modules, and cast back to the input dtype.

import type { Tensor } from '../tensor/index.ts';
import { add, cast, mean, mul, rsqrt, sub } from '../tensor/index.ts';

/** Parameters of `torch.nn.LayerNorm` (affine). */
export interface LayerNormParams {
  /** [D] */
  weight: Tensor;
  /** [D] */
  bias: Tensor;
}

/** Parameters of Qwen2's RMSNorm. */
export interface RmsNormParams {
  /** [D] */
  weight: Tensor;
}

/**
 * (x - mean) / sqrt(var + eps) * weight + bias over the last axis, biased variance
 * (torch.nn.functional.layer_norm).
 *
 * @example
 * const h = layerNorm(params.norm1, x, 1e-6); // [N, 1280] -> [N, 1280]
 */
export function layerNorm(p: LayerNormParams, x: Tensor, eps = 1e-5): Tensor {
  const xf = cast(x, 'float32'); // [..., D]
  const centered = sub(xf, mean(xf, -1, true)); // [..., D]
  const variance = mean(mul(centered, centered), -1, true); // [..., 1]
  const normed = cast(mul(centered, rsqrt(add(variance, eps))), x.dtype); // [..., D]
  return add(mul(normed, p.weight), p.bias);
}

/**
 * weight * (x * rsqrt(mean(x²) + eps)) over the last axis, exactly as Qwen2VLRMSNorm orders it:
 * normalize in float32, cast back to the input dtype, then scale by the weight.
 *
 * @example
 * const h = rmsNorm(params.input_layernorm, x, 1e-6); // [B, T, 1536] -> [B, T, 1536]
 */
export function rmsNorm(p: RmsNormParams, x: Tensor, eps = 1e-6): Tensor {
  const xf = cast(x, 'float32'); // [..., D]
  const meanSquare = mean(mul(xf, xf), -1, true); // [..., 1]
  const normed = cast(mul(xf, rsqrt(add(meanSquare, eps))), x.dtype); // [..., D]
  return mul(p.weight, normed);
}
