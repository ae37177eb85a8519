// Qwen2-VL's embedding math as pure functions of (params, config, batch tensors): no sessions, no
// captured state. Inference (model.ts) traces `visionGraph` and `textGraph` with the frozen weights
// captured as initializers; training calls `qwen2VLForward` with LoRA factors (or any leaves)
// passed in as arguments, so gradients flow to them (see forward.test.ts).
//
// Batch tensors, as batch.ts packs them on the host:
//   ids [B, T] i64, mask [B, T] i64, positions [3, B, T] i64, last [B, 2] i64 (row, last token),
//   scatter [K, 2] i64 (placeholder positions: images then videos, row-major),
//   pixels [K, M, P] f32 (M = merge² patches per merged token), patchPos [K, M, 2] i32,
//   segments [K, M] i32 (one id per temporal slice of each grid). Text-only: K = 0.

import { embedding } from '../../nn/index.ts';
import type { Tensor } from '../../tensor/index.ts';
import { cast, gather, l2Normalize, reshape, scatterND } from '../../tensor/index.ts';
import type { Qwen2VLConfig, Qwen2VLVisionConfig } from './config.ts';
import { languageModel } from './text.ts';
import { visionTower } from './vision.ts';
import type { Qwen2VLParams, Qwen2VLTextParams, Qwen2VLVisionParams } from './weights.ts';

/** Pooled hidden states [B, D] and their unit vectors. */
export interface PooledTensors {
  hidden: Tensor;
  embedding: Tensor;
}

/** One packed batch as tensors (see the file comment for shapes). */
export interface Qwen2VLBatchTensors {
  ids: Tensor;
  mask: Tensor;
  positions: Tensor;
  last: Tensor;
  scatter: Tensor;
  pixels: Tensor;
  patchPos: Tensor;
  segments: Tensor;
}

/**
 * Vision features [K, D] of patches grouped per merged token ([K, M, ...]: K is then an input
 * axis, so the merger's [K, M·E] reshape has a named size under jit).
 *
 * @example const feats = visionGraph(params.visual, cfg.vision, pixels, patchPos, segments); // [K, D]
 */
export function visionGraph(p: Qwen2VLVisionParams, v: Qwen2VLVisionConfig, pixels: Tensor, patchPos: Tensor, segments: Tensor): Tensor {
  const mm = v.spatialMergeSize * v.spatialMergeSize;
  const patchDim = v.inChannels * v.temporalPatchSize * v.patchSize * v.patchSize;
  const k = pixels.shape[0]!;
  // Traced, K is the symbolic input axis ('K'); called eagerly (training), a number.
  const n = typeof k === 'number' ? mm * k : `${mm}*${k}`;
  return visionTower(p, v, reshape(pixels, [n, patchDim]), reshape(patchPos, [n, 2]), reshape(segments, [n]), k);
}

/** Token embeddings [B, T, D] in float32; a float16 table casts only the gathered rows. */
export function embedTokens(p: Qwen2VLTextParams, ids: Tensor): Tensor {
  const table = p.embed_tokens;
  return table.weight.dtype === 'float16' ? cast(gather(table.weight, ids, 0), 'float32') : embedding(table, ids);
}

/**
 * The language model over token embeddings with vision `features` [K, D] written at `scatter`,
 * pooled at each row's last real token: hidden [B, D] and its L2-normalized copy (eps 1e-12).
 *
 * @example const { embedding } = textGraph(params.model, cfg, ids, mask, positions, last, scatter, feats);
 */
export function textGraph(p: Qwen2VLTextParams, cfg: Qwen2VLConfig, ids: Tensor, mask: Tensor, positions: Tensor, last: Tensor,
  scatter: Tensor, features: Tensor): PooledTensors {
  const embeds = scatterND(embedTokens(p, ids), scatter, features); // [B, T, D]
  const hidden = languageModel(p, cfg.text, embeds, positions, mask, last); // [B, D]
  return { hidden, embedding: l2Normalize(hidden, -1, 1e-12) };
}

/**
 * The whole encoder: vision tower over every patch of the batch (segments keep images and
 * temporal slices apart), then the pooled language model. The runtime (model.ts) splits the
 * vision part per slice for memory; the math is the same.
 *
 * @example
 * const [[loss, reps], grads] = valueAndGrad((lora) => { const o = qwen2VLForward(attachLora(base, lora, 2), cfg, batch); ... }, { hasAux: true })(lora);
 */
export function qwen2VLForward(params: Qwen2VLParams, cfg: Qwen2VLConfig, batch: Qwen2VLBatchTensors): PooledTensors {
  const k = batch.pixels.shape[0];
  const d = cfg.text.hiddenSize;
  const features = k === 0 ? reshape(batch.pixels, [0, d]) : visionGraph(params.visual, cfg.vision, batch.pixels, batch.patchPos, batch.segments);
  return textGraph(params.model, cfg, batch.ids, batch.mask, batch.positions, batch.last, batch.scatter, features);
}
