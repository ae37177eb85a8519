// CLIP vision tower configuration (HF `CLIPVisionConfig`, transformers/models/clip/
// configuration_clip.py; paper: "Learning Transferable Visual Models From Natural Language
// Supervision", arXiv 2103.00020; checkpoint: openai/clip-vit-large-patch14-336).
//
// Read from the `vision_config` object of a multimodal config.json (LLaVA-NeXT) or built from a
// model's own fields (Phi-3-V names the CLIP it loads). Options we do not implement are refused
// with the field named, never silently defaulted.

import { z } from 'zod';
import { Vlm2VecError } from '../../errors.ts';

/** The CLIP ViT hyper-parameters the math reads. */
export interface ClipVisionConfig {
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly numHiddenLayers: number;
  readonly numAttentionHeads: number;
  /** hiddenSize / numAttentionHeads */
  readonly headDim: number;
  readonly numChannels: number;
  /** Side of the square input (336 for ViT-L/14-336). */
  readonly imageSize: number;
  readonly patchSize: number;
  /** (imageSize / patchSize)²: patch tokens, the CLS token not counted. */
  readonly numPatches: number;
  /** 'quick_gelu' (OpenAI CLIP), 'gelu' (erf) or 'gelu_pytorch_tanh' / 'gelu_new' (tanh). */
  readonly hiddenAct: ClipActivation;
  readonly layerNormEps: number;
}

export type ClipActivation = 'quick_gelu' | 'gelu' | 'gelu_new' | 'gelu_pytorch_tanh';
const ACTIVATIONS: readonly ClipActivation[] = ['quick_gelu', 'gelu', 'gelu_new', 'gelu_pytorch_tanh'];

/** transformers' CLIPVisionConfig defaults (ViT-B/32), used for fields a config leaves out. */
export const CLIP_VISION_DEFAULTS = {
  hidden_size: 768,
  intermediate_size: 3072,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  num_channels: 3,
  image_size: 224,
  patch_size: 32,
  hidden_act: 'quick_gelu',
  layer_norm_eps: 1e-5,
} as const;

/** Keys of a CLIP vision_config we read or may ignore (they do not change the forward). */
export const CLIP_VISION_KEYS = [
  'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'num_channels', 'image_size',
  'patch_size', 'hidden_act', 'layer_norm_eps', 'attention_dropout', 'dropout', 'initializer_factor',
  'initializer_range', 'projection_dim', 'vocab_size', 'model_type',
];

const pos = z.number().int().positive();
const Schema = z.object({
  model_type: z.string().optional(),
  hidden_size: pos.optional(),
  intermediate_size: pos.optional(),
  num_hidden_layers: pos.optional(),
  num_attention_heads: pos.optional(),
  num_channels: pos.optional(),
  image_size: pos.optional(),
  patch_size: pos.optional(),
  hidden_act: z.string().optional(),
  layer_norm_eps: z.number().positive().optional(),
});

/**
 * Parses a CLIP `vision_config` object; `file` and `at` (e.g. 'vision_config') name it in errors.
 *
 * @example
 * parseClipVisionConfig({ hidden_size: 1024, intermediate_size: 4096, num_hidden_layers: 24,
 *   num_attention_heads: 16, image_size: 336, patch_size: 14 }, 'config.json', 'vision_config').numPatches // 576
 */
export function parseClipVisionConfig(json: unknown, file: string, at: string): ClipVisionConfig {
  const r = Schema.safeParse(json);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new Vlm2VecError('config', `${file}: ${[at, ...(i?.path ?? []).map(String)].filter(Boolean).join('.')}: ${i?.message}`);
  }
  const v = r.data;
  const fail = (field: string, msg: string): never => {
    throw new Vlm2VecError('config', `${file}: ${at}.${field}: ${msg}`);
  };
  if (v.model_type !== undefined && v.model_type !== 'clip_vision_model') {
    fail('model_type', `'${v.model_type}' is not supported (expected clip_vision_model)`);
  }
  const d = CLIP_VISION_DEFAULTS;
  const hiddenSize = v.hidden_size ?? d.hidden_size;
  const numAttentionHeads = v.num_attention_heads ?? d.num_attention_heads;
  if (hiddenSize % numAttentionHeads !== 0) fail('hidden_size', `${hiddenSize} is not divisible by num_attention_heads ${numAttentionHeads}`);
  const imageSize = v.image_size ?? d.image_size;
  const patchSize = v.patch_size ?? d.patch_size;
  if (imageSize % patchSize !== 0) fail('image_size', `${imageSize} is not a multiple of patch_size ${patchSize}`);
  const act = v.hidden_act ?? d.hidden_act;
  if (!(ACTIVATIONS as readonly string[]).includes(act)) fail('hidden_act', `'${act}' is not supported (supported: ${ACTIVATIONS.join(', ')})`);
  return {
    hiddenSize,
    intermediateSize: v.intermediate_size ?? d.intermediate_size,
    numHiddenLayers: v.num_hidden_layers ?? d.num_hidden_layers,
    numAttentionHeads,
    headDim: hiddenSize / numAttentionHeads,
    numChannels: v.num_channels ?? d.num_channels,
    imageSize,
    patchSize,
    numPatches: (imageSize / patchSize) ** 2,
    hiddenAct: act as ClipActivation,
    layerNormEps: v.layer_norm_eps ?? d.layer_norm_eps,
  };
}

/**
 * The hidden_states index a (possibly negative) `vision_feature_layer` names, as Python indexes
 * the tuple (embeddings, layer 1, …, layer L): -1 → L, -2 → L-1, 0 → the embeddings.
 *
 * @example hiddenStateIndex(-2, 24) // 23: the output of the 23rd encoder layer
 */
export function hiddenStateIndex(layer: number, numLayers: number): number {
  const i = layer < 0 ? numLayers + 1 + layer : layer;
  if (!Number.isInteger(layer) || i < 0 || i > numLayers) {
    throw new Vlm2VecError('config', `vision feature layer ${layer} is outside the ${numLayers + 1} hidden states of a ${numLayers}-layer CLIP tower`);
  }
  return i;
}

/**
 * OpenAI CLIP ViT-L/14 at 336 px (openai/clip-vit-large-patch14-336): the tower of LLaVA-NeXT
 * (llava-v1.6) and Phi-3-V, whose config.json does not spell it out (Phi-3-V's image embedding
 * builds this CLIPVisionConfig in code).
 *
 * @example CLIP_VIT_LARGE_PATCH14_336.numPatches // 576
 */
export const CLIP_VIT_LARGE_PATCH14_336: ClipVisionConfig = parseClipVisionConfig({
  hidden_size: 1024, intermediate_size: 4096, num_hidden_layers: 24, num_attention_heads: 16, num_channels: 3,
  image_size: 336, patch_size: 14, hidden_act: 'quick_gelu', layer_norm_eps: 1e-5,
}, 'clip-vision/config.ts', 'CLIP_VIT_LARGE_PATCH14_336');
