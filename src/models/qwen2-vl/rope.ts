// Qwen2-VL's two rotary layouts (transformers' Qwen2VLRotaryEmbedding / VisionRotaryEmbedding),
// built on the generic rope helpers of src/nn/rope.ts:
//   - M-RoPE (text): angle chunk j of the D/2 frequencies takes its position from axis j % 3
//     (t, h, w) by `mropeSection`, e.g. [16, 24, 24] for head_dim 128; identical axes give 1-D rope;
//   - 2-D vision rope (ViT): D/4 frequencies over head_dim/2, first half of the angles from the
//     patch row, second half from the patch column;
// plus the host-side patch bookkeeping of the grids: (row, col) of each patch and cu_seqlens.

import { Vlm2VecError } from '../../errors.ts';
import { ropeAngles, rotaryTables, type Rotary } from '../../nn/index.ts';
import type { Tensor } from '../../tensor/index.ts';
import { concat, fmtShape, reshape, select, sliceAxis } from '../../tensor/index.ts';

/** One image/video grid in patches: [t, h, w] (image_grid_thw row). */
export type GridThw = readonly [number, number, number];

/** Options of {@link mropeRotary}. */
export interface MropeRotaryOptions {
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
 * const rot = mropeRotary(positionIds, { headDim: 128, theta: 1e6, mropeSection: [16, 24, 24] });
 */
export function mropeRotary(positionIds: Tensor, opts: MropeRotaryOptions): Rotary {
  const half = opts.headDim / 2;
  let ang: Tensor; // [B, T, D/2]
  if (positionIds.rank === 2) {
    ang = ropeAngles(positionIds, opts.headDim, opts.theta);
  } else if (positionIds.rank === 3 && positionIds.shape[0] === 3) {
    const section = opts.mropeSection;
    if (!section) {
      throw new Vlm2VecError('rope', 'position ids [3, B, T] need mropeSection (e.g. [16, 24, 24])');
    }
    const total = section.reduce((a, b) => a + b, 0);
    if (total !== half) {
      throw new Vlm2VecError('rope', `mropeSection [${section.join(', ')}] sums to ${total}, expected headDim/2 = ${half}`);
    }
    const angles = ropeAngles(positionIds, opts.headDim, opts.theta); // [3, B, T, D/2]
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
  return rotaryTables(ang);
}

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
  const angles = ropeAngles(positionIds, opts.headDim / 2, opts.theta ?? 10000); // [N, 2, D/4]
  const hw = reshape(angles, [positionIds.shape[0]!, 2 * quarter]); // [N, D/2]
  return rotaryTables(hw); // [N, D]
}
