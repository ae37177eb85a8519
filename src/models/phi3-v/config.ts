// Phi-3-Vision / Phi-3.5-Vision configuration (the remote-code `Phi3VConfig` that
// microsoft/Phi-3.5-vision-instruct ships and VLM2Vec V1 runs from its own copy,
// src/model/baseline_backbone/phi3_v/; paper: "Phi-3 Technical Report", arXiv 2404.14219;
// checkpoints: TIGER-Lab/VLM2Vec-Full, TIGER-Lab/VLM2Vec-LoRA on microsoft/Phi-3.5-vision-instruct).
//
// config.json is flat (model_type "phi3_v"): the Phi-3 decoder fields at the top level,
// `rope_scaling` {type: su | longrope | yarn, short_factor, long_factor} (transformers 5 rewrites
// it as `rope_parameters`; both are read), `embd_layer` (the HD image embedding's options) and
// `img_processor` (which CLIP tower, its width, the feature layer). The reference builds its CLIP
// tower from a constant (ViT-L/14-336) whatever the file says; a config may instead describe
// another CLIP in `vision_config` (the tiny test models do), which then wins.
//
// Everything the reference would refuse, or would run differently from what we implement, is an
// error naming the option: a Phi-3-V config we load is one we compute exactly.

import { z } from 'zod';
import { Vlm2VecError } from '../../errors.ts';
import type { ModelConfig, ParseConfigOptions } from '../common/config.ts';
import { CLIP_VISION_KEYS, parseClipVisionConfig, type ClipVisionConfig } from '../clip-vision/index.ts';

/** Which LongRoPE variant `rope_scaling.type` names (they differ in the attention scaling factor). */
export type Phi3RopeScalingType = 'su' | 'longrope' | 'yarn';

export interface Phi3TextConfig {
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly numHiddenLayers: number;
  readonly numAttentionHeads: number;
  readonly numKeyValueHeads: number;
  /** hiddenSize / numAttentionHeads */
  readonly headDim: number;
  readonly rmsNormEps: number;
  readonly ropeTheta: number;
  readonly maxPositionEmbeddings: number;
  readonly originalMaxPositionEmbeddings: number;
  /** LongRoPE factors (length headDim/2) and the cos/sin scale; absent: plain RoPE. */
  readonly ropeScaling: {
    readonly type: Phi3RopeScalingType;
    readonly shortFactor: readonly number[];
    readonly longFactor: readonly number[];
    /** What cos and sin are multiplied by (1 when max ≤ original). */
    readonly attentionFactor: number;
  } | undefined;
  /** Keys older than i − slidingWindow are masked (transformers' 4-D causal mask); absent: none. */
  readonly slidingWindow: number | undefined;
}

export interface Phi3ImageEmbeddingConfig {
  /** CLIP hidden_states index the features come from (`img_processor.layer_idx`, -2). */
  readonly layerIdx: number;
  /** CLIP width (`img_processor.image_dim_out`). */
  readonly imageDimOut: number;
  /** Side of every crop the HD processor makes (336) and the CLIP input size. */
  readonly cropSize: number;
  /** Merged tokens per crop side: cropSize / patch / 2 (12). */
  readonly tokensPerSide: number;
}

export interface Phi3VConfig extends ModelConfig {
  readonly modelType: 'phi3_v';
  readonly architectures: readonly string[];
  readonly text: Phi3TextConfig;
  readonly vision: ClipVisionConfig;
  readonly image: Phi3ImageEmbeddingConfig;
  readonly padTokenId: number;
  readonly bosTokenId: number | undefined;
  readonly tieWordEmbeddings: boolean;
  readonly dtype: string | undefined;
}

/** The CLIP the reference builds for `openai/clip-vit-large-patch14-336` (its constant). */
const CLIP_L_336 = {
  model_type: 'clip_vision_model', hidden_size: 1024, intermediate_size: 4096, num_hidden_layers: 24, num_attention_heads: 16,
  num_channels: 3, image_size: 336, patch_size: 14, hidden_act: 'quick_gelu', layer_norm_eps: 1e-5,
};
const CLIP_L_336_NAME = 'openai/clip-vit-large-patch14-336';
/** The HD processor cuts 336-pixel crops and counts 12×12 merged tokens each (hard-coded there). */
const CROP = 336;

