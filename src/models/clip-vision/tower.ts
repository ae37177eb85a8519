// CLIP ViT vision tower (transformers' CLIPVisionTransformer, as CLIPVisionModel runs it) over
// the checkpoint-named tree of params.ts:
//   pixels [N, C, S, S] → patch embedding (Conv2d P×P stride P, no bias, as a linear over the
//   flattened patches) → [CLS | patches] + position embeddings → pre_layrnorm
//   → L × (x + out_proj(attn(LN1(x))); x + fc2(act(fc1(LN2(x))))) → hidden states
// `hidden_states[k]` is the tower after k layers (k = 0: the pre_layrnorm output), so a feature
// layer of -2 runs L-1 layers and stops; `post_layernorm` only ever touches the pooled CLS output,
// which neither LLaVA-NeXT nor Phi-3-V reads. Attention is bidirectional, scaled 1/√head_dim,
// scores and softmax in float32 (eager attention).
//
// Phi-3-V reads the same features: its image embedding calls the CLIP tower with
// output_hidden_states, takes hidden_states[-2] (`layer_idx` -2 in its config) and drops the CLS
// token (`type_feature` 'patch'), i.e. `clipVisionFeatures(p, cfg, pixels, { layer: -2, strategy: 'default' })`.

import { Vlm2VecError } from '../../errors.ts';
import { attention, layerNorm, linear } from '../../nn/index.ts';
import type { Dim, Tensor } from '../../tensor/index.ts';
import { add, cast, concat, expand, fmtShape, gelu, geluTanh, permute, quickGelu, reshape, sliceAxis, transpose } from '../../tensor/index.ts';
import { hiddenStateIndex, type ClipActivation, type ClipVisionConfig } from './config.ts';
import type { ClipEncoderLayerParams, ClipVisionParams } from './params.ts';

/** Which tokens of the selected hidden state to keep. */
export type ClipFeatureStrategy = 'default' | 'full';

/** Options of {@link clipVisionFeatures}. */
export interface ClipFeatureOptions {
  /** Index into hidden_states (Python-style, negative from the end), e.g. -2. */
  layer: number;
  /** 'default': drop the CLS token (LLaVA's name); 'full': keep it. */
  strategy: ClipFeatureStrategy;
}

function activation(name: ClipActivation): (x: Tensor) => Tensor {
  switch (name) {
    case 'quick_gelu': return quickGelu;
    case 'gelu': return gelu;
    case 'gelu_new':
    case 'gelu_pytorch_tanh': return geluTanh;
  }
}

/**
 * Patch + CLS + position embeddings followed by pre_layrnorm: hidden_states[0], [N, 1 + G², E].
 *
 * @example const h0 = clipEmbeddings(params, cfg, pixels); // [N, 577, 1024] for ViT-L/14-336
 */
export function clipEmbeddings(p: ClipVisionParams, cfg: ClipVisionConfig, pixels: Tensor): Tensor {
  const { numChannels: C, imageSize: S, patchSize: P, hiddenSize: E } = cfg;
  if (pixels.rank !== 4 || pixels.shape[1] !== C || pixels.shape[2] !== S || pixels.shape[3] !== S) {
    throw new Vlm2VecError('clip_vision', `pixel_values must be [N, ${C}, ${S}, ${S}], got ${fmtShape(pixels.shape)}`);
  }
  const n = pixels.shape[0] as Dim;
  const g = S / P;
  // [N, C, g, P, g, P] → [N, g(y), g(x), C, P, P] → [N, g², C·P·P]: row-major patches, each
  // flattened in the Conv2d kernel's (c, ky, kx) order.
  const patches = reshape(permute(reshape(pixels, [n, C, g, P, g, P]), [0, 2, 4, 1, 3, 5]), [n, g * g, C * P * P]);
  const patchEmbeds = linear(p.embeddings.patch_embedding, patches, 'patch_embedding'); // [N, g², E]
  const cls = expand(reshape(p.embeddings.class_embedding, [1, 1, E]), [n, 1, E]); // [N, 1, E]
  let pos = p.embeddings.position_embedding.weight; // [1 + g², E]
  if (pos.dtype !== 'float32') pos = cast(pos, 'float32');
  const x = add(concat([cls, patchEmbeds], 1), pos); // [N, 1 + g², E]
  return layerNorm(p.pre_layrnorm, x, cfg.layerNormEps);
}

