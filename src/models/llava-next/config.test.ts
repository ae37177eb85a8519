// LLaVA-NeXT's config.json (both transformers layouts) and preprocessor_config.json: values,
// transformers' defaults for what llava-hf's files leave out, and every refused option named.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseLlavaNextConfig } from './config.ts';
import { parseLlavaImageSettings } from './encoder.ts';
import { canonicalLlavaName } from './params.ts';
import { MODEL_DIR } from './fixtures.test-helper.ts';

// llava-hf/llava-v1.6-mistral-7b-hf's config.json (transformers 4.39 layout; text_config states
// only what differs from MistralConfig's defaults).
const V16_MISTRAL = {
  architectures: ['LlavaNextForConditionalGeneration'], ignore_index: -100,
  image_grid_pinpoints: [[336, 672], [672, 336], [672, 672], [1008, 336], [336, 1008]], image_token_index: 32000,
  model_type: 'llava_next', projector_hidden_act: 'gelu',
  text_config: {
    _name_or_path: 'mistralai/Mistral-7B-Instruct-v0.2', architectures: ['MistralForCausalLM'], intermediate_size: 14336,
    max_position_embeddings: 32768, model_type: 'mistral', num_key_value_heads: 8, rms_norm_eps: 1e-5, rope_theta: 1000000.0,
    sliding_window: null, torch_dtype: 'bfloat16', vocab_size: 32064,
  },
  torch_dtype: 'float16', transformers_version: '4.39.0.dev0', use_image_newline_parameter: true,
  vision_config: { hidden_size: 1024, image_size: 336, intermediate_size: 4096, model_type: 'clip_vision_model', num_attention_heads: 16, num_hidden_layers: 24, patch_size: 14, projection_dim: 768, vocab_size: 32000 },
  vision_feature_layer: -2, vision_feature_select_strategy: 'default', vocab_size: 32064,
};

test('llava-v1.6-mistral-7b (4.x layout): MistralConfig defaults fill the text model, CLIP ViT-L/14-336', () => {
  const c = parseLlavaNextConfig(V16_MISTRAL);
  assert.deepEqual(
    [c.text.hiddenSize, c.text.numHiddenLayers, c.text.numAttentionHeads, c.text.numKeyValueHeads, c.text.headDim, c.text.vocabSize, c.text.ropeTheta, c.text.slidingWindow, c.text.rmsNormEps],
    [4096, 32, 32, 8, 128, 32064, 1e6, null, 1e-5],
  );
  assert.deepEqual([c.vision.numPatches, c.vision.hiddenAct, c.vision.numHiddenLayers], [576, 'quick_gelu', 24]);
  assert.deepEqual([c.imageTokenId, c.visionFeatureLayer, c.projectorBias, c.dtype], [32000, -2, true, 'float16']);
});

test('the fixture (5.x layout, rope_parameters, sliding window 40) parses', () => {
  const c = parseLlavaNextConfig(JSON.parse(readFileSync(join(MODEL_DIR, 'config.json'), 'utf8')), { strict: false });
  assert.deepEqual([c.text.ropeTheta, c.text.slidingWindow, c.text.headDim, c.vision.imageSize], [1e6, 40, 12, 28]);
  // A Mistral text_config without sliding_window takes MistralConfig's 4096.
  const { sliding_window: _drop, ...tc } = V16_MISTRAL.text_config;
  assert.equal(parseLlavaNextConfig({ ...V16_MISTRAL, text_config: tc }).text.slidingWindow, 4096);
});

test('text_config.pad_token_id (the padding row of the embedding): null when absent, negative counted from the end, outside the table refused', () => {
  assert.equal(parseLlavaNextConfig(V16_MISTRAL).text.padTokenId, null);
  assert.equal(parseLlavaNextConfig(JSON.parse(readFileSync(join(MODEL_DIR, 'config.json'), 'utf8')), { strict: false }).text.padTokenId, 32001);
  const withPad = (id: number | null) => parseLlavaNextConfig({ ...V16_MISTRAL, text_config: { ...V16_MISTRAL.text_config, pad_token_id: id } });
  assert.deepEqual([withPad(0).text.padTokenId, withPad(null).text.padTokenId, withPad(-1).text.padTokenId], [0, null, 32063]);
  assert.throws(() => withPad(32064), /config\.json: text_config\.pad_token_id: 32064 is outside the embedding table of vocab_size 32064/);
});

