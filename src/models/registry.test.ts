import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { loadModelConfig as loadAny, modelRecord, parseModelConfig as parseAny, supportedModelTypes, type ParseConfigOptions } from './registry.ts';
import type { Qwen2VLConfig } from './qwen2-vl/config.ts';

// Every config of this file is a qwen2_vl one (the registry dispatches on model_type).
const loadModelConfig = async (p: string): Promise<Qwen2VLConfig> => (await loadAny(p)) as Qwen2VLConfig;
const parseModelConfig = (json: unknown, o?: ParseConfigOptions): Qwen2VLConfig => parseAny(json, o) as Qwen2VLConfig;

const CFG = 'test/fixtures/io/models/configs';
const MODELS = 'test/fixtures/io/models';
const json = async (p: string): Promise<Record<string, unknown>> => JSON.parse(await readFile(p, 'utf8'));
const withoutLayout = ({ layout: _l, dtype: _d, ...rest }: Qwen2VLConfig) => rest;

test('Qwen2-VL-2B-Instruct flat config.json → the values of docs/vlm2vec.md §2.1', async () => {
  const c = await loadModelConfig(`${CFG}/qwen2vl-2b-instruct.flat.json`);
  assert.equal(c.layout, 'flat');
  assert.deepEqual(c.text, {
    vocabSize: 151936,
    hiddenSize: 1536,
    intermediateSize: 8960,
    numHiddenLayers: 28,
    numAttentionHeads: 12,
    numKeyValueHeads: 2,
    headDim: 128,
    hiddenAct: 'silu',
    rmsNormEps: 1e-6,
    ropeTheta: 1_000_000,
    mropeSection: [16, 24, 24],
    maxPositionEmbeddings: 32768,
    attentionDropout: 0,
    useSlidingWindow: false,
    bosTokenId: 151643,
    eosTokenId: 151645,
    padTokenId: null, // the released config sets no pad_token_id: no embedding row is frozen in training
  });
  assert.deepEqual(c.vision, {
    depth: 32,
    embedDim: 1280,
    numHeads: 16,
    headDim: 80,
    mlpRatio: 4,
    mlpHiddenDim: 5120,
    hiddenSize: 1536,
    hiddenAct: 'quick_gelu',
    inChannels: 3,
    patchSize: 14,
    temporalPatchSize: 2,
    spatialMergeSize: 2,
    ropeTheta: 10000,
  });
  assert.equal(c.imageTokenId, 151655);
  assert.equal(c.videoTokenId, 151656);
  assert.equal(c.visionStartTokenId, 151652);
  assert.equal(c.visionEndTokenId, 151653);
  assert.equal(c.tieWordEmbeddings, true);
  assert.equal(c.dtype, 'bfloat16');
  assert.deepEqual(c.architectures, ['Qwen2VLForConditionalGeneration']);
});

test('the same config rewritten nested by transformers 5.18, and as saved by the VLM2Vec trainer, parse identically', async () => {
  const flat = await loadModelConfig(`${CFG}/qwen2vl-2b-instruct.flat.json`);
  const nested = await loadModelConfig(`${CFG}/qwen2vl-2b-instruct.nested-5.18.json`);
  const trainer = await loadModelConfig(`${CFG}/vlm2vec-trainer-4.45.flat.json`);
  assert.equal(nested.layout, 'nested');
  assert.deepEqual(withoutLayout(nested), withoutLayout(flat));
  assert.equal(nested.dtype, 'bfloat16');
  assert.deepEqual(trainer, flat);
});

test('tiny fixture model: nested (saved by transformers) and hand-written flat layouts agree', async () => {
  const nested = await loadModelConfig(`${MODELS}/qwen2vl-tiny`);
  const flat = await loadModelConfig(`${MODELS}/qwen2vl-tiny-flat`);
  assert.deepEqual(withoutLayout(flat), withoutLayout(nested));
  assert.equal(nested.text.hiddenSize, 32);
  assert.equal(nested.text.headDim, 8);
  assert.deepEqual(nested.text.mropeSection, [2, 1, 1]);
  assert.equal(nested.vision.embedDim, 16);
  assert.equal(nested.vision.mlpHiddenDim, 32);
  assert.equal(nested.imageTokenId, 500);
  assert.equal(nested.tieWordEmbeddings, false);
  assert.equal(nested.dtype, 'float32');
  assert.equal(flat.dtype, 'bfloat16');
});

