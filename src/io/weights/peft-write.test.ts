// Saving adapters and full models: peft's own DoRA adapter (tiny-a-dora, written by peft 0.21's
// save_pretrained in tools/reference/model_qwen2vl.py) re-saved by saveAdapter gives peft's bytes
// and config fields, loads back to the same merged weights; a full float32 model folder written by
// saveModelFolder embeds like transformers' merged DoRA model.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Checkpoint } from './checkpoint.ts';
import { adapterTensors, loadAdapter, type PeftAdapter } from './peft.ts';
import { adapterConfigJson, peftModulePath, peftStateDict, saveAdapter } from './peft-write.ts';
import { float32Config, saveModelFolder } from './model-write.ts';
import { SafetensorsFile } from './safetensors.ts';
import { mergeAdapter } from '../../models/common/merge-adapter.ts';
import { toFloat32 } from './safetensors-dtype.ts';
import { compareRows, FIXTURES, goldenCase, goldenF32, TOKENIZER_DIR } from '../../models/qwen2-vl/fixtures.test-helper.ts';
import { LocalEmbedder } from '../../embed/local.ts';
import { configureRuntime } from '../../tensor/index.ts';

configureRuntime({ threads: 1 });

const DORA = join(FIXTURES, 'tiny-a-dora');
const BASE = join(FIXTURES, 'tiny-a');

async function tmp(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'vlm2vec-peft-write-'));
}

async function merged(base: Checkpoint, ad: PeftAdapter): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const m of ad.modules.values()) {
    const [o, i] = base.info(m.baseWeight).shape as [number, number];
    const f = (t: typeof m.loraA, w: string) => toFloat32(t.dtype, t.data, w);
    out.set(m.baseWeight, mergeAdapter(await base.readFloat32(m.baseWeight), o, i, {
      module: m.module, a: f(m.loraA, 'A'), b: f(m.loraB, 'B'), r: m.r, scaling: m.scaling, magnitude: m.magnitude && f(m.magnitude, 'm'),
    }));
  }
  return out;
}

test('peft module paths: transformers 5 layout by default, 4.x on request', () => {
  assert.equal(peftModulePath('model.layers.3.self_attn.q_proj'), 'model.language_model.layers.3.self_attn.q_proj');
  assert.equal(peftModulePath('visual.blocks.0.attn.qkv'), 'model.visual.blocks.0.attn.qkv');
  assert.equal(peftModulePath('model.layers.3.mlp.down_proj', 'transformers4'), 'model.layers.3.mlp.down_proj');
});