test('unsupported options are refused naming the option', () => {
  const bad = (patch: Record<string, unknown>, re: RegExp) => assert.throws(() => parseLlavaNextConfig({ ...V16_MISTRAL, ...patch }, { file: 'c.json' }), re);
  bad({ vision_feature_select_strategy: 'full' }, /c\.json: vision_feature_select_strategy: 'full' is not supported/);
  bad({ vision_feature_layer: [-2, -5] }, /c\.json: vision_feature_layer: a list of layers \[-2, -5\] is not supported/);
  bad({ vision_feature_layer: -30 }, /c\.json: vision_feature_layer: vision feature layer -30 is outside the 25 hidden states/);
  bad({ projector_hidden_act: 'silu' }, /projector_hidden_act: 'silu' is not supported/);
  bad({ image_grid_pinpoints: [[336, 700]] }, /image_grid_pinpoints: \[336, 700\] is not a multiple of the vision image_size 336/);
  bad({ text_config: { ...V16_MISTRAL.text_config, model_type: 'qwen2' } }, /text_config\.model_type: 'qwen2' is not supported/);
  bad({ text_config: { ...V16_MISTRAL.text_config, rope_scaling: { type: 'linear', factor: 2 } } }, /text_config\.rope_scaling: rope type 'linear' is not supported/);
  bad({ text_config: { ...V16_MISTRAL.text_config, attention_bias: true } }, /text_config\.attention_bias/);
  bad({ vision_config: { ...V16_MISTRAL.vision_config, hidden_act: 'relu' } }, /vision_config\.hidden_act: 'relu' is not supported/);
  bad({ some_new_option: 1 }, /c\.json: unknown key\(s\) some_new_option/);
  const warned: string[] = [];
  parseLlavaNextConfig({ ...V16_MISTRAL, some_new_option: 1 }, { strict: false, onUnknownKeys: (k) => warned.push(...k) });
  assert.deepEqual(warned, ['some_new_option']);
});

test('preprocessor_config.json: llava-hf settings read; steps we do not run are refused', () => {
  const cfg = parseLlavaNextConfig(V16_MISTRAL);
  const pre = {
    aspect_ratio_setting: 'anyres', crop_size: { height: 336, width: 336 }, do_center_crop: true, do_convert_rgb: true, do_normalize: true,
    do_rescale: true, do_resize: true, image_grid_pinpoints: V16_MISTRAL.image_grid_pinpoints, image_mean: [0.48145466, 0.4578275, 0.40821073],
    image_processor_type: 'LlavaNextImageProcessor', image_std: [0.26862954, 0.26130258, 0.27577711], processor_class: 'LlavaNextProcessor',
    resample: 3, rescale_factor: 0.00392156862745098, size: { shortest_edge: 336 },
  };
  const s = parseLlavaImageSettings(pre, cfg);
  assert.deepEqual([s.size, s.pinpoints.length, s.rescaleFactor], [336, 5, 0.00392156862745098]);
  assert.equal(parseLlavaImageSettings({}, cfg).size, 336);
  assert.throws(() => parseLlavaImageSettings({ ...pre, resample: 2 }, cfg, 'p.json'), /p\.json: resample: 2 is not supported/);
  assert.throws(() => parseLlavaImageSettings({ ...pre, do_pad: false }, cfg, 'p.json'), /p\.json: do_pad: false is not supported/);
  assert.throws(() => parseLlavaImageSettings({ ...pre, size: { shortest_edge: 224 } }, cfg, 'p.json'), /size: 224 differs from the vision tower's image_size 336/);
  assert.throws(() => parseLlavaImageSettings({ ...pre, image_grid_pinpoints: [[336, 672]] }, cfg, 'p.json'), /image_grid_pinpoints: .* differs from config\.json's/);
});

test('checkpoint and adapter names of both transformers layouts map to the 4.x names', () => {
  assert.equal(canonicalLlavaName('model.language_model.layers.3.mlp.up_proj.weight'), 'language_model.model.layers.3.mlp.up_proj.weight');
  assert.equal(canonicalLlavaName('model.layers.3.self_attn.q_proj.weight'), 'language_model.model.layers.3.self_attn.q_proj.weight'); // peft.ts's 5.x mapping
  assert.equal(canonicalLlavaName('model.vision_tower.encoder.layers.0.mlp.fc1.weight'), 'vision_tower.vision_model.encoder.layers.0.mlp.fc1.weight');
  assert.equal(canonicalLlavaName('model.vision_tower.vision_model.pre_layrnorm.bias'), 'vision_tower.vision_model.pre_layrnorm.bias');
  assert.equal(canonicalLlavaName('model.image_newline'), 'image_newline');
  assert.equal(canonicalLlavaName('model.multi_modal_projector.linear_1.weight'), 'multi_modal_projector.linear_1.weight');
  assert.equal(canonicalLlavaName('language_model.model.norm.weight'), 'language_model.model.norm.weight');
});
