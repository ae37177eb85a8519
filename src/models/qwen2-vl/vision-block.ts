// Qwen2-VL ViT block (transformers' Qwen2VLVisionBlock) over a checkpoint-named parameter tree
// (`norm1.weight`, `attn.qkv.weight`, `mlp.fc1.weight`, ...):
//   h = x + proj(attn(rope(q), rope(k), v))    q|k|v = qkv(LayerNorm1(x)), 2-D vision rope
//   y = h + fc2(quick_gelu(fc1(LayerNorm2(h))))
// Patches of all images are packed in one sequence [N, E]; attention is bidirectional and
// limited to each segment of cu_seqlens (one per image / temporal slice).

import { Vlm2VecError } from '../../errors.ts';
import type { Rotary } from '../../nn/index.ts';
import { applyRope, attention, layerNorm, linear, segmentMask, visionMlp } from '../../nn/index.ts';
import type { Dim, Tensor } from '../../tensor/index.ts';
import { add, cast, fmtShape, permute, reshape, select, transpose, unsqueeze } from '../../tensor/index.ts';
import type { Qwen2VLVisionParams } from './weights.ts';

/**
 * One ViT block's parameters (`visual.blocks.{i}.*`), as declared in weights.ts
 * (`declareQwen2VLParams`): norm1/norm2 [E], attn.qkv [3E, E] (rows [q | k | v]), attn.proj
 * [E, E], mlp.fc1 [H, E], mlp.fc2 [E, H], all with biases.
 */
export type Qwen2VisionBlockParams = Qwen2VLVisionParams['blocks'][number];

/** Per-call inputs of {@link qwen2VisionBlock}. */
export interface Qwen2VisionBlockInputs {
  numHeads: number;
  /** cos/sin [N, hd] from visionRotary (shared by all blocks). */
  rotary: Rotary;
  /** Segment boundaries [0, ..., N] (JS array, or an int tensor for jit with dynamic N). */
  cuSeqlens?: readonly number[] | Tensor | undefined;
  /** A precomputed bool mask [N, N] (e.g. segmentMask built once for all blocks). */
  mask?: Tensor | undefined;
  /** 1e-6 in Qwen2-VL. */
  layerNormEps?: number | undefined;
}

/**
 * One Qwen2-VL vision transformer block.
 *
 * @example
 * const rotary = visionRotary(positionIds, { headDim: 80 });
 * const y = qwen2VisionBlock(params.visual.blocks[0], x, { numHeads: 16, rotary, cuSeqlens: [0, 1564] });
 */
export function qwen2VisionBlock(p: Qwen2VisionBlockParams, x: Tensor, inputs: Qwen2VisionBlockInputs): Tensor {
  if (x.rank !== 2) throw new Vlm2VecError('qwen2_vision', `block input must be [N, E], got ${fmtShape(x.shape)}`);
  const [n, e] = x.shape as [Dim, Dim];
  const heads = inputs.numHeads;
  if (typeof e !== 'number' || e % heads !== 0) {
    throw new Vlm2VecError('qwen2_vision', `embed dim ${String(e)} is not a multiple of ${heads} heads`);
  }
  const hd = e / heads;
  const eps = inputs.layerNormEps ?? 1e-6;
  let mask = inputs.mask;
  if (mask === undefined && inputs.cuSeqlens !== undefined) mask = segmentMask(inputs.cuSeqlens, n); // [N, N]

  const h1 = layerNorm(p.norm1, x, eps); // [N, E]
  const qkv = permute(reshape(linear(p.attn.qkv, h1, 'qkv'), [n, 3, heads, hd]), [1, 0, 2, 3]); // [3, N, H, hd]
  // The reference applies the vision rope in float32 whatever the model dtype.
  const rot = { cos: unsqueeze(inputs.rotary.cos, -2), sin: unsqueeze(inputs.rotary.sin, -2) }; // [N, 1, hd]
  const rope = (y: Tensor): Tensor => cast(applyRope(cast(y, 'float32'), rot), y.dtype);
  const toBhtd = (y: Tensor): Tensor => unsqueeze(transpose(y, 0, 1), 0); // [N, H, hd] -> [1, H, N, hd]
  const q = toBhtd(rope(select(qkv, 0, 0))); // [1, H, N, hd]
  const k = toBhtd(rope(select(qkv, 0, 1))); // [1, H, N, hd]
  const v = toBhtd(select(qkv, 0, 2)); // [1, H, N, hd]
  const o = attention(q, k, v, { mask }); // [1, H, N, hd]
  const merged = reshape(transpose(select(o, 0, 0), 0, 1), [n, e]); // [N, E]
  const h = add(x, linear(p.attn.proj, merged, 'proj')); // [N, E]

  return add(h, visionMlp(p.mlp, layerNorm(p.norm2, h, eps))); // [N, E]
}
