// The Mistral (and Llama) decoder of LLaVA-NeXT (transformers' MistralModel) over
// `language_model.model.*`: token embeddings (image features already scattered in) → L × layer
// (RMSNorm, GQA attention with rotate-half RoPE, causal + key-padding + sliding-window mask,
// SwiGLU, no biases) → final RMSNorm: the hidden_states[-1] VLM2Vec pools.
//
// Sliding window: Mistral's mask lets query i see key j when i − window < j ≤ i (transformers'
// sliding_window_overlay). Shorter sequences than the window see everything causal, so the mask
// is then the plain causal one; it is still built from the configured window, never dropped. A
// config with sliding_window null (llava-v1.6-mistral's) attends fully causal.
//
// Given the pooled positions, the last layer computes its query side (q, attention, o_proj, MLP)
// for those tokens only, with the same causal / padding / window row of the mask: no later layer
// reads the other positions, so the pooled states are the same at ~1/T of that layer's work.

import { applyRope, attention, linear, paddingMask, pooledAttention, pooledQueryMask, pooledRows, rmsNorm, runDecoderLayers, swigluMlp, textRotary, withPooledDropout, type Rotary } from '../../nn/index.ts';
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

/** The last layer's pooled queries: tokens [B, 2], rope at them [B, 1, 1, hd], key mask [B, 1, 1, T]. */
interface PooledQuery {
  last: Tensor;
  rot: Rotary;
  mask: Tensor;
}

function decoderLayer(layer: DecoderLayerParams, cfg: LlavaTextConfig, x: Tensor, rot: Rotary, mask: Tensor, pooled?: PooledQuery): Tensor {
  const [b, t] = x.shape as [Dim, Dim];
  const p = pooled === undefined ? layer : withPooledDropout(layer, pooled.last, t); // LoRA dropout masks of the full layer
  const hd = cfg.headDim;
  const a = p.self_attn;
  const tq: Dim = pooled === undefined ? t : 1;
  const at = (y: Tensor): Tensor => (pooled === undefined ? y : pooledRows(y, pooled.last)); // [B, tq, ...]
  const n1 = rmsNorm(p.input_layernorm, x, cfg.rmsNormEps); // [B, T, D]
  const heads = (y: Tensor, n: number, len: Dim): Tensor => transpose(reshape(y, [b, len, n, hd]), 1, 2); // [B, n, len, hd]
  const q = applyRope(heads(linear(a.q_proj, at(n1), 'q_proj'), cfg.numAttentionHeads, tq), pooled?.rot ?? rot);
  const k = applyRope(heads(linear(a.k_proj, n1, 'k_proj'), cfg.numKeyValueHeads, t), rot);
  const v = heads(linear(a.v_proj, n1, 'v_proj'), cfg.numKeyValueHeads, t);
  const o = pooled === undefined ? attention(q, k, v, { causal: true, mask }) : pooledAttention(q, k, v, pooled.mask); // [B, H, tq, hd]
  const h = add(at(x), linear(a.o_proj, reshape(transpose(o, 1, 2), [b, tq, cfg.numAttentionHeads * hd]), 'o_proj'));
  return add(h, swigluMlp(p.mlp, rmsNorm(p.post_attention_layernorm, h, cfg.rmsNormEps)));
}

/**
 * Final-norm hidden states [B, T, D] of `embeds` [B, T, D] at `positionIds` [B, T] with
 * `attentionMask` [B, T] (1 = token). With `last` [B, 2] (row, token), only those tokens' states
 * [B, D] (= gatherND of the full output), the last layer computing just them.
 *
 * @example const h = mistralModel(params.language_model.model, cfg.text, embeds, positions, mask);
 */
export function mistralModel(p: LlavaTextParams, cfg: LlavaTextConfig, embeds: Tensor, positionIds: Tensor, attentionMask: Tensor,
  last?: Tensor): Tensor {
  const r = textRotary(positionIds, { headDim: cfg.headDim, theta: cfg.ropeTheta }); // [B, T, hd]
  const rot = { cos: unsqueeze(r.cos, 1), sin: unsqueeze(r.sin, 1) }; // [B, 1, T, hd]
  let mask = paddingMask(attentionMask); // [B, 1, 1, T]
  const window = cfg.slidingWindow ?? undefined;
  if (window !== undefined) mask = logicalAnd(mask, windowMask(embeds.shape[1] as Dim, window)); // [B, 1, T, T]
  const pooled = last === undefined ? undefined : {
    last,
    rot: { cos: unsqueeze(pooledRows(r.cos, last), 1), sin: unsqueeze(pooledRows(r.sin, last), 1) }, // [B, 1, 1, hd]
    mask: pooledQueryMask(attentionMask, last, window), // i − window < j ≤ i, as windowMask
  };
  const h = runDecoderLayers(p.layers, embeds, last, (layer, x, isPooled) =>
    decoderLayer(layer, cfg, x, rot, mask, isPooled ? pooled : undefined)); // [B, T, D] or [B, D]
  return rmsNorm(p.norm, h, cfg.rmsNormEps);
}
