// Qwen2-VL vision tower (transformers' Qwen2VisionTransformerPretrainedModel, docs/vlm2vec.md §2.2) over the
// checkpoint-named tree `visual.*`:
//   patches [N, C·T·P·P] → patch_embed (Conv3d = linear) → depth × ViT block (2-D rope in patch
//   order, attention within each temporal slice) → merger: LayerNorm, 4 consecutive patches
//   (one 2×2 block) concatenated, Linear → GELU(erf) → Linear → [N/4, D]
// Host helpers turn the (t, h, w) grids into the per-patch (row, col) ids and segment ids that
// the traced graph takes as inputs, so one jitted graph serves every image size.

import { Vlm2VecError } from '../../errors.ts';
import { layerNorm, linear } from '../../nn/index.ts';
import type { Dim, Tensor } from '../../tensor/index.ts';
import { equal, gelu, reshape, unsqueeze } from '../../tensor/index.ts';
import type { Qwen2VLVisionConfig } from './config.ts';
import type { Qwen2VLVisionParams } from './weights.ts';
import { visionPositionIds, visionRotary, type GridThw } from './rope.ts';
import { qwen2VisionBlock } from './vision-block.ts';

/** Per-patch graph inputs derived from the grids. */
export interface VisionIndexInputs {
  /** [N, 2] int32: (row, col) of each patch in processor order. */
  positionIds: Int32Array;
  /** [N] int32: index of the attention segment (one per temporal slice of each grid). */
  segmentIds: Int32Array;
  numPatches: number;
}

/**
 * Position and segment ids for the packed patches of `grids` (images first, then videos, as the
 * pixel rows are concatenated).
 *
 * @example visionIndexInputs([[1, 2, 2], [2, 2, 2]]).segmentIds // [0,0,0,0, 1,1,1,1, 2,2,2,2]
 */
export function visionIndexInputs(grids: readonly GridThw[], mergeSize: number): VisionIndexInputs {
  const pos = visionPositionIds(grids, mergeSize);
  const n = pos.shape[0];
  const seg = new Int32Array(n);
  let i = 0;
  let s = 0;
  for (const [t, h, w] of grids) {
    for (let k = 0; k < t; k++, s++) {
      seg.fill(s, i, i + h * w);
      i += h * w;
    }
  }
  return { positionIds: pos.data, segmentIds: seg, numPatches: n };
}

/**
 * The vision tower on packed patches. `outRows` names the merged-token count (N/4, or -1) so the graph
 * keeps a symbolic size that matches the scatter indices it is written to.
 *
 * @example
 * const feats = visionTower(params.visual, cfg.vision, pixels, posIds, segIds, scatterIdx.shape[0]!); // [N/4, D]
 */
export function visionTower(
  p: Qwen2VLVisionParams, cfg: Qwen2VLVisionConfig, pixels: Tensor, positionIds: Tensor, segmentIds: Tensor, outRows: Dim,
): Tensor {
  const patchDim = cfg.inChannels * cfg.temporalPatchSize * cfg.patchSize * cfg.patchSize;
  if (pixels.rank !== 2 || pixels.shape[1] !== patchDim) {
    throw new Vlm2VecError('qwen2_vision', `pixel_values must be [N, ${patchDim}], got [${pixels.shape.join(', ')}]`);
  }
  let x = linear(p.patch_embed.proj, pixels, 'patch_embed'); // [N, E]
  const rotary = visionRotary(positionIds, { headDim: cfg.headDim, theta: cfg.ropeTheta }); // [N, hd]
  const mask = equal(unsqueeze(segmentIds, 1), unsqueeze(segmentIds, 0)); // [N, N] block-diagonal
  for (const block of p.blocks) {
    x = qwen2VisionBlock(block, x, { numHeads: cfg.numHeads, rotary, mask, layerNormEps: 1e-6 });
  }
  const m = cfg.spatialMergeSize * cfg.spatialMergeSize;
  const normed = layerNorm(p.merger.ln_q, x, 1e-6); // [N, E]
  const grouped = reshape(normed, [outRows, cfg.embedDim * m]); // [N/4, 4E]
  return linear(p.merger.mlp['2'], gelu(linear(p.merger.mlp['0'], grouped, 'merger.mlp.0')), 'merger.mlp.2'); // [N/4, D]
}