test("re-saving peft's DoRA adapter gives peft's safetensors bytes, its config fields, and the same merge", async () => {
  const dir = await tmp();
  try {
    const ad = await loadAdapter(DORA);
    const tensors = adapterTensors(ad);
    assert.equal(tensors.size, 2 * 7 * 3); // 2 layers × 7 targets × (A, B, magnitude)
    await saveAdapter(dir, ad.config, tensors);
    // Same tensors + metadata {format: pt} → the safetensors library's exact bytes (names, order, header).
    assert.ok((await readFile(join(dir, 'adapter_model.safetensors'))).equals(await readFile(join(DORA, 'adapter_model.safetensors'))));
    const ours = JSON.parse(await readFile(join(dir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    const peft = JSON.parse(await readFile(join(DORA, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    // Every field peft writes, with peft's values, except the writer's version and AutoPeftModel's class hint.
    assert.deepEqual(Object.keys(ours), Object.keys(peft).filter((k) => k !== 'peft_version'));
    for (const k of Object.keys(ours)) {
      if (k === 'auto_mapping') continue;
      if (k === 'target_modules') assert.deepEqual([...(ours[k] as string[])].sort(), [...(peft[k] as string[])].sort());
      else assert.deepEqual(ours[k], peft[k], k);
    }
    const back = await loadAdapter(dir);
    assert.deepEqual(back.config, ad.config);
    const base = await Checkpoint.open(BASE);
    const [m1, m2] = [await merged(base, ad), await merged(base, back)];
    await base.close();
    assert.equal(m2.size, 14);
    for (const [k, w] of m1) assert.ok(Buffer.from(w.buffer).equals(Buffer.from(m2.get(k)!.buffer)), k);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the transformers 4.x layout loads to the same modules', async () => {
  const dir = await tmp();
  try {
    const ad = await loadAdapter(DORA);
    await saveAdapter(dir, ad.config, adapterTensors(ad), { layout: 'transformers4' });
    const st = await SafetensorsFile.open(join(dir, 'adapter_model.safetensors'));
    assert.ok(st.names().includes('base_model.model.model.layers.1.self_attn.o_proj.lora_magnitude_vector'));
    await st.close();
    const back = await loadAdapter(dir);
    assert.deepEqual([...back.modules.keys()].sort(), [...ad.modules.keys()].sort());
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('plain LoRA config fields and rejected adapters', () => {
  const cfg = {
    r: 2, loraAlpha: 4, loraDropout: 0.1, targetModules: ['q_proj'], useDora: false, useRslora: false,
    baseModelNameOrPath: 'Qwen/Qwen2-VL-2B-Instruct', revision: undefined, rankPattern: {}, alphaPattern: {}, initLoraWeights: 'gaussian',
  } as const;
  const j = adapterConfigJson(cfg);
  assert.equal(j.peft_type, 'LORA');
  assert.equal(j.use_dora, false);
  assert.equal(j.init_lora_weights, 'gaussian');
  assert.equal(j.base_model_name_or_path, 'Qwen/Qwen2-VL-2B-Instruct');
  assert.equal(j.lora_dropout, 0.1);
  assert.deepEqual(Object.keys(j), Object.keys(j).sort());
  const q = 'model.layers.0.self_attn.q_proj';
  const A = { shape: [2, 3], data: new Float32Array(6) };
  const B = { shape: [4, 2], data: new Float32Array(8) };
  const sd = peftStateDict(cfg, new Map([[`${q}.lora_A.weight`, A], [`${q}.lora_B.weight`, B]]));
  assert.deepEqual([...sd.keys()], [`base_model.model.model.language_model.layers.0.self_attn.q_proj.lora_A.weight`, `base_model.model.model.language_model.layers.0.self_attn.q_proj.lora_B.weight`]);
  assert.throws(() => peftStateDict(cfg, new Map([[`${q}.lora_A.weight`, A]])), /q_proj: has lora_A but not its pair/);
  assert.throws(() => peftStateDict(cfg, new Map([[`${q}.lora_A.weight`, A], [`${q}.lora_B.weight`, B], [`${q}.lora_magnitude_vector`, { shape: [4], data: new Float32Array(4) }]])), /use_dora is false but lora_magnitude_vector is given/);
  const v = 'model.layers.0.self_attn.v_proj';
  assert.throws(() => peftStateDict(cfg, new Map([[`${v}.lora_A.weight`, A], [`${v}.lora_B.weight`, B]])), /v_proj: not selected by target_modules \["q_proj"\]/);
  assert.throws(() => peftStateDict(cfg, new Map([[`${q}.lora_A.weight`, { shape: [3, 3], data: new Float32Array(9) }], [`${q}.lora_B.weight`, B]])), /do not fit rank 2/);
  assert.throws(() => peftStateDict(cfg, new Map([[`${q}.weight`, A]])), /not an adapter tensor/);
  assert.throws(() => peftStateDict(cfg, new Map([[`${q}.lora_A.weight`, { shape: [2, 3], data: new Float32Array(5) }]])), /needs a Float32Array of 6 elements/);
});

test('float32Config sets the dtype field the config carries', () => {
  assert.deepEqual(float32Config({ dtype: 'bfloat16', a: 1 }), { dtype: 'float32', a: 1 });
  assert.deepEqual(float32Config({ torch_dtype: 'bfloat16' }), { torch_dtype: 'float32' });
  assert.deepEqual(float32Config({}), { dtype: 'float32' });
});

test("a full model folder (tiny-a with the DoRA merged, float32) embeds like transformers' merged model", async () => {
  const dir = await tmp();
  try {
    const base = await Checkpoint.open(BASE);
    const mergedW = await merged(base, await loadAdapter(DORA));
    const weights = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const n of base.names()) weights.set(n, { shape: [...base.info(n).shape], data: mergedW.get(n) ?? (await base.readFloat32(n)) });
    await base.close();
    const config = JSON.parse(await readFile(join(BASE, 'config.json'), 'utf8')) as Record<string, unknown>;
    const files = await saveModelFolder(dir, weights, config, { processorFrom: BASE });
    assert.deepEqual(files, ['model.safetensors', 'config.json', 'tokenizer.json', 'tokenizer_config.json', 'preprocessor_config.json']);
    const st = await SafetensorsFile.open(join(dir, 'model.safetensors'));
    assert.ok(st.names().every((n) => st.info(n).dtype === 'F32'));
    await st.close();
    const emb = await LocalEmbedder.load(dir, { tokenizerDir: TOKENIZER_DIR });
    const c = goldenCase('dora_mixed_left');
    const items = c.items.map((it) => ({
      text: it.text,
      ...(it.images ? { images: it.images.map((p) => join(FIXTURES, p)) } : {}),
      ...(it.video ? { video: it.video.map((p) => join(FIXTURES, p)) } : {}),
    }));
    const got = await emb.embed(items);
    const flat = new Float32Array(got.length * emb.dim);
    got.forEach((g, i) => flat.set(g, i * emb.dim));
    const r = compareRows(flat, goldenF32(c, 'embedding'), emb.dim);
    assert.ok(r.minCos >= 0.99999 && r.maxAbs <= 1e-4, `cos ${r.minCos}, max|Δ| ${r.maxAbs}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
