// Qwen2 / Qwen2-VL text decoder layer (transformers' Qwen2VLDecoderLayer) as a plain function
// over a parameter tree named like the checkpoint (`self_attn.q_proj.weight`, ...):
//   h = x + o_proj(attn(rope(q_proj(n1)), rope(k_proj(n1)), v_proj(n1)))   n1 = RMSNorm(x)
//   y = h + down(silu(gate(n2)) * up(n2))                                    n2 = RMSNorm(h)
// GQA (KV heads shared by groups of query heads), rotate-half rope with optional M-RoPE
// sections, causal + key-padding mask. No KV cache: VLM2Vec encodes whole sequences.

import { Vlm2VecError } from '../../errors.ts';
import type { Rotary } from '../../nn/index.ts';
import { applyRope, attention, linear, paddingMask, rmsNorm, swigluMlp } from '../../nn/index.ts';
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
}

/**
 * One Qwen2-VL text decoder layer. Rows of pad queries produce a (meaningless) uniform average,
 * as in transformers' eager attention; downstream code reads real tokens only.
 *
 * @example
 * const rotary = mropeRotary(positionIds, { headDim: 128, theta: 1e6, mropeSection: [16, 24, 24] });
 * const y = qwen2DecoderLayer(params.model.layers[0], x, { config, rotary, attentionMask }); // [B, T, 1536]
 */
export function qwen2DecoderLayer(p: Qwen2DecoderLayerParams, x: Tensor, inputs: Qwen2DecoderInputs): Tensor {
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

  const a = p.self_attn;
  const n1 = rmsNorm(p.input_layernorm, x, config.rmsNormEps); // [B, T, D]
  const heads = (y: Tensor, n: number): Tensor => transpose(reshape(y, [b, t, n, hd]), 1, 2); // [B, n, T, hd]
  const q = applyRope(heads(linear(a.q_proj, n1, 'q_proj'), config.numAttentionHeads), rot); // [B, H, T, hd]
  const k = applyRope(heads(linear(a.k_proj, n1, 'k_proj'), config.numKeyValueHeads), rot); // [B, Hkv, T, hd]
  const v = heads(linear(a.v_proj, n1, 'v_proj'), config.numKeyValueHeads); // [B, Hkv, T, hd]
  const mask = inputs.attentionMask === undefined ? undefined : paddingMask(inputs.attentionMask); // [B, 1, 1, T]
  const o = attention(q, k, v, { causal: true, mask }); // [B, H, T, hd]
  const merged = reshape(transpose(o, 1, 2), [b, t, config.numAttentionHeads * hd]); // [B, T, H·hd]
  const h = add(x, linear(a.o_proj, merged, 'o_proj')); // [B, T, D]

  const n2 = rmsNorm(p.post_attention_layernorm, h, config.rmsNormEps); // [B, T, D]
  return add(h, swigluMlp(p.mlp, n2)); // [B, T, D]
}
