// LLaVA-NeXT configuration (HF `LlavaNextConfig`, transformers/models/llava_next/
// configuration_llava_next.py; "LLaVA-NeXT: Improved reasoning, OCR, and world knowledge", 2024;
// checkpoints: llava-hf/llava-v1.6-mistral-7b-hf, TIGER-Lab/VLM2Vec-LLaVa-Next).
//
// config.json holds `vision_config` (CLIP, models/clip-vision) and `text_config` (Mistral; Llama
// for the vicuna variants, the same decoder without a sliding window). Fields left out take
// transformers' defaults, as the published files rely on them (llava-v1.6-mistral's text_config
// does not state hidden_size or the layer count). The rope base is `rope_theta` (4.x) or
// `rope_parameters.rope_theta` (5.x). Options this implementation does not compute (a list of
// feature layers, the 'full' feature strategy, rope scaling, attention biases, …) are refused
// with the option named.

import { z } from 'zod';
import { Vlm2VecError } from '../../errors.ts';
import type { ParseConfigOptions } from '../common/config.ts';
import { CLIP_VISION_KEYS, hiddenStateIndex, parseClipVisionConfig, type ClipVisionConfig } from '../clip-vision/index.ts';

/** The Mistral / Llama decoder's hyper-parameters. */
export interface LlavaTextConfig {
  /** 'mistral' or 'llama'. */
  readonly modelType: string;
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly numHiddenLayers: number;
  readonly numAttentionHeads: number;
  readonly numKeyValueHeads: number;
  readonly headDim: number;
  readonly rmsNormEps: number;
  readonly ropeTheta: number;
  /** Keys more than this many positions back are not attended (Mistral); null: full causal. */
  readonly slidingWindow: number | null;
  readonly maxPositionEmbeddings: number;
  /**
   * `text_config.pad_token_id`: the decoder's nn.Embedding(padding_idx) row, which gets no gradient
   * in training (null: none; Mistral's and Llama's default).
   */
  readonly padTokenId: number | null;
}

export interface LlavaNextConfig {
  readonly modelType: 'llava_next';
  readonly architectures: readonly string[];
  readonly vision: ClipVisionConfig;
  readonly text: LlavaTextConfig;
  readonly imageTokenId: number;
  /** Candidate (height, width) resolutions of the anyres grid, in pixels. */
  readonly imageGridPinpoints: readonly (readonly [number, number])[];
  /** hidden_states index of the vision tower (-2 for llava-v1.6). */
  readonly visionFeatureLayer: number;
  readonly visionFeatureSelectStrategy: 'default';
  readonly projectorHiddenAct: 'gelu';
  readonly projectorBias: boolean;
  readonly dtype: string | undefined;
}

