// Rotary position embeddings in the rotate-half (GPT-NeoX / HF) convention: dim i pairs with
// dim i + D/2 and cos/sin are tiled as [angles, angles]. Generic parts only: inverse
// frequencies, angles of integer positions, the cos/sin tables, rotate_half and its application,
// and plain 1-D text rope (LLaMA / Qwen2). Architecture-specific layouts (Qwen2-VL's M-RoPE and
// 2-D vision rope) build their angles from these in their model folder.
// Angles are computed in float32 as the reference does (position * inv_freq, one rounding).

import { Vlm2VecError } from '../errors.ts';
import type { Tensor } from '../tensor/index.ts';
import { add, cast, concat, cos, fmtShape, fromArray, mul, neg, sin, sliceAxis, unsqueeze } from '../tensor/index.ts';

/** cos and sin tables, tiled to the full head dim: [..., T, headDim] each. */
export interface Rotary {
  cos: Tensor;
  sin: Tensor;
}

/**
 * inv_freq[k] = 1 / theta^(2k / dim), k < dim/2, rounded to float32 at each step as
 * torch computes `1.0 / (base ** (arange(0, dim, 2).float() / dim))`.
 *
 * @example ropeInvFreq(128, 1e6)[1] // 1e6^(-2/128) ≈ 0.8058
 */
export function ropeInvFreq(dim: number, theta: number): Float32Array {
  if (!Number.isInteger(dim) || dim <= 0 || dim % 2 !== 0) {
    throw new Vlm2VecError('rope', `rotary dim must be a positive even integer, got ${dim}`);
  }
  const out = new Float32Array(dim / 2);
  for (let k = 0; k < dim / 2; k++) {
    const expo = Math.fround((2 * k) / dim);
    out[k] = Math.fround(1 / Math.fround(theta ** expo));
  }
  return out;
}

/**
 * [-x2, x1] for x = [x1, x2] split in halves along the last axis.
 *
 * @example rotateHalf(tensor([1, 2, 3, 4])) // [-3, -4, 1, 2]
 */
export function rotateHalf(x: Tensor): Tensor {
  const d = x.shape[x.rank - 1];
  if (typeof d !== 'number' || d % 2 !== 0) {
    throw new Vlm2VecError('rope', `rotate_half needs a static even last dim, got ${fmtShape(x.shape)}`);
  }
  const x1 = sliceAxis(x, -1, 0, d / 2); // [..., D/2]
  const x2 = sliceAxis(x, -1, d / 2, d); // [..., D/2]
  return concat([neg(x2), x1], -1); // [..., D]
}

/**
 * x * cos + rotate_half(x) * sin. `cos`/`sin` must broadcast against `x` (unsqueeze the head axis
 * first); the product runs in x's dtype.
 *
 * @example applyRope(q, { cos: unsqueeze(rot.cos, 1), sin: unsqueeze(rot.sin, 1) }) // q [B, H, T, D]
 */
export function applyRope(x: Tensor, rot: Rotary): Tensor {
  return add(mul(x, rot.cos), mul(rotateHalf(x), rot.sin));
}

/**
 * Angles position · inv_freq [..., dim/2] of integer positions [...] (float32, one rounding).
 *
 * @example ropeAngles(positionIds, 128, 1e6) // [B, T] -> [B, T, 64]
 */
export function ropeAngles(positionIds: Tensor, dim: number, theta: number): Tensor {
  const invFreq = fromArray(ropeInvFreq(dim, theta), [dim / 2]); // [dim/2]
  return mul(unsqueeze(cast(positionIds, 'float32'), -1), invFreq); // [..., dim/2]
}

/**
 * cos/sin tables of angles [..., D/2], tiled to [..., D] as [angles, angles].
 *
 * @example rotaryTables(ropeAngles(pos, 128, 1e6)).cos // [B, T, 128]
 */
export function rotaryTables(angles: Tensor): Rotary {
  const emb = concat([angles, angles], -1); // [..., D]
  return { cos: cos(emb), sin: sin(emb) };
}

/** Options of {@link textRotary}. */
export interface TextRotaryOptions {
  headDim: number;
  /** rope_theta (1e6 for Qwen2). */
  theta: number;
}

/**
 * cos/sin tables [B, T, headDim] for 1-D text positions [B, T].
 *
 * @example const rot = textRotary(positionIds, { headDim: 128, theta: 1e6 });
 */
export function textRotary(positionIds: Tensor, opts: TextRotaryOptions): Rotary {
  if (positionIds.rank !== 2) {
    throw new Vlm2VecError('rope', `position ids must be [B, T], got ${fmtShape(positionIds.shape)}`);
  }
  return rotaryTables(ropeAngles(positionIds, opts.headDim, opts.theta));
}
