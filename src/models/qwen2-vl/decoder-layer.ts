// Qwen2 / Qwen2-VL text decoder layer (transformers' Qwen2VLDecoderLayer) as a plain function
// over a parameter tree named like the checkpoint (`self_attn.q_proj.weight`, ...):
//   h = x + o_proj(attn(rope(q_proj(n1)), rope(k_proj(n1)), v_proj(n1)))   n1 = RMSNorm(x)
//   y = h + down(silu(gate(n2)) * up(n2))                                    n2 = RMSNorm(h)
// GQA (KV heads shared by groups of query heads), rotate-half rope with optional M-RoPE
// sections, causal + key-padding mask. No KV cache: VLM2Vec encodes whole sequences.
//
// `pooled` (the last layer under last-token pooling): no later layer reads the other positions,
// so only K and V are computed for every token; the query, attention, o_proj, residual, norm
// and MLP run for the B pooled tokens alone ([B, 1, D] out) — the same values, ~1/T of the work.

import { Vlm2VecError } from '../../errors.ts';
import type { Rotary } from '../../nn/index.ts';
import { applyRope, attention, linear, paddingMask, pooledAttention, pooledQueryMask, pooledRows, rmsNorm, swigluMlp, withPooledDropout } from '../../nn/index.ts';
import type { Dim, Tensor } from '../../tensor/index.ts';
import { add, fmtShape, reshape, transpose, unsqueeze } from '../../tensor/index.ts';
import { mropeRotary } from './rope.ts';
import type { Qwen2VLTextParams } from './weights.ts';

/**
 * One decoder layer's parameters (`model.layers.{i}.*`), as declared in weights.ts
 * (`declareQwen2VLParams`): input_layernorm [D], self_attn.{q,k,v}_proj (with bias),
 * o_proj (no bias), post_attention_layernorm [D], mlp.{gate,up,down}_proj.
 */
export type Qwen2DecoderLayerParams = Qwen2VLTextParams['layers'][number];

/** Hyper-parameters of the text decoder (from config.json / text_config). */
export interface Qwen2DecoderConfig {
  numAttentionHeads: number;
  numKeyValueHeads: number;
  /** hidden_size / num_attention_heads in Qwen2-VL. */
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  /** [16, 24, 24] for Qwen2-VL; used when positionIds are [3, B, T]. */
  mropeSection?: readonly number[] | undefined;
}

/** Per-call inputs of {@link qwen2DecoderLayer}. */
export interface Qwen2DecoderInputs {
  config: Qwen2DecoderConfig;
  /** [B, T] or [3, B, T] (M-RoPE). Ignored when `rotary` is given. */
  positionIds?: Tensor | undefined;
  /** Precomputed cos/sin [B, T, hd] (compute once with mropeRotary and share across layers). */
  rotary?: Rotary | undefined;
  /** HF attention_mask [B, T] (1 = token, 0 = pad); the causal mask is always applied. */
  attentionMask?: Tensor | undefined;
  /** [B, 2] (row, token): compute only these queries (see the file comment); needs attentionMask. */
  pooled?: Tensor | undefined;
}

/**
 * One Qwen2-VL text decoder layer. Rows of pad queries produce a (meaningless) uniform average,
 * as in transformers' eager attention; downstream code reads real tokens only.
 *
 * @example
 * const rotary = mropeRotary(positionIds, { headDim: 128, theta: 1e6, mropeSection: [16, 24, 24] });
 * const y = qwen2DecoderLayer(params.model.layers[0], x, { config, rotary, attentionMask }); // [B, T, 1536]
 */
export function qwen2DecoderLayer(layer: Qwen2DecoderLayerParams, x: Tensor, inputs: Qwen2DecoderInputs): Tensor {
  const { config } = inputs;
  if (x.rank !== 3) throw new Vlm2VecError('qwen2', `decoder layer input must be [B, T, D], got ${fmtShape(x.shape)}`);
  const [b, t] = x.shape as [Dim, Dim];
  const hd = config.headDim;
  let rotary = inputs.rotary;
  if (rotary === undefined) {
    if (inputs.positionIds === undefined) {
      throw new Vlm2VecError('qwen2', 'decoder layer needs positionIds or a precomputed rotary table');
    }
    rotary = mropeRotary(inputs.positionIds, { headDim: hd, theta: config.ropeTheta, mropeSection: config.mropeSection });
  }
  const rot = { cos: unsqueeze(rotary.cos, 1), sin: unsqueeze(rotary.sin, 1) }; // [B, 1, T, hd]
  const { pooled } = inputs;
  if (pooled !== undefined && inputs.attentionMask === undefined) {
    throw new Vlm2VecError('qwen2', 'a pooled decoder layer needs the attention mask (its query row is built from it)');
  }
  // Query side: every position, or the pooled token of each row (tq = 1) with its rope angles.
  const at = (y: Tensor): Tensor => (pooled === undefined ? y : pooledRows(y, pooled));
  const tq: Dim = pooled === undefined ? t : 1;
  const rotQ = pooled === undefined ? rot : { cos: unsqueeze(at(rotary.cos), 1), sin: unsqueeze(at(rotary.sin), 1) }; // [B, 1, tq, hd]
  const p = pooled === undefined ? layer : withPooledDropout(layer, pooled, t); // LoRA dropout masks of the full layer

  const a = p.self_attn;
  const n1 = rmsNorm(p.input_layernorm, x, config.rmsNormEps); // [B, T, D]
  const heads = (y: Tensor, n: number, len: Dim): Tensor => transpose(reshape(y, [b, len, n, hd]), 1, 2); // [B, n, len, hd]
  const q = applyRope(heads(linear(a.q_proj, at(n1), 'q_proj'), config.numAttentionHeads, tq), rotQ); // [B, H, tq, hd]
  const k = applyRope(heads(linear(a.k_proj, n1, 'k_proj'), config.numKeyValueHeads, t), rot); // [B, Hkv, T, hd]
  const v = heads(linear(a.v_proj, n1, 'v_proj'), config.numKeyValueHeads, t); // [B, Hkv, T, hd]
  const o = pooled === undefined
    ? attention(q, k, v, { causal: true, mask: inputs.attentionMask === undefined ? undefined : paddingMask(inputs.attentionMask) })
    : pooledAttention(q, k, v, pooledQueryMask(inputs.attentionMask!, pooled)); // [B, H, tq, hd]
  const merged = reshape(transpose(o, 1, 2), [b, tq, config.numAttentionHeads * hd]); // [B, tq, H·hd]
  const h = add(at(x), linear(a.o_proj, merged, 'o_proj')); // [B, tq, D]

  const n2 = rmsNorm(p.post_attention_layernorm, h, config.rmsNormEps); // [B, tq, D]
  return add(h, swigluMlp(p.mlp, n2)); // [B, tq, D]
}
