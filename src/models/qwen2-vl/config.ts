// Qwen2-VL configuration (HF `Qwen2VLConfig`, transformers/models/qwen2_vl/configuration_qwen2_vl.py;
// paper: "Qwen2-VL", arXiv 2409.12191; checkpoint: Qwen/Qwen2-VL-2B-Instruct).
//
// Two on-disk layouts exist and both are read into one typed `Qwen2VLConfig`:
// - flat (transformers 4.x; what Qwen/Qwen2-VL-* and the VLM2Vec checkpoints carry): text fields at
//   the top level, `rope_scaling: {type: "mrope", mrope_section}`, `vision_config.in_chans`;
// - nested (transformers ≥ 5 `save_pretrained`): text fields under `text_config`, rope under
//   `text_config.rope_parameters` (with rope_theta inside), `vision_config.in_channels`.
// Mixed files (4.5x wrote `text_config` and kept top-level copies) resolve `text_config` first.
//
// Unknown keys: with `strict` they are an error (a typo'd field should not silently fall back to a
// default); otherwise they are reported through `onUnknownKeys` and ignored, since real checkpoints
// carry extras (remote-code `auto_map`, trainer fields). The generic PretrainedConfig keys every
// transformers version writes are always accepted.

import { z } from 'zod';
import { Vlm2VecError } from '../../errors.ts';
import type { ParseConfigOptions } from '../common/config.ts';

export interface Qwen2VLTextConfig {
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly numHiddenLayers: number;
  readonly numAttentionHeads: number;
  readonly numKeyValueHeads: number;
  /** hiddenSize / numAttentionHeads (Qwen2-VL has no separate head_dim). */
  readonly headDim: number;
  readonly hiddenAct: string;
  readonly rmsNormEps: number;
  readonly ropeTheta: number;
  /** M-RoPE split of headDim/2 rotary frequencies into (temporal, height, width). */
  readonly mropeSection: readonly [number, number, number];
  readonly maxPositionEmbeddings: number;
  readonly attentionDropout: number;
  readonly useSlidingWindow: boolean;
  readonly bosTokenId: number | undefined;
  readonly eosTokenId: number | undefined;
  /**
   * The text model's pad_token_id (nested layout: `text_config.pad_token_id`, the top-level key
   * not read, as transformers 5 builds the text config; flat: the top-level key): its
   * nn.Embedding(padding_idx) row, which gets no gradient in training. null: none.
   */
  readonly padTokenId: number | null;
}

export interface Qwen2VLVisionConfig {
  readonly depth: number;
  readonly embedDim: number;
  readonly numHeads: number;
  /** embedDim / numHeads */
  readonly headDim: number;
  readonly mlpRatio: number;
  /** embedDim · mlpRatio (fc1 output). */
  readonly mlpHiddenDim: number;
  /** Patch-merger output width; equals the language model's hidden size. */
  readonly hiddenSize: number;
  readonly hiddenAct: string;
  readonly inChannels: number;
  readonly patchSize: number;
  readonly temporalPatchSize: number;
  readonly spatialMergeSize: number;
  /** Base of the vision tower's 2-D rotary embedding (fixed 10000 in 4.x; `rope_parameters` in 5.x). */
  readonly ropeTheta: number;
}

export interface Qwen2VLConfig {
  readonly modelType: 'qwen2_vl';
  /** Which on-disk layout the file used. */
  readonly layout: 'flat' | 'nested';
  readonly architectures: readonly string[];
  readonly text: Qwen2VLTextConfig;
  readonly vision: Qwen2VLVisionConfig;
  readonly imageTokenId: number;
  readonly videoTokenId: number;
  readonly visionStartTokenId: number;
  readonly visionEndTokenId: number;
  readonly tieWordEmbeddings: boolean;
  /** Storage dtype recorded in the file (`torch_dtype` / `dtype`), e.g. 'bfloat16'. */
  readonly dtype: string | undefined;
}

// Keys any PretrainedConfig may write (transformers 4.3x–5.x), accepted at every level and ignored.
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