// PretrainedConfig keys any transformers version may write; accepted and ignored.
const GENERIC_KEYS = [
  '_name_or_path', '_attn_implementation', '_attn_implementation_autoset', 'auto_map', '_commit_hash', 'add_cross_attention',
  'architectures', 'bad_words_ids', 'begin_suppress_tokens', 'bos_token_id', 'chunk_size_feed_forward',
  'cross_attention_hidden_size', 'decoder_start_token_id', 'diversity_penalty', 'do_sample', 'dtype', 'early_stopping',
  'encoder_no_repeat_ngram_size', 'eos_token_id', 'exponential_decay_length_penalty', 'finetuning_task', 'forced_bos_token_id',
  'forced_eos_token_id', 'id2label', 'initializer_range', 'is_decoder', 'is_encoder_decoder', 'label2id', 'length_penalty',
  'max_length', 'min_length', 'model_type', 'no_repeat_ngram_size', 'num_beam_groups', 'num_beams', 'num_return_sequences',
  'output_attentions', 'output_hidden_states', 'output_scores', 'pad_token_id', 'prefix', 'problem_type', 'pruned_heads',
  'remove_invalid_values', 'repetition_penalty', 'return_dict', 'return_dict_in_generate', 'sep_token_id', 'suppress_tokens',
  'task_specific_params', 'temperature', 'tf_legacy_loss', 'tie_encoder_decoder', 'tie_word_embeddings', 'tokenizer_class',
  'top_k', 'top_p', 'torch_dtype', 'torchscript', 'transformers_version', 'typical_p', 'use_bfloat16', 'use_cache',
];
const KNOWN_KEYS = [
  'vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads',
  'hidden_act', 'max_position_embeddings', 'original_max_position_embeddings', 'rms_norm_eps', 'rope_theta', 'rope_scaling',
  'rope_parameters', 'sliding_window', 'embd_layer', 'img_processor', 'vision_config',
  // Dropouts: VLM2Vec embeds in eval mode, they do nothing at inference.
  'embd_pdrop', 'resid_pdrop', 'attention_dropout',
  // VLM2Vec's trainer writes `padding_side` into config.json; it has no effect.
  'padding_side',
];

const pos = z.number().int().positive();
const Factors = z.array(z.number().positive());
const Rope = z.object({
  type: z.string().optional(),
  rope_type: z.string().optional(),
  short_factor: Factors.optional(),
  long_factor: Factors.optional(),
  rope_theta: z.number().positive().optional(),
}).passthrough();
const Schema = z.object({
  model_type: z.literal('phi3_v'),
  architectures: z.array(z.string()).nullable().optional(),
  vocab_size: pos.optional(),
  hidden_size: pos.optional(),
  intermediate_size: pos.optional(),
  num_hidden_layers: pos.optional(),
  num_attention_heads: pos.optional(),
  num_key_value_heads: pos.nullable().optional(),
  hidden_act: z.string().optional(),
  max_position_embeddings: pos.optional(),
  original_max_position_embeddings: pos.optional(),
  rms_norm_eps: z.number().positive().optional(),
  rope_theta: z.number().positive().optional(),
  rope_scaling: Rope.nullable().optional(),
  rope_parameters: Rope.nullable().optional(),
  sliding_window: pos.nullable().optional(),
  embd_layer: z.union([z.string(), z.record(z.string(), z.unknown())]).optional(),
  img_processor: z.record(z.string(), z.unknown()).nullable().optional(),
  vision_config: z.record(z.string(), z.unknown()).optional(),
  pad_token_id: z.number().int().nullable().optional(),
  bos_token_id: z.number().int().nullable().optional(),
  tie_word_embeddings: z.boolean().optional(),
  torch_dtype: z.string().nullable().optional(),
  dtype: z.string().nullable().optional(),
});

function fail(file: string, msg: string): never {
  throw new Vlm2VecError('config', `${file}: ${msg}`);
}

/**
 * LongRoPE's cos/sin scale for a config: su / longrope √(1 + ln s / ln original), yarn
 * 0.1·ln s + 1, with s = max / original (1 when s ≤ 1), as the reference's rotary classes compute it.
 *
 * @example longRopeAttentionFactor('su', 131072, 4096) // 1.1902...
 */
export function longRopeAttentionFactor(type: Phi3RopeScalingType, max: number, original: number): number {
  const scale = max / original;
  if (scale <= 1) return 1;
  return type === 'yarn' ? 0.1 * Math.log(scale) + 1 : Math.sqrt(1 + Math.log(scale) / Math.log(original));
}

