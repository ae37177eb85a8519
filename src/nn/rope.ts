// Rotary position embeddings in the rotate-half (GPT-NeoX / HF) convention: dim i pairs with
// dim i + D/2 and cos/sin are tiled as [angles, angles]. Three angle layouts:
//   - 1-D text positions (LLaMA / Qwen2),
//   - M-RoPE (Qwen2-VL): angle chunk j of the D/2 frequencies takes its position from axis j % 3
//     (t, h, w) by `mropeSection`, e.g. [16, 24, 24] for head_dim 128,
//   - the 2-D vision rope of the Qwen2-VL ViT: D/4 frequencies over head_dim/2, first half of the
//     angles from the patch row, second half from the patch column.
// Angles are computed in float32 as the reference does (position * inv_freq, one rounding).

import { Vlm2VecError } from '../errors.ts';
import type { Tensor } from '../tensor/index.ts';
import {
  add, cast, concat, cos, fmtShape, fromArray, mul, neg, reshape, select, sin, sliceAxis, unsqueeze,
} from '../tensor/index.ts';

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

/** Options of {@link textRotary}. */
export interface TextRotaryOptions {
  headDim: number;
  /** rope_theta (1e6 for Qwen2-VL). */
  theta: number;
  /** M-RoPE chunk sizes over headDim/2 frequencies (sum must be headDim/2); needs [3, B, T] ids. */
  mropeSection?: readonly number[] | undefined;
}

/**
 * cos/sin tables for text positions: `positionIds` [B, T] (1-D rope) or [3, B, T] (M-RoPE t/h/w,
 * with `mropeSection`). Returns tables of shape [B, T, headDim].
 *
 * @example
 * const rot = textRotary(positionIds, { headDim: 128, theta: 1e6, mropeSection: [16, 24, 24] });
 */
export function textRotary(positionIds: Tensor, opts: TextRotaryOptions): Rotary {
  const half = opts.headDim / 2;
  const invFreq = fromArray(ropeInvFreq(opts.headDim, opts.theta), [half]); // [D/2]
  const angles = mul(unsqueeze(cast(positionIds, 'float32'), -1), invFreq); // [(3,) B, T, D/2]
  let ang: Tensor; // [B, T, D/2]
  if (positionIds.rank === 2) {
    ang = angles;
  } else if (positionIds.rank === 3 && positionIds.shape[0] === 3) {
    const section = opts.mropeSection;
    if (!section) {
      throw new Vlm2VecError('rope', 'position ids [3, B, T] need mropeSection (e.g. [16, 24, 24])');
    }
    const total = section.reduce((a, b) => a + b, 0);
    if (total !== half) {
      throw new Vlm2VecError('rope', `mropeSection [${section.join(', ')}] sums to ${total}, expected headDim/2 = ${half}`);
    }
    const chunks: Tensor[] = [];
    let start = 0;
    section.forEach((size, j) => {
      chunks.push(sliceAxis(select(angles, 0, j % 3), -1, start, start + size)); // [B, T, size]
      start += size;
    });
    ang = concat(chunks, -1);
  } else {
    throw new Vlm2VecError('rope', `position ids must be [B, T] or [3, B, T], got ${fmtShape(positionIds.shape)}`);
  }
  const emb = concat([ang, ang], -1); // [B, T, D]
  return { cos: cos(emb), sin: sin(emb) };
}

/** One image/video grid in patches: [t, h, w] (image_grid_thw row). */
export type GridThw = readonly [number, number, number];

/**
 * (row, column) of every patch in the processor's patch order: merge blocks of m×m patches
 * row-major, patches inside a block row-major, the whole grid repeated for each temporal slice.
 * Returns an int32 [N, 2] array (as transformers' get_vision_position_ids).
 *
 * @example visionPositionIds([[1, 2, 2]]) // [[0,0],[0,1],[1,0],[1,1]]
 */
export function visionPositionIds(grids: readonly GridThw[], mergeSize = 2): { data: Int32Array; shape: [number, 2] } {
  const n = grids.reduce((a, [t, h, w]) => a + t * h * w, 0);
  const data = new Int32Array(n * 2);
  let i = 0;
  for (const [t, h, w] of grids) {
    if (h % mergeSize !== 0 || w % mergeSize !== 0) {
      throw new Vlm2VecError('rope', `grid [${t}, ${h}, ${w}]: h and w must be multiples of the merge size ${mergeSize}`);
    }
    for (let s = 0; s < t; s++) {
      for (let bh = 0; bh < h / mergeSize; bh++) {
        for (let bw = 0; bw < w / mergeSize; bw++) {
          for (let ih = 0; ih < mergeSize; ih++) {
            for (let iw = 0; iw < mergeSize; iw++) {
              data[i++] = bh * mergeSize + ih;
              data[i++] = bw * mergeSize + iw;
            }
          }
        }
      }
    }
  }
  return { data, shape: [n, 2] };
}

/**
 * Segment boundaries of the ViT's attention: one segment of h·w patches per temporal slice of
 * every grid (transformers' cu_seqlens), starting with 0.
 *
 * @example visionCuSeqlens([[1, 4, 4], [2, 2, 2]]) // [0, 16, 20, 24]
 */
export function visionCuSeqlens(grids: readonly GridThw[]): number[] {
  const cu = [0];
  for (const [t, h, w] of grids) for (let s = 0; s < t; s++) cu.push(cu[cu.length - 1]! + h * w);
  return cu;
}

/** Options of {@link visionRotary}. */
export interface VisionRotaryOptions {
  headDim: number;
  /** 10000 for Qwen2-VL's ViT. */
  theta?: number;
}

/**
 * cos/sin tables [N, headDim] of the Qwen2-VL ViT's 2-D rope from patch positions [N, 2]
 * (row, column): inv_freq over headDim/2, angles [row·f, col·f] tiled twice.
 *
 * @example
 * const pos = visionPositionIds(grids);
 * const rot = visionRotary(fromArray(pos.data, pos.shape, 'int32'), { headDim: 80 });
 */
export function visionRotary(positionIds: Tensor, opts: VisionRotaryOptions): Rotary {
  if (positionIds.rank !== 2 || positionIds.shape[1] !== 2) {
    throw new Vlm2VecError('rope', `vision position ids must be [N, 2], got ${fmtShape(positionIds.shape)}`);
  }
  if (opts.headDim % 4 !== 0) {
    throw new Vlm2VecError('rope', `vision rope needs headDim divisible by 4, got ${opts.headDim}`);
  }
  const quarter = opts.headDim / 4;
  const invFreq = fromArray(ropeInvFreq(opts.headDim / 2, opts.theta ?? 10000), [quarter]); // [D/4]
  const angles = mul(unsqueeze(cast(positionIds, 'float32'), -1), invFreq); // [N, 2, D/4]
  const hw = reshape(angles, [positionIds.shape[0]!, 2 * quarter]); // [N, D/2]
  const emb = concat([hw, hw], -1); // [N, D]
  return { cos: cos(emb), sin: sin(emb) };
}