const TEXT_KEYS = [
  'vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads',
  'hidden_act', 'max_position_embeddings', 'rms_norm_eps', 'rope_theta', 'rope_scaling', 'rope_parameters',
  'attention_dropout', 'use_sliding_window', 'sliding_window', 'max_window_layers', 'layer_types', 'head_dim',
];
const TOP_KEYS = [
  'text_config', 'vision_config', 'image_token_id', 'video_token_id', 'vision_start_token_id', 'vision_end_token_id',
  'vision_token_id',
  // VLM2Vec's trainer writes `padding_side` into config.json; it has no effect (docs/vlm2vec.md §1.1).
  'padding_side',
];
const VISION_KEYS = [
  'depth', 'embed_dim', 'num_heads', 'mlp_ratio', 'hidden_size', 'hidden_act', 'in_chans', 'in_channels', 'patch_size',
  'spatial_patch_size', 'temporal_patch_size', 'spatial_merge_size', 'rope_parameters',
];

const int = z.number().int();
const pos = int.positive();
const Rope = z.object({
  type: z.string().optional(),
  rope_type: z.string().optional(),
  mrope_section: z.tuple([pos, pos, pos]).optional(),
  rope_theta: z.number().positive().optional(),
});
const Text = z.object({
  vocab_size: pos.optional(),
  hidden_size: pos.optional(),
  intermediate_size: pos.optional(),
  num_hidden_layers: pos.optional(),
  num_attention_heads: pos.optional(),
  num_key_value_heads: pos.optional(),
  hidden_act: z.string().optional(),
  max_position_embeddings: pos.optional(),
  rms_norm_eps: z.number().positive().optional(),
  rope_theta: z.number().positive().optional(),
  rope_scaling: Rope.nullable().optional(),
  rope_parameters: Rope.nullable().optional(),
  attention_dropout: z.number().min(0).max(1).optional(),
  use_sliding_window: z.boolean().optional(),
  bos_token_id: int.nullable().optional(),
  eos_token_id: int.nullable().optional(),
  pad_token_id: int.nullable().optional(),
  tie_word_embeddings: z.boolean().optional(),
  torch_dtype: z.string().nullable().optional(),
  dtype: z.string().nullable().optional(),
});
const Vision = z.object({
  depth: pos,
  embed_dim: pos,
  num_heads: pos,
  hidden_size: pos,
  mlp_ratio: z.number().positive().optional(),
  hidden_act: z.string().optional(),
  in_chans: pos.optional(),
  in_channels: pos.optional(),
  patch_size: pos.optional(),
  spatial_patch_size: pos.optional(),
  temporal_patch_size: pos.optional(),
  spatial_merge_size: pos.optional(),
  rope_parameters: Rope.nullable().optional(),
});
const Top = Text.extend({
  model_type: z.literal('qwen2_vl'),
  architectures: z.array(z.string()).nullable().optional(),
  text_config: z.record(z.string(), z.unknown()).optional(),
  vision_config: z.record(z.string(), z.unknown()),
  image_token_id: int.optional(),
  video_token_id: int.optional(),
  vision_start_token_id: int.optional(),
  vision_end_token_id: int.optional(),
});

export type { ParseConfigOptions } from '../common/config.ts';

function fail(file: string, msg: string): never {
  throw new Vlm2VecError('config', `${file}: ${msg}`);
}

function parseWith<T extends z.ZodType>(schema: T, value: unknown, file: string, at: string): z.infer<T> {
  const r = schema.safeParse(value);
  if (!r.success) {
    const i = r.error.issues[0];
    const path = [at, ...(i?.path ?? []).map(String)].filter(Boolean).join('.');
    fail(file, `${path || '(root)'}: ${i?.message}`);
  }
  return r.data as z.infer<T>;
}

function unknownKeys(obj: Record<string, unknown>, allowed: readonly string[], at: string): string[] {
  const ok = new Set([...allowed, ...GENERIC_KEYS]);
  return Object.keys(obj).filter((k) => !ok.has(k)).map((k) => (at ? `${at}.${k}` : k));
}

function checkKeys(obj: Record<string, unknown>, allowed: readonly string[], file: string, at: string): void {
  const unknown = unknownKeys(obj, allowed, '');
  if (unknown.length > 0) {
    fail(file, `unknown key(s) ${at ? `in ${at}` : 'at top level'}: ${unknown.join(', ')} (parse with strict: false to ignore them)`);
  }
}