// Keys every PretrainedConfig may write (transformers 4.3x–5.x); accepted and ignored.
const GENERIC_KEYS = [
  '_name_or_path', '_attn_implementation_autoset', 'auto_map', '_commit_hash', 'add_cross_attention', 'architectures',
  'bad_words_ids', 'begin_suppress_tokens', 'bos_token_id', 'chunk_size_feed_forward', 'cross_attention_hidden_size',
  'decoder_start_token_id', 'diversity_penalty', 'do_sample', 'dtype', 'early_stopping', 'encoder_no_repeat_ngram_size',
  'eos_token_id', 'exponential_decay_length_penalty', 'finetuning_task', 'forced_bos_token_id', 'forced_eos_token_id',
  'id2label', 'initializer_range', 'is_decoder', 'is_encoder_decoder', 'label2id', 'length_penalty', 'max_length',
  'min_length', 'model_type', 'no_repeat_ngram_size', 'num_beam_groups', 'num_beams', 'num_return_sequences',
  'output_attentions', 'output_hidden_states', 'output_scores', 'pad_token_id', 'prefix', 'problem_type',
  'pruned_heads', 'remove_invalid_values', 'repetition_penalty', 'return_dict', 'return_dict_in_generate',
  'sep_token_id', 'suppress_tokens', 'task_specific_params', 'temperature', 'tf_legacy_loss', 'tie_encoder_decoder',
  'tie_word_embeddings', 'tokenizer_class', 'top_k', 'top_p', 'torch_dtype', 'torchscript', 'transformers_version',
  'typical_p', 'use_bfloat16', 'use_cache', 'quantization_config',
];
const TOP_KEYS = [
  'vision_config', 'text_config', 'image_token_index', 'image_grid_pinpoints', 'vision_feature_layer',
  'vision_feature_select_strategy', 'projector_hidden_act', 'multimodal_projector_bias', 'image_seq_length',
  'use_image_newline_parameter', 'ignore_index', 'vocab_size',
  // VLM2Vec's trainer writes these into config.json; they do not change the forward.
  'padding_side', 'use_cache',
];
const TEXT_KEYS = [
  'vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads',
  'head_dim', 'hidden_act', 'max_position_embeddings', 'rms_norm_eps', 'rope_theta', 'rope_parameters', 'rope_scaling',
  'sliding_window', 'attention_dropout', 'attention_bias', 'mlp_bias', 'pretraining_tp', 'use_sliding_window',
];

const int = z.number().int();
const pos = int.positive();
const Rope = z.object({ rope_type: z.string().optional(), type: z.string().optional(), rope_theta: z.number().positive().optional() }).passthrough();
const Text = z.object({
  model_type: z.string().optional(),
  vocab_size: pos.optional(),
  hidden_size: pos.optional(),
  intermediate_size: pos.optional(),
  num_hidden_layers: pos.optional(),
  num_attention_heads: pos.optional(),
  num_key_value_heads: pos.nullable().optional(),
  head_dim: pos.nullable().optional(),
  hidden_act: z.string().optional(),
  max_position_embeddings: pos.optional(),
  rms_norm_eps: z.number().positive().optional(),
  rope_theta: z.number().positive().optional(),
  rope_parameters: Rope.nullable().optional(),
  rope_scaling: Rope.nullable().optional(),
  sliding_window: pos.nullable().optional(),
  attention_bias: z.boolean().optional(),
  mlp_bias: z.boolean().optional(),
  pretraining_tp: int.optional(),
  pad_token_id: int.nullable().optional(),
});
const Top = z.object({
  model_type: z.literal('llava_next'),
  architectures: z.array(z.string()).nullable().optional(),
  vision_config: z.record(z.string(), z.unknown()).optional(),
  text_config: z.record(z.string(), z.unknown()).optional(),
  image_token_index: int.optional(),
  image_grid_pinpoints: z.array(z.tuple([pos, pos])).optional(),
  vision_feature_layer: z.union([int, z.array(int)]).optional(),
  vision_feature_select_strategy: z.string().optional(),
  projector_hidden_act: z.string().optional(),
  multimodal_projector_bias: z.boolean().optional(),
  use_image_newline_parameter: z.boolean().optional(),
  torch_dtype: z.string().nullable().optional(),
  dtype: z.string().nullable().optional(),
});

/** transformers' MistralConfig defaults (Mistral-7B), for fields a text_config leaves out. */
const MISTRAL_DEFAULTS = {
  vocab_size: 32000, hidden_size: 4096, intermediate_size: 14336, num_hidden_layers: 32, num_attention_heads: 32,
  num_key_value_heads: 8, max_position_embeddings: 4096 * 32, rms_norm_eps: 1e-6, rope_theta: 10000, sliding_window: 4096,
} as const;
/** transformers' LlamaConfig defaults (Llama-2-7B). */
const LLAMA_DEFAULTS = {
  vocab_size: 32000, hidden_size: 4096, intermediate_size: 11008, num_hidden_layers: 32, num_attention_heads: 32,
  num_key_value_heads: null, max_position_embeddings: 2048, rms_norm_eps: 1e-6, rope_theta: 10000, sliding_window: null,
} as const;