function parseRope(raw: z.infer<typeof Rope> | null | undefined, where: string, headDim: number, maxPos: number, original: number,
  file: string): Phi3TextConfig['ropeScaling'] {
  if (raw === null || raw === undefined) return undefined;
  const type = raw.type ?? raw.rope_type;
  if (raw.type !== undefined && raw.rope_type !== undefined && raw.type !== raw.rope_type) {
    fail(file, `${where}: type '${raw.type}' and rope_type '${raw.rope_type}' disagree`);
  }
  if (type === 'default' && raw.short_factor === undefined && raw.long_factor === undefined) return undefined;
  if (type !== 'su' && type !== 'longrope' && type !== 'yarn') {
    fail(file, `${where}.type: '${String(type)}' is not supported for phi3_v (supported: su, longrope, yarn)`);
  }
  // The reference's validation: exactly type, short_factor and long_factor (5.x adds rope_type/rope_theta).
  const extra = Object.keys(raw).filter((k) => !['type', 'rope_type', 'short_factor', 'long_factor', 'rope_theta'].includes(k));
  if (extra.length > 0) fail(file, `${where}: option(s) ${extra.join(', ')} are not supported (phi3_v reads type, short_factor, long_factor)`);
  for (const k of ['short_factor', 'long_factor'] as const) {
    const f = raw[k];
    if (f === undefined) fail(file, `${where}.${k}: missing`);
    if (f.length !== headDim / 2) fail(file, `${where}.${k}: ${f.length} values, expected head_dim/2 = ${headDim / 2}`);
  }
  return {
    type,
    shortFactor: raw.short_factor!,
    longFactor: raw.long_factor!,
    attentionFactor: longRopeAttentionFactor(type, maxPos, original),
  };
}

function parseImage(embd: unknown, img: Record<string, unknown> | null | undefined, visionJson: Record<string, unknown> | undefined,
  file: string): { image: Phi3ImageEmbeddingConfig; vision: ClipVisionConfig } {
  if (typeof embd !== 'object' || embd === null) {
    fail(file, `embd_layer: ${JSON.stringify(embd ?? null)} has no image embedding (phi3_v needs the embd_layer object of Phi-3-Vision)`);
  }
  const e = embd as Record<string, unknown>;
  const want = (k: string, expected: unknown, dflt: unknown, why: string): void => {
    const v = e[k] ?? dflt;
    if (v !== expected) fail(file, `embd_layer.${k}: ${JSON.stringify(v)} is not supported (expected ${JSON.stringify(expected)}: ${why})`);
  };
  want('embedding_cls', 'image', undefined, 'the image embedding');
  want('use_hd_transform', true, false, 'the HD crops the processor makes');
  want('with_learnable_separator', true, false, 'the glb_GN / sub_GN separators');
  want('hd_transform_order', 'sub_glb', 'glb_sub', 'the only order the reference implements');
  want('projection_cls', 'mlp', 'linear', 'the 2-layer projection of 2×2-merged features');
  const extraE = Object.keys(e).filter((k) => !['embedding_cls', 'use_hd_transform', 'with_learnable_separator', 'hd_transform_order', 'projection_cls'].includes(k));
  if (extraE.length > 0) fail(file, `embd_layer: option(s) ${extraE.join(', ')} are not supported`);
  if (img === null || img === undefined) fail(file, 'img_processor: missing (phi3_v needs its CLIP image processor)');
  if (img.name !== 'clip_vision_model') fail(file, `img_processor.name: ${JSON.stringify(img.name)} is not supported (expected "clip_vision_model")`);
  const typeFeature = img.type_feature ?? 'patch';
  if (typeFeature !== 'patch') fail(file, `img_processor.type_feature: ${JSON.stringify(typeFeature)} is not supported (expected "patch")`);
  const layerIdx = img.layer_idx ?? -2;
  if (typeof layerIdx !== 'number' || !Number.isInteger(layerIdx)) fail(file, `img_processor.layer_idx: ${JSON.stringify(layerIdx)} is not an integer`);
  if (typeof img.num_img_tokens !== 'number') fail(file, 'img_processor.num_img_tokens: missing (the reference requires it)');
  const extraI = Object.keys(img).filter((k) => !['name', 'model_name', 'image_dim_out', 'num_img_tokens', 'layer_idx', 'type_feature'].includes(k));
  if (extraI.length > 0) fail(file, `img_processor: option(s) ${extraI.join(', ')} are not supported`);
  let vision: ClipVisionConfig;
  if (visionJson !== undefined) {
    vision = parseClipVisionConfig(visionJson, file, 'vision_config');
  } else if (img.model_name === CLIP_L_336_NAME) {
    vision = parseClipVisionConfig(CLIP_L_336, file, `img_processor (${CLIP_L_336_NAME})`);
  } else {
    fail(file, `img_processor.model_name: ${JSON.stringify(img.model_name)} is not supported without a vision_config (the reference builds ${CLIP_L_336_NAME})`);
  }
  if (vision.imageSize !== CROP || (vision.imageSize / vision.patchSize) % 2 !== 0) {
    fail(file, `the CLIP tower takes ${vision.imageSize}-pixel images in ${vision.patchSize}-pixel patches; the HD processor needs 336-pixel crops and an even patch grid`);
  }
  const tokensPerSide = vision.imageSize / vision.patchSize / 2;
  if (tokensPerSide !== 12) fail(file, `the CLIP patch grid gives ${tokensPerSide}×${tokensPerSide} merged tokens per crop; the processor counts 12×12 (patch 14)`);
  if (img.image_dim_out !== vision.hiddenSize) {
    fail(file, `img_processor.image_dim_out: ${JSON.stringify(img.image_dim_out)} differs from the CLIP width ${vision.hiddenSize}`);
  }
  return { image: { layerIdx, imageDimOut: vision.hiddenSize, cropSize: CROP, tokensPerSide }, vision };
}

