// LLaVA-NeXT's embedding math as pure functions of (params, config, tensors); model.ts traces
// them with the weights captured.
//   vision: pixels [N, 3, S, S] (one image's base + grid patches) → CLIP hidden_states[layer]
//           without CLS [N, G², E] → projector linear_1 · gelu · linear_2 → [N·G², D], with
//           image_newline appended as row N·G² → rows `select` [K] (processor.ts featureRows:
//           base tokens, unpadded grid rows each closed by a newline) → features [K, D]
//   text:   ids [B, T], mask [B, T], positions [B, T], last [B, 2], scatter [K, 2], features
//           [K, D] → token embeddings with the features written at the <image> positions →
//           Mistral → the last real token's final-norm hidden state, and its unit vector.

import { embedding, gelu, linear } from '../../nn/index.ts';
import type { Tensor } from '../../tensor/index.ts';
import { cast, concat, gather, l2Normalize, reshape, scatterND } from '../../tensor/index.ts';
import { clipVisionFeatures } from '../clip-vision/index.ts';
import type { LlavaNextConfig } from './config.ts';
import type { LlavaNextParams, LlavaTextParams } from './params.ts';
import { mistralModel } from './text.ts';

/** Pooled hidden states [B, D] and their unit vectors. */
export interface PooledTensors {
  hidden: Tensor;
  embedding: Tensor;
}

/**
 * One image's packed features [K, D] (see the file comment).
 *
 * @example const feats = llavaImageFeatures(params, cfg, pixels, select); // [K, 4096]
 */
export function llavaImageFeatures(p: LlavaNextParams, cfg: LlavaNextConfig, pixels: Tensor, select: Tensor): Tensor {
  const d = cfg.text.hiddenSize;
  const feats = clipVisionFeatures(p.vision_tower.vision_model, cfg.vision, pixels, { layer: cfg.visionFeatureLayer, strategy: 'default' }); // [N, G², E]
  const mm = p.multi_modal_projector;
  const projected = linear(mm.linear_2, gelu(linear(mm.linear_1, feats, 'linear_1')), 'linear_2'); // [N, G², D]
  const table = concat([reshape(projected, [-1, d]), reshape(p.image_newline, [1, d])], 0); // [N·G² + 1, D]
  return gather(table, select, 0); // [K, D]
}

/** Token embeddings [B, T, D] in float32 (a float16 table casts only the gathered rows). */
function embedTokens(p: LlavaTextParams, ids: Tensor): Tensor {
  const table = p.embed_tokens;
  return table.weight.dtype === 'float16' ? cast(gather(table.weight, ids, 0), 'float32') : embedding(table, ids);
}

/**
 * The language model with `features` [K, D] written at `scatter` [K, 2], pooled at `last` [B, 2]
 * (L2-normalized with eps 1e-12, torch's F.normalize).
 *
 * @example const { embedding } = llavaTextGraph(params.language_model.model, cfg, ids, mask, positions, last, scatter, feats);
 */
export function llavaTextGraph(p: LlavaTextParams, cfg: LlavaNextConfig, ids: Tensor, mask: Tensor, positions: Tensor, last: Tensor,
  scatter: Tensor, features: Tensor): PooledTensors {
  const embeds = scatterND(embedTokens(p, ids), scatter, features); // [B, T, D]
  const hidden = mistralModel(p, cfg.text, embeds, positions, mask, last); // [B, D]
  return { hidden, embedding: l2Normalize(hidden, -1, 1e-12) };
}