function need<T>(v: T | undefined, file: string, field: string): T {
  if (v === undefined) fail(file, `missing required field ${field}`);
  return v;
}

/** torch's nn.Embedding padding_idx: inside the table, a negative one counted from its end. */
function paddingIndex(id: number | null, vocab: number, file: string, field: string): number | null {
  if (id === null) return null;
  if (id < -vocab || id >= vocab) fail(file, `${field}: ${id} is outside the embedding table of vocab_size ${vocab}`);
  return id < 0 ? id + vocab : id;
}

/**
 * Parses a qwen2_vl config.json (either layout) into a typed, validated config.
 *
 * @example
 * const cfg = parseQwen2VLConfig(JSON.parse(readFileSync('config.json', 'utf8')));
 * cfg.text.hiddenSize; // 1536 for Qwen2-VL-2B
 * cfg.text.mropeSection; // [16, 24, 24]
 */
export function parseQwen2VLConfig(json: unknown, options: ParseConfigOptions = {}): Qwen2VLConfig {
  const file = options.file ?? 'config.json';
  const strict = options.strict ?? true;
  const top = parseWith(Top, json, file, '');
  const raw = json as Record<string, unknown>;
  const nested = top.text_config !== undefined;
  const tc = nested ? parseWith(Text, top.text_config, file, 'text_config') : {};
  const vc = parseWith(Vision, top.vision_config, file, 'vision_config');
  if (strict) {
    checkKeys(raw, [...TEXT_KEYS, ...TOP_KEYS], file, '');
    if (nested) checkKeys(top.text_config as Record<string, unknown>, TEXT_KEYS, file, 'text_config');
    checkKeys(top.vision_config, VISION_KEYS, file, 'vision_config');
  } else if (options.onUnknownKeys) {
    const unknown = [
      ...unknownKeys(raw, [...TEXT_KEYS, ...TOP_KEYS], ''),
      ...(nested ? unknownKeys(top.text_config as Record<string, unknown>, TEXT_KEYS, 'text_config') : []),
      ...unknownKeys(top.vision_config, VISION_KEYS, 'vision_config'),
    ];
    if (unknown.length > 0) options.onUnknownKeys(unknown);
  }
  // text_config wins over top-level copies (transformers ≥ 4.5x reads text_config).
  const t = { ...top, ...tc };
  const where = (k: string) => (nested ? `text_config.${k}` : k);
  const rope = tc.rope_parameters ?? tc.rope_scaling ?? top.rope_parameters ?? top.rope_scaling ?? undefined;
  const ropeKind = rope?.rope_type ?? rope?.type;
  // 'mrope' was renamed to 'default' by transformers 4.4x; both mean plain RoPE split by mrope_section.
  if (ropeKind !== undefined && ropeKind !== 'mrope' && ropeKind !== 'default') {
    fail(file, `${where('rope_scaling')}: rope type '${ropeKind}' is not supported for qwen2_vl (expected mrope/default)`);
  }
  const mropeSection = need(rope?.mrope_section, file, `${where('rope_scaling')}.mrope_section`);

  const hiddenSize = need(t.hidden_size, file, where('hidden_size'));
  const numAttentionHeads = need(t.num_attention_heads, file, where('num_attention_heads'));
  const numKeyValueHeads = need(t.num_key_value_heads, file, where('num_key_value_heads'));
  if (hiddenSize % numAttentionHeads !== 0) {
    fail(file, `${where('hidden_size')} ${hiddenSize} is not divisible by num_attention_heads ${numAttentionHeads}`);
  }
  if (numAttentionHeads % numKeyValueHeads !== 0) {
    fail(file, `num_attention_heads ${numAttentionHeads} is not a multiple of num_key_value_heads ${numKeyValueHeads}`);
  }
  const headDim = hiddenSize / numAttentionHeads;
  // Qwen2-VL derives head_dim; a config that states a different one describes another model.
  const statedHeadDim = (nested ? (top.text_config as Record<string, unknown>) : raw).head_dim;
  if (statedHeadDim !== undefined && statedHeadDim !== null && statedHeadDim !== headDim) {
    fail(file, `${where('head_dim')} ${String(statedHeadDim)} differs from hidden_size/num_attention_heads = ${headDim}; qwen2_vl has no separate head_dim`);
  }
  const sectionSum = mropeSection[0] + mropeSection[1] + mropeSection[2];
  if (2 * sectionSum !== headDim) {
    fail(file, `mrope_section [${mropeSection.join(',')}] sums to ${sectionSum}, expected head_dim/2 = ${headDim / 2}`);
  }
  const text: Qwen2VLTextConfig = {
    vocabSize: need(t.vocab_size, file, where('vocab_size')),
    hiddenSize,
    intermediateSize: need(t.intermediate_size, file, where('intermediate_size')),
    numHiddenLayers: need(t.num_hidden_layers, file, where('num_hidden_layers')),
    numAttentionHeads,
    numKeyValueHeads,
    headDim,
    hiddenAct: t.hidden_act ?? 'silu', // transformers' default
    rmsNormEps: t.rms_norm_eps ?? 1e-6, // transformers' default
    ropeTheta: rope?.rope_theta ?? t.rope_theta ?? 1_000_000, // transformers' default
    mropeSection,
    maxPositionEmbeddings: t.max_position_embeddings ?? 32768,
    attentionDropout: t.attention_dropout ?? 0,
    useSlidingWindow: t.use_sliding_window ?? false,
    bosTokenId: t.bos_token_id ?? undefined,
    eosTokenId: t.eos_token_id ?? undefined,
    padTokenId: paddingIndex((nested ? tc.pad_token_id : top.pad_token_id) ?? null, t.vocab_size!, file, where('pad_token_id')),
  };
  if (text.useSlidingWindow) fail(file, `${where('use_sliding_window')}: sliding-window attention is not supported`);

  const inChannels = vc.in_channels ?? vc.in_chans ?? 3;
  if (vc.in_channels !== undefined && vc.in_chans !== undefined && vc.in_channels !== vc.in_chans) {
    fail(file, `vision_config: in_channels ${vc.in_channels} and in_chans ${vc.in_chans} disagree`);
  }
  if (vc.embed_dim % vc.num_heads !== 0) {
    fail(file, `vision_config.embed_dim ${vc.embed_dim} is not divisible by num_heads ${vc.num_heads}`);
  }
  const mlpRatio = vc.mlp_ratio ?? 4;
  const vision: Qwen2VLVisionConfig = {
    depth: vc.depth,
    embedDim: vc.embed_dim,
    numHeads: vc.num_heads,
    headDim: vc.embed_dim / vc.num_heads,
    mlpRatio,
    mlpHiddenDim: Math.trunc(vc.embed_dim * mlpRatio), // int(dim * mlp_ratio) as the HF module does
    hiddenSize: vc.hidden_size,
    hiddenAct: vc.hidden_act ?? 'quick_gelu', // not written by the 4.x checkpoints; the HF default
    inChannels,
    patchSize: vc.patch_size ?? vc.spatial_patch_size ?? 14,
    temporalPatchSize: vc.temporal_patch_size ?? 2,
    spatialMergeSize: vc.spatial_merge_size ?? 2,
    ropeTheta: vc.rope_parameters?.rope_theta ?? 10_000,
  };
  if (vision.hiddenSize !== text.hiddenSize) {
    fail(file, `vision_config.hidden_size ${vision.hiddenSize} (merger output) must equal the text hidden_size ${text.hiddenSize}`);
  }
  return {
    modelType: 'qwen2_vl',
    layout: nested ? 'nested' : 'flat',
    architectures: top.architectures ?? [],
    text,
    vision,
    // Token ids: the Qwen2-VL tokenizer's, which are also transformers' defaults.
    imageTokenId: top.image_token_id ?? 151655,
    videoTokenId: top.video_token_id ?? 151656,
    visionStartTokenId: top.vision_start_token_id ?? 151652,
    visionEndTokenId: top.vision_end_token_id ?? 151653,
    tieWordEmbeddings: top.tie_word_embeddings ?? tc.tie_word_embeddings ?? false,
    dtype: top.torch_dtype ?? top.dtype ?? tc.dtype ?? undefined,
  };
}