/** llava-v1.6's anyres resolutions (transformers' default image_grid_pinpoints). */
export const DEFAULT_GRID_PINPOINTS: readonly (readonly [number, number])[] = [[336, 672], [672, 336], [672, 672], [1008, 336], [336, 1008]];

function parseWith<T extends z.ZodType>(schema: T, value: unknown, file: string, at: string): z.infer<T> {
  const r = schema.safeParse(value);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new Vlm2VecError('config', `${file}: ${[at, ...(i?.path ?? []).map(String)].filter(Boolean).join('.') || '(root)'}: ${i?.message}`);
  }
  return r.data as z.infer<T>;
}

function unknownKeys(obj: Record<string, unknown>, allowed: readonly string[], at: string): string[] {
  const ok = new Set([...allowed, ...GENERIC_KEYS]);
  return Object.keys(obj).filter((k) => !ok.has(k)).map((k) => (at ? `${at}.${k}` : k));
}

/**
 * Parses a llava_next config.json into a typed config.
 *
 * @example
 * const cfg = parseLlavaNextConfig(JSON.parse(readFileSync('llava-v1.6-mistral-7b-hf/config.json', 'utf8')));
 * cfg.text.hiddenSize; // 4096 (MistralConfig's default; the file leaves it out)
 * cfg.vision.numPatches; // 576
 */