test('unknown or missing model_type lists the supported ones', async () => {
  // Every built-in architecture is listed, in registration order (Qwen2-VL first).
  const list = supportedModelTypes().join(', ');
  assert.equal(supportedModelTypes()[0], 'qwen2_vl');
  assert.ok(supportedModelTypes().includes('llava_next'), list);
  assert.throws(() => modelRecord('mamba'), { message: `[config] model_type 'mamba' is not supported (supported: ${list})` });
  assert.equal(modelRecord('qwen2_vl').padTokenId, 151643, "Qwen2-VL's <|endoftext|>, VLM2Vec's pad token");
  await assert.rejects(loadModelConfig(`${CFG}/unknown-model-type.json`), {
    message: `[config] ${CFG}/unknown-model-type.json: model_type 'mamba' is not supported (supported: ${list})`,
  });
  assert.throws(() => parseModelConfig({ hidden_size: 3 }), { message: `[config] config.json: missing model_type (supported: ${list})` });
  assert.throws(() => parseModelConfig([1]), /expected a JSON object/);
  await assert.rejects(loadModelConfig('/nonexistent/config.json'), /\/nonexistent\/config\.json: cannot read/);
});

test('strict parsing: unknown keys, wrong types, inconsistent sizes are named', async () => {
  const base = await json(`${CFG}/qwen2vl-2b-instruct.flat.json`);
  const vision = base.vision_config as Record<string, unknown>;
  assert.throws(() => parseModelConfig({ ...base, hiden_size: 1 }), /unknown key\(s\) at top level: hiden_size \(parse with strict: false/);
  assert.throws(() => parseModelConfig({ ...base, vision_config: { ...vision, depht: 3 } }), /unknown key\(s\) in vision_config: depht/);
  assert.equal(parseModelConfig({ ...base, hiden_size: 1 }, { strict: false }).text.hiddenSize, 1536);
  assert.throws(() => parseModelConfig({ ...base, hidden_size: '1536' }), /config\.json: hidden_size: .*number/i);
  assert.throws(() => parseModelConfig({ ...base, vision_config: { ...vision, depth: -1 } }), /vision_config\.depth:/);
  assert.throws(() => parseModelConfig({ ...base, rope_scaling: { type: 'mrope', mrope_section: [16, 24, 23] } }), /mrope_section \[16,24,23\] sums to 63, expected head_dim\/2 = 64/);
  assert.throws(() => parseModelConfig({ ...base, rope_scaling: { type: 'yarn', mrope_section: [16, 24, 24] } }), /rope type 'yarn' is not supported/);
  assert.throws(() => parseModelConfig({ ...base, rope_scaling: undefined }), /missing required field rope_scaling\.mrope_section/);
  assert.throws(() => parseModelConfig({ ...base, num_key_value_heads: 5 }), /num_attention_heads 12 is not a multiple of num_key_value_heads 5/);
  assert.throws(() => parseModelConfig({ ...base, vision_config: { ...vision, hidden_size: 1024 } }), /vision_config\.hidden_size 1024 \(merger output\) must equal the text hidden_size 1536/);
  assert.throws(() => parseModelConfig({ ...base, vision_config: { ...vision, in_channels: 4 } }), /in_channels 4 and in_chans 3 disagree/);
  const { vocab_size: _v, ...noVocab } = base;
  assert.throws(() => parseModelConfig(noVocab), /missing required field vocab_size/);
  const nested = await json(`${CFG}/qwen2vl-2b-instruct.nested-5.18.json`);
  const tc = nested.text_config as Record<string, unknown>;
  assert.throws(() => parseModelConfig({ ...nested, text_config: { ...tc, vocab_size: undefined } }), /missing required field text_config\.vocab_size/);
  assert.throws(() => parseModelConfig({ ...nested, text_config: { ...tc, foo: 1 } }), /unknown key\(s\) in text_config: foo/);
});

test('non-strict parsing reports unknown keys; auto_map and a consistent head_dim are accepted', async () => {
  const base = await json(`${CFG}/qwen2vl-2b-instruct.flat.json`);
  const vision = base.vision_config as Record<string, unknown>;
  const seen: string[][] = [];
  const cfg = parseModelConfig(
    { ...base, extra_field: 1, vision_config: { ...vision, depht: 3 } },
    { strict: false, onUnknownKeys: (k) => seen.push(k) },
  );
  assert.equal(cfg.text.hiddenSize, 1536);
  assert.deepEqual(seen, [['extra_field', 'vision_config.depht']]);
  // Remote-code checkpoints (e.g. GME) carry auto_map; Qwen2-VL's derived head_dim is 1536/12 = 128.
  const withExtras = parseModelConfig({ ...base, auto_map: { AutoModel: 'x.Y' }, head_dim: 128 });
  assert.equal(withExtras.text.headDim, 128);
  assert.throws(() => parseModelConfig({ ...base, head_dim: 64 }), /head_dim 64 differs from hidden_size\/num_attention_heads = 128/);
});