/**
 * Parses a phi3_v config.json into a typed, validated config.
 *
 * @example
 * const cfg = parsePhi3VConfig(JSON.parse(readFileSync('Phi-3.5-vision-instruct/config.json', 'utf8')));
 * cfg.text.hiddenSize; // 3072
 * cfg.text.ropeScaling?.type; // 'su'
 */
export function parsePhi3VConfig(json: unknown, options: ParseConfigOptions = {}): Phi3VConfig {
  const file = options.file ?? 'config.json';
  const strict = options.strict ?? true;
  const r = Schema.safeParse(json);
  if (!r.success) {
    const i = r.error.issues[0];
    fail(file, `${(i?.path ?? []).map(String).join('.') || '(root)'}: ${i?.message}`);
  }
  const c = r.data;
  const raw = json as Record<string, unknown>;
  const ok = new Set([...KNOWN_KEYS, ...GENERIC_KEYS]);
  const unknown = Object.keys(raw).filter((k) => !ok.has(k));
  if (unknown.length > 0) {
    if (strict) fail(file, `unknown key(s) at top level: ${unknown.join(', ')} (parse with strict: false to ignore them)`);
    options.onUnknownKeys?.(unknown);
  }
  if (c.vision_config !== undefined) {
    const vu = Object.keys(c.vision_config).filter((k) => !CLIP_VISION_KEYS.includes(k) && !GENERIC_KEYS.includes(k));
    if (vu.length > 0) {
      if (strict) fail(file, `unknown key(s) in vision_config: ${vu.join(', ')}`);
      options.onUnknownKeys?.(vu.map((k) => `vision_config.${k}`));
    }
  }
  const need = <T>(v: T | undefined | null, k: string): T => (v === undefined || v === null ? fail(file, `missing required field ${k}`) : v);
  const hiddenSize = need(c.hidden_size, 'hidden_size');
  const numAttentionHeads = need(c.num_attention_heads, 'num_attention_heads');
  const numKeyValueHeads = c.num_key_value_heads ?? numAttentionHeads;
  if (hiddenSize % numAttentionHeads !== 0) fail(file, `hidden_size ${hiddenSize} is not divisible by num_attention_heads ${numAttentionHeads}`);
  if (numAttentionHeads % numKeyValueHeads !== 0) fail(file, `num_attention_heads ${numAttentionHeads} is not a multiple of num_key_value_heads ${numKeyValueHeads}`);
  const headDim = hiddenSize / numAttentionHeads;
  const act = c.hidden_act ?? 'silu';
  if (act !== 'silu') fail(file, `hidden_act: '${act}' is not supported (phi3_v: silu)`);
  const maxPos = c.max_position_embeddings ?? 4096;
  const original = c.original_max_position_embeddings ?? 4096;
  const ropeRaw = c.rope_scaling ?? c.rope_parameters;
  const ropeWhere = c.rope_scaling ? 'rope_scaling' : 'rope_parameters';
  const text: Phi3TextConfig = {
    vocabSize: need(c.vocab_size, 'vocab_size'),
    hiddenSize,
    intermediateSize: need(c.intermediate_size, 'intermediate_size'),
    numHiddenLayers: need(c.num_hidden_layers, 'num_hidden_layers'),
    numAttentionHeads,
    numKeyValueHeads,
    headDim,
    rmsNormEps: c.rms_norm_eps ?? 1e-5,
    ropeTheta: c.rope_theta ?? c.rope_parameters?.rope_theta ?? 10000,
    maxPositionEmbeddings: maxPos,
    originalMaxPositionEmbeddings: original,
    ropeScaling: parseRope(ropeRaw, ropeWhere, headDim, maxPos, original, file),
    slidingWindow: c.sliding_window ?? undefined,
  };
  const { image, vision } = parseImage(c.embd_layer, c.img_processor, c.vision_config, file);
  return {
    modelType: 'phi3_v',
    architectures: c.architectures ?? [],
    text,
    vision,
    image,
    padTokenId: c.pad_token_id ?? 32000,
    bosTokenId: c.bos_token_id ?? undefined,
    tieWordEmbeddings: c.tie_word_embeddings ?? false,
    dtype: c.torch_dtype ?? c.dtype ?? undefined,
  };
}