export function parseLlavaNextConfig(json: unknown, options: ParseConfigOptions = {}): LlavaNextConfig {
  const file = options.file ?? 'config.json';
  const strict = options.strict ?? true;
  const top = parseWith(Top, json, file, '');
  const raw = json as Record<string, unknown>;
  const tcRaw = top.text_config ?? {};
  const vcRaw = top.vision_config ?? {};
  const unknown = [
    ...unknownKeys(raw, TOP_KEYS, ''),
    ...unknownKeys(tcRaw, TEXT_KEYS, 'text_config'),
    ...unknownKeys(vcRaw, CLIP_VISION_KEYS, 'vision_config'),
  ];
  if (unknown.length > 0) {
    if (strict) throw new Vlm2VecError('config', `${file}: unknown key(s) ${unknown.join(', ')} (parse with strict: false to ignore them)`);
    options.onUnknownKeys?.(unknown);
  }
  const fail = (field: string, msg: string): never => {
    throw new Vlm2VecError('config', `${file}: ${field}: ${msg}`);
  };

  const vision = parseClipVisionConfig({ model_type: 'clip_vision_model', ...vcRaw }, file, 'vision_config');
  const tc = parseWith(Text, tcRaw, file, 'text_config');
  const textType = tc.model_type ?? 'llama'; // transformers' LlavaNextConfig default text model
  if (textType !== 'mistral' && textType !== 'llama') fail('text_config.model_type', `'${textType}' is not supported (expected mistral or llama)`);
  const d = textType === 'mistral' ? MISTRAL_DEFAULTS : LLAMA_DEFAULTS;
  const rope = tc.rope_parameters ?? tc.rope_scaling ?? undefined;
  const ropeType = rope?.rope_type ?? rope?.type;
  if (ropeType !== undefined && ropeType !== 'default') fail('text_config.rope_scaling', `rope type '${ropeType}' is not supported (only plain RoPE)`);
  if (tc.attention_bias === true) fail('text_config.attention_bias', 'true is not supported (Mistral / Llama projections have no bias)');
  if (tc.mlp_bias === true) fail('text_config.mlp_bias', 'true is not supported');
  if (tc.hidden_act !== undefined && tc.hidden_act !== 'silu') fail('text_config.hidden_act', `'${tc.hidden_act}' is not supported (expected silu)`);
  if (tc.pretraining_tp !== undefined && tc.pretraining_tp !== 1) fail('text_config.pretraining_tp', `${tc.pretraining_tp} is not supported (expected 1)`);
  const hiddenSize = tc.hidden_size ?? d.hidden_size;
  const numAttentionHeads = tc.num_attention_heads ?? d.num_attention_heads;
  const numKeyValueHeads = tc.num_key_value_heads ?? d.num_key_value_heads ?? numAttentionHeads;
  if (numAttentionHeads % numKeyValueHeads !== 0) {
    fail('text_config.num_key_value_heads', `num_attention_heads ${numAttentionHeads} is not a multiple of ${numKeyValueHeads}`);
  }
  const headDim = tc.head_dim ?? hiddenSize / numAttentionHeads;
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) fail('text_config.head_dim', `${headDim} must be an even integer`);
  let text: LlavaTextConfig = {
    modelType: textType,
    vocabSize: tc.vocab_size ?? d.vocab_size,
    hiddenSize,
    intermediateSize: tc.intermediate_size ?? d.intermediate_size,
    numHiddenLayers: tc.num_hidden_layers ?? d.num_hidden_layers,
    numAttentionHeads,
    numKeyValueHeads,
    headDim,
    rmsNormEps: tc.rms_norm_eps ?? d.rms_norm_eps,
    ropeTheta: rope?.rope_theta ?? tc.rope_theta ?? d.rope_theta,
    slidingWindow: tc.sliding_window === undefined ? d.sliding_window : tc.sliding_window,
    maxPositionEmbeddings: tc.max_position_embeddings ?? d.max_position_embeddings,
    padTokenId: tc.pad_token_id ?? null,
  };
  // torch's nn.Embedding refuses a padding_idx outside the table (a negative one counts from its end).
  if (text.padTokenId !== null) {
    if (text.padTokenId < -text.vocabSize || text.padTokenId >= text.vocabSize) {
      fail('text_config.pad_token_id', `${text.padTokenId} is outside the embedding table of vocab_size ${text.vocabSize}`);
    }
    if (text.padTokenId < 0) text = { ...text, padTokenId: text.padTokenId + text.vocabSize };
  }

  const layer = top.vision_feature_layer ?? -2;
  if (Array.isArray(layer)) fail('vision_feature_layer', `a list of layers [${layer.join(', ')}] is not supported (one layer index)`);
  try {
    hiddenStateIndex(layer as number, vision.numHiddenLayers);
  } catch (e) {
    fail('vision_feature_layer', (e as Error).message.replace(/^\[config\] /, ''));
  }
  const strategy = top.vision_feature_select_strategy ?? 'default';
  // 'full' keeps CLS, and the anyres reshape of (patch, 24, 24) features cannot take it.
  if (strategy !== 'default') fail('vision_feature_select_strategy', `'${strategy}' is not supported (expected default)`);
  const act = top.projector_hidden_act ?? 'gelu';
  if (act !== 'gelu') fail('projector_hidden_act', `'${act}' is not supported (expected gelu)`);
  if (top.use_image_newline_parameter === false) fail('use_image_newline_parameter', 'false is not supported (LLaVA-NeXT appends image_newline)');
  const pinpoints = top.image_grid_pinpoints ?? DEFAULT_GRID_PINPOINTS;
  for (const [h, w] of pinpoints) {
    if (h % vision.imageSize !== 0 || w % vision.imageSize !== 0) {
      fail('image_grid_pinpoints', `[${h}, ${w}] is not a multiple of the vision image_size ${vision.imageSize}`);
    }
  }
  return {
    modelType: 'llava_next',
    architectures: top.architectures ?? [],
    vision,
    text,
    imageTokenId: top.image_token_index ?? 32000,
    imageGridPinpoints: pinpoints.map(([h, w]) => [h, w] as const),
    visionFeatureLayer: layer as number,
    visionFeatureSelectStrategy: 'default',
    projectorHiddenAct: 'gelu',
    projectorBias: top.multimodal_projector_bias ?? true,
    dtype: top.torch_dtype ?? top.dtype ?? undefined,
  };
}
