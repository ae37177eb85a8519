// Qwen2-VL language model (transformers' Qwen2VLTextModel, docs/vlm2vec.md §2.4) over `model.*`:
// token embeddings (vision features already scattered in) → L × decoder layer (RMSNorm, GQA
// attention with M-RoPE / 1-D rope, causal + padding mask, SwiGLU) → final RMSNorm. The output
// is `hidden_states[-1]`, the tensor VLM2Vec pools. Given the pooled positions, the last layer
// computes only them (decoder-layer.ts, `pooled`) and the output is the pooled rows.

import { rmsNorm, runDecoderLayers } from '../../nn/index.ts';
import type { Tensor } from '../../tensor/index.ts';
import type { Qwen2VLTextConfig } from './config.ts';
import type { Qwen2VLTextParams } from './weights.ts';
import { qwen2DecoderLayer, type Qwen2DecoderConfig } from './decoder-layer.ts';
import { mropeRotary } from './rope.ts';

/**
 * The decoder hyper-parameters of a parsed text config.
 *
 * @example decoderConfig(cfg.text).numKeyValueHeads // 2 for Qwen2-VL-2B
 */
export function decoderConfig(t: Qwen2VLTextConfig): Qwen2DecoderConfig {
  return {
    numAttentionHeads: t.numAttentionHeads,
    numKeyValueHeads: t.numKeyValueHeads,
    headDim: t.headDim,
    rmsNormEps: t.rmsNormEps,
    ropeTheta: t.ropeTheta,
    mropeSection: t.mropeSection,
  };
}

/**
 * Final-norm hidden states [B, T, D] of `inputsEmbeds` [B, T, D]. `positionIds` is [3, B, T]
 * (t, h, w; identical rows give plain 1-D rope) and `attentionMask` [B, T] (1 = token). With
 * `last` [B, 2] (row, token), only those tokens' states [B, D]: gatherND(full, last), cheaper.
 *
 * @example const h = languageModel(params.model, cfg.text, embeds, positionIds, attentionMask);
 */
export function languageModel(
  p: Qwen2VLTextParams, cfg: Qwen2VLTextConfig, inputsEmbeds: Tensor, positionIds: Tensor, attentionMask: Tensor, last?: Tensor,
): Tensor {
  const config = decoderConfig(cfg);
  const rotary = mropeRotary(positionIds, { headDim: cfg.headDim, theta: cfg.ropeTheta, mropeSection: cfg.mropeSection });
  const h = runDecoderLayers(p.layers, inputsEmbeds, last, (layer, x, pooled) =>
    qwen2DecoderLayer(layer, x, { config, rotary, attentionMask, pooled: pooled ? last : undefined })); // [B, T, D] or [B, D]
  return rmsNorm(p.norm, h, cfg.rmsNormEps);
}
