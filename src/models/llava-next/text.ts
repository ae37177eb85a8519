// The Mistral (and Llama) decoder of LLaVA-NeXT (transformers' MistralModel) over
// `language_model.model.*`: token embeddings (image features already scattered in) → L × layer
// (RMSNorm, GQA attention with rotate-half RoPE, causal + key-padding + sliding-window mask,
// SwiGLU, no biases) → final RMSNorm: the hidden_states[-1] VLM2Vec pools.
//
// Sliding window: Mistral's mask lets query i see key j when i − window < j ≤ i (transformers'
// sliding_window_overlay). Shorter sequences than the window see everything causal, so the mask
// is then the plain causal one; it is still built from the configured window, never dropped. A
// config with sliding_window null (llava-v1.6-mistral's) attends fully causal.

import { applyRope, attention, linear, paddingMask, rmsNorm, swigluMlp, textRotary } from '../../nn/index.ts';
import type { Dim, Tensor } from '../../tensor/index.ts';
import { add, arange, lessEqual, logicalAnd, reshape, transpose, unsqueeze } from '../../tensor/index.ts';
import type { LlavaTextConfig } from './config.ts';
import type { LlavaTextParams } from './params.ts';

type DecoderLayerParams = LlavaTextParams['layers'][number];

/**
 * The sliding-window band [T, T]: key j visible to query i iff j > i − window (with the causal
 * mask, i − window < j ≤ i). T may be symbolic.
 *
 * @example windowMask(t, 4096)
 */
export function windowMask(t: Dim, window: number): Tensor {
  const idx = arange(t); // [T]
  return lessEqual(unsqueeze(idx, 1), add(unsqueeze(idx, 0), window - 1)); // q ≤ k + window − 1
}

function decoderLayer(p: DecoderLayerParams, cfg: LlavaTextConfig, x: Tensor, rot: { cos: Tensor; sin: Tensor }, mask: Tensor): Tensor {
  const [b, t] = x.shape as [Dim, Dim];
  const hd = cfg.headDim;
  const a = p.self_attn;
  const n1 = rmsNorm(p.input_layernorm, x, cfg.rmsNormEps); // [B, T, D]
  const heads = (y: Tensor, n: number): Tensor => transpose(reshape(y, [b, t, n, hd]), 1, 2); // [B, n, T, hd]
  const q = applyRope(heads(linear(a.q_proj, n1, 'q_proj'), cfg.numAttentionHeads), rot);
  const k = applyRope(heads(linear(a.k_proj, n1, 'k_proj'), cfg.numKeyValueHeads), rot);
  const v = heads(linear(a.v_proj, n1, 'v_proj'), cfg.numKeyValueHeads);
  const o = attention(q, k, v, { causal: true, mask }); // [B, H, T, hd]
  const h = add(x, linear(a.o_proj, reshape(transpose(o, 1, 2), [b, t, cfg.numAttentionHeads * hd]), 'o_proj'));
  return add(h, swigluMlp(p.mlp, rmsNorm(p.post_attention_layernorm, h, cfg.rmsNormEps)));
}

/**
 * Final-norm hidden states [B, T, D] of `embeds` [B, T, D] at `positionIds` [B, T] with
 * `attentionMask` [B, T] (1 = token).
 *
 * @example const h = mistralModel(params.language_model.model, cfg.text, embeds, positions, mask);
 */
export function mistralModel(p: LlavaTextParams, cfg: LlavaTextConfig, embeds: Tensor, positionIds: Tensor, attentionMask: Tensor): Tensor {
  const r = textRotary(positionIds, { headDim: cfg.headDim, theta: cfg.ropeTheta }); // [B, T, hd]
  const rot = { cos: unsqueeze(r.cos, 1), sin: unsqueeze(r.sin, 1) }; // [B, 1, T, hd]
  let mask = paddingMask(attentionMask); // [B, 1, 1, T]
  if (cfg.slidingWindow !== null) mask = logicalAnd(mask, windowMask(embeds.shape[1] as Dim, cfg.slidingWindow)); // [B, 1, T, T]
  let h = embeds;
  for (const layer of p.layers) h = decoderLayer(layer, cfg, h, rot, mask);
  return rmsNorm(p.norm, h, cfg.rmsNormEps);
}