/**
 * One CLIPEncoderLayer (pre-norm attention and MLP blocks, both residual).
 *
 * @example const y = clipEncoderLayer(params.encoder.layers[0], cfg, x); // [N, T, E]
 */
export function clipEncoderLayer(p: ClipEncoderLayerParams, cfg: ClipVisionConfig, x: Tensor): Tensor {
  const [n, t] = x.shape as [Dim, Dim];
  const { numAttentionHeads: H, headDim: hd, hiddenSize: E, layerNormEps: eps } = cfg;
  const h1 = layerNorm(p.layer_norm1, x, eps); // [N, T, E]
  const heads = (y: Tensor): Tensor => transpose(reshape(y, [n, t, H, hd]), 1, 2); // [N, H, T, hd]
  const a = p.self_attn;
  const o = attention(heads(linear(a.q_proj, h1, 'q_proj')), heads(linear(a.k_proj, h1, 'k_proj')), heads(linear(a.v_proj, h1, 'v_proj')));
  const h = add(x, linear(a.out_proj, reshape(transpose(o, 1, 2), [n, t, E]), 'out_proj')); // [N, T, E]
  const act = activation(cfg.hiddenAct);
  return add(h, linear(p.mlp.fc2, act(linear(p.mlp.fc1, layerNorm(p.layer_norm2, h, eps), 'fc1')), 'fc2'));
}

/**
 * `hidden_states[layer]` of CLIPVisionModel(pixels, output_hidden_states=True), without the CLS
 * token for strategy 'default': [N, G², E] ('full': [N, 1 + G², E]). Only the layers up to the
 * selected one run.
 *
 * @example
 * const feats = clipVisionFeatures(params.vision_tower.vision_model, cfg.vision, pixels, { layer: -2, strategy: 'default' }); // [N, 576, 1024]
 */
export function clipVisionFeatures(p: ClipVisionParams, cfg: ClipVisionConfig, pixels: Tensor, opts: ClipFeatureOptions): Tensor {
  const upTo = hiddenStateIndex(opts.layer, cfg.numHiddenLayers);
  if (p.encoder.layers.length !== cfg.numHiddenLayers) {
    throw new Vlm2VecError('clip_vision', `the parameter tree has ${p.encoder.layers.length} layers, the config ${cfg.numHiddenLayers}`);
  }
  let h = clipEmbeddings(p, cfg, pixels);
  for (let i = 0; i < upTo; i++) h = clipEncoderLayer(p.encoder.layers[i]!, cfg, h);
  return opts.strategy === 'default' ? sliceAxis(h, 1, 1) : h;
}

/**
 * The pooled output of CLIPVisionModel: post_layernorm of the last layer's CLS token, [N, E].
 *
 * @example const pooled = clipPooledOutput(params, cfg, pixels); // [N, 1024]
 */
export function clipPooledOutput(p: ClipVisionParams, cfg: ClipVisionConfig, pixels: Tensor): Tensor {
  const last = clipVisionFeatures(p, cfg, pixels, { layer: -1, strategy: 'full' });
  const cls = reshape(sliceAxis(last, 1, 0, 1), [pixels.shape[0] as Dim, cfg.hiddenSize]);
  return layerNorm(p.post_layernorm, cls, cfg.layerNormEps);
}

/**
 * The parameter paths (under `prefix`, the tower's `vision_model`) a forward reading
 * `hidden_states[layer]` never touches: the encoder layers after it and `post_layernorm`. They get
 * no gradient in torch, so training leaves them as they are.
 *
 * @example clipUnusedPaths('vision_tower.vision_model', { numHiddenLayers: 24 } as ClipVisionConfig, -2) // ['…encoder.layers.23', '…post_layernorm']
 */
export function clipUnusedPaths(prefix: string, cfg: ClipVisionConfig, layer: number): string[] {
  const upTo = hiddenStateIndex(layer, cfg.numHiddenLayers);
  const out: string[] = [];
  for (let i = upTo; i < cfg.numHiddenLayers; i++) out.push(`${prefix}.encoder.layers.${i}`);
  return [...out, `${prefix}.post_layernorm`];
}
