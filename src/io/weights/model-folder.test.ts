import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { resolveModelFolder, isModelFileWanted, openCheckpoint, preferSafetensors } from './model-folder.ts';
import { resolveModel } from '../../models/registry.ts';
import type { Qwen2VLConfig } from '../../models/qwen2-vl/config.ts';
import { checkpointModulePath, isTargetModule, loadAdapter, moduleScaling, parseAdapterConfig } from './peft.ts';
import { COMPLETE_MARKER, repoCacheDir } from '../hub.ts';
import { SafetensorsFile } from './safetensors.ts';
import { writeSafetensors } from './safetensors-write.ts';
import { toFloat32 } from './safetensors-dtype.ts';

const MODELS = 'test/fixtures/io/models';
const TINY = `${MODELS}/qwen2vl-tiny`;
const DORA = `${MODELS}/qwen2vl-tiny-dora`;

async function tmp(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'vlm2vec-mf-'));
}

test('local full-model folders: typed config, preprocessor limits, checkpoint', async () => {
  const m = await resolveModel(TINY);
  assert.deepEqual(m.source, { kind: 'local', path: TINY });
  assert.equal(m.dir, TINY);
  assert.equal(m.adapter, undefined);
  assert.equal((m.config as Qwen2VLConfig).layout, 'nested');
  assert.equal(m.tokenizerDir, undefined); // the fixtures keep only tokenizer_config.json
  assert.equal(m.preprocessor?.minPixels, 3136);
  assert.equal(m.preprocessor?.maxPixels, 1003520);
  // The real Qwen2-VL-2B preprocessor_config.json says 12845056; VLM2Vec overrides it to 1003520.
  const flat = await resolveModel(`${MODELS}/qwen2vl-tiny-flat`);
  assert.equal(flat.preprocessor?.maxPixels, 12845056);
  assert.deepEqual(flat.preprocessor?.imageMean, [0.48145466, 0.4578275, 0.40821073]);
  const over = await resolveModel(`${MODELS}/qwen2vl-tiny-flat`, { preprocessorOverrides: { minPixels: 3136, maxPixels: 1003520 } });
  assert.equal(over.preprocessor?.maxPixels, 1003520);
  const ckpt = await openCheckpoint(m);
  assert.equal(ckpt.names().length, 58);
  await ckpt.close();
});

test('PEFT DoRA adapter folder resolves to its base (as PEFT reads base_model_name_or_path) and exposes weights', async () => {
  const m = await resolveModel(DORA);
  assert.equal(m.dir, 'test/fixtures/io/models/qwen2vl-tiny');
  assert.deepEqual(m.adapter?.base, { kind: 'local', path: 'test/fixtures/io/models/qwen2vl-tiny' });
  const cfg = m.adapter?.config;
  assert.ok(cfg);
  assert.equal(cfg.r, 4);
  assert.equal(cfg.loraAlpha, 16);
  assert.equal(cfg.useDora, true);
  assert.deepEqual([...cfg.targetModules].sort(), ['down_proj', 'k_proj', 'o_proj', 'q_proj', 'v_proj']);
  assert.equal((m.config as Qwen2VLConfig).text.hiddenSize, 32);

  const ad = await loadAdapter(DORA);
  assert.equal(ad.modules.size, 10); // 5 targets × 2 layers
  const q = ad.modules.get('model.layers.0.self_attn.q_proj');
  assert.ok(q);
  assert.equal(q.baseWeight, 'model.layers.0.self_attn.q_proj.weight');
  assert.equal(q.scaling, 4);
  assert.deepEqual(q.loraA.shape, [4, 32]);
  assert.deepEqual(q.loraB.shape, [32, 4]);
  assert.deepEqual(q.magnitude?.shape, [32]);
  assert.deepEqual(ad.modules.get('model.layers.1.self_attn.k_proj')?.loraB.shape, [16, 4]); // 2 kv heads × 8
  assert.deepEqual(ad.modules.get('model.layers.1.mlp.down_proj')?.loraA.shape, [4, 64]);
});

test('adapter tensors + base weights reproduce PEFT merge_and_unload (W\' = m/‖W+sBA‖_row · (W+sBA))', async () => {
  // Test-only merge, to prove the exposed tensors, orientation and scaling are the right ones.
  const ad = await loadAdapter(DORA);
  const base = await openCheckpoint({ dir: TINY });
  const ref = await SafetensorsFile.open(`${MODELS}/dora-merged-reference.safetensors`);
  try {
    assert.equal(ref.names().length, ad.modules.size);
    for (const mod of ad.modules.values()) {
      const w = await base.readFloat32(mod.baseWeight);
      const [out, inF] = base.info(mod.baseWeight).shape as [number, number];
      const a = toFloat32(mod.loraA.dtype, mod.loraA.data, 'A');
      const b = toFloat32(mod.loraB.dtype, mod.loraB.data, 'B');
      const mag = toFloat32(mod.magnitude!.dtype, mod.magnitude!.data, 'm');
      const want = await ref.readFloat32(mod.baseWeight, [out, inF]);
      let maxErr = 0;
      for (let o = 0; o < out; o++) {
        const row = new Float64Array(inF);
        for (let i = 0; i < inF; i++) {
          let ba = 0;
          for (let k = 0; k < mod.r; k++) ba += (b[o * mod.r + k] as number) * (a[k * inF + i] as number);
          row[i] = (w[o * inF + i] as number) + mod.scaling * ba;
        }
        const norm = Math.hypot(...row);
        for (let i = 0; i < inF; i++) maxErr = Math.max(maxErr, Math.abs(((mag[o] as number) / norm) * (row[i] as number) - (want[o * inF + i] as number)));
      }
      assert.ok(maxErr < 1e-5, `${mod.module}: max error ${maxErr}`);
    }
  } finally {
    await base.close();
    await ref.close();
  }
});

test('adapters saved by transformers 4.x PEFT (model.layers.* keys, optional .default) load to the same modules', async () => {
  const root = await tmp();
  try {
    const adDir = join(root, 'ad4x');
    await cp(DORA, adDir, { recursive: true });
    const src = await SafetensorsFile.open(join(DORA, 'adapter_model.safetensors'));
    const renamed = new Map<string, { dtype: 'F32'; shape: readonly number[]; data: Float32Array }>();
    for (const [i, name] of src.names().entries()) {
      let k = name.replace('base_model.model.model.language_model.', 'base_model.model.model.');
      if (i % 2 === 0) k = k.replace(/\.lora_(A|B)\.weight$/, '.lora_$1.default.weight').replace(/lora_magnitude_vector$/, 'lora_magnitude_vector.default.weight');
      renamed.set(k, { dtype: 'F32', shape: src.info(name).shape, data: (await src.read(name)).data as Float32Array });
    }
    await src.close();
    await writeSafetensors(join(adDir, 'adapter_model.safetensors'), renamed, { format: 'pt' });
    const a = await loadAdapter(adDir);
    const b = await loadAdapter(DORA);
    assert.deepEqual([...a.modules.keys()].sort(), [...b.modules.keys()].sort());
    for (const [k, m] of a.modules) {
      const o = b.modules.get(k)!;
      assert.deepEqual([...(m.loraA.data as Float32Array)], [...(o.loraA.data as Float32Array)], k);
      assert.deepEqual([...(m.magnitude!.data as Float32Array)], [...(o.magnitude!.data as Float32Array)], k);
    }
    // A stray tensor is named.
    renamed.set('base_model.model.lm_head.weight', { dtype: 'F32', shape: [1], data: new Float32Array(1) });
    await writeSafetensors(join(adDir, 'adapter_model.safetensors'), renamed, { format: 'pt' });
    await assert.rejects(loadAdapter(adDir), /unexpected tensor 'base_model\.model\.lm_head\.weight'/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('adapter base resolution: adapter-relative folder, hub id from cache, offline error, override', async () => {
  const root = await tmp();
  try {
    const adDir = join(root, 'adapter');
    await cp(DORA, adDir, { recursive: true });
    // A name no folder next to the working directory has: a cwd-relative path wins (as peft's
    // from_pretrained reads it), so a plain '../base' would depend on where the tests run.
    const baseName = `base-${basename(root)}`;
    await cp(TINY, join(root, baseName), { recursive: true });
    const cfg = JSON.parse(await readFile(join(adDir, 'adapter_config.json'), 'utf8'));
    await writeFile(join(adDir, 'adapter_config.json'), JSON.stringify({ ...cfg, base_model_name_or_path: `../${baseName}` }));
    assert.equal((await resolveModelFolder(adDir)).dir, resolve(adDir, `../${baseName}`));

    await writeFile(join(adDir, 'adapter_config.json'), JSON.stringify({ ...cfg, base_model_name_or_path: 'Qwen/Qwen2-VL-2B-Instruct' }));
    const cache = join(root, 'cache');
    await assert.rejects(resolveModelFolder(adDir, { cacheDir: cache, offline: true }), /Qwen\/Qwen2-VL-2B-Instruct@main is not in the cache .* offline mode is on/);
    // A completed cache entry is used without any network access.
    const cached = repoCacheDir('Qwen/Qwen2-VL-2B-Instruct', 'model', 'main', cache);
    await mkdir(cached, { recursive: true });
    await cp(`${MODELS}/qwen2vl-tiny-flat`, cached, { recursive: true });
    await writeFile(join(cached, COMPLETE_MARKER), '{}');
    const viaHub = await resolveModelFolder(adDir, { cacheDir: cache, offline: true });
    assert.equal(viaHub.dir, cached);
    assert.deepEqual(viaHub.adapter?.base, { kind: 'hub', repo: 'Qwen/Qwen2-VL-2B-Instruct', revision: 'main' });
    assert.equal(viaHub.preprocessor?.maxPixels, 12845056);
    // Processor files shipped with the adapter take precedence over the base's.
    await writeFile(join(adDir, 'preprocessor_config.json'), JSON.stringify({ min_pixels: 3136, max_pixels: 1003520 }));
    assert.equal((await resolveModelFolder(adDir, { cacheDir: cache, offline: true })).preprocessor?.maxPixels, 1003520);
    // Explicit base override.
    assert.equal((await resolveModelFolder(adDir, { baseModel: TINY })).dir, TINY);

    await writeFile(join(adDir, 'adapter_config.json'), JSON.stringify({ ...cfg, base_model_name_or_path: 'no such thing' }));
    await assert.rejects(resolveModelFolder(adDir), /base model 'no such thing' of adapter .* is neither a folder nor a hub id/);
    await writeFile(join(adDir, 'adapter_config.json'), JSON.stringify({ ...cfg, base_model_name_or_path: adDir }));
    await assert.rejects(resolveModelFolder(adDir), /is itself an adapter/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('bad specs, bad adapters and missing files are named', async () => {
  // Written as a path: a missing folder, never a hub lookup (even in online mode).
  await assert.rejects(resolveModelFolder('./definitely/not/here/x'), /\[model\] model folder \.\/definitely\/not\/here\/x does not exist: expected a Hugging Face model folder/);
  await assert.rejects(resolveModelFolder('/definitely/not/here'), /model folder \/definitely\/not\/here does not exist/);
  await assert.rejects(resolveModelFolder('package.json'), /model folder package\.json is a file: expected a Hugging Face model folder/);
  await assert.rejects(resolveModelFolder('not a repo!'), /'not a repo!' is neither a local folder nor a hub id/);
  await assert.rejects(resolveModelFolder('org/missing', { cacheDir: '/nonexistent-cache', offline: true }), /org\/missing@main is not in the cache/);
  await assert.rejects(resolveModelFolder('test/fixtures/io'), /no config\.json/);
  const root = await tmp();
  try {
    const adDir = join(root, 'ad');
    await cp(DORA, adDir, { recursive: true });
    await rm(join(adDir, 'adapter_model.safetensors'));
    await writeFile(join(adDir, 'adapter_model.bin'), 'pickle');
    // A .bin is now read (src/io/weights/torch-pickle-file.ts); a file that is not a torch.save zip is named.
    await assert.rejects(loadAdapter(adDir), /\[torch\] .*adapter_model\.bin: not a torch\.save checkpoint/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  const base = { peft_type: 'LORA', r: 8, lora_alpha: 32, target_modules: ['q_proj'] };
  assert.throws(() => parseAdapterConfig({ ...base, peft_type: 'IA3' }), /peft_type 'IA3' is not supported \(supported: LORA/);
  assert.throws(() => parseAdapterConfig({ ...base, bias: 'all' }), /bias 'all' is not supported/);
  assert.throws(() => parseAdapterConfig({ ...base, r: 0 }), /adapter_config\.json: r:/);
  assert.throws(() => parseAdapterConfig({ ...base, modules_to_save: ['lm_head'] }), /modules_to_save \[lm_head\] is not supported/);
  const rs = parseAdapterConfig({ ...base, use_rslora: true, rank_pattern: { 'layers\\.0\\..*q_proj': 4 }, alpha_pattern: { down_proj: 8 } });
  assert.deepEqual(moduleScaling(rs, 'model.layers.0.self_attn.q_proj'), { r: 4, scaling: 32 / 2 });
  assert.deepEqual(moduleScaling(rs, 'model.layers.1.mlp.down_proj'), { r: 8, scaling: 8 / Math.sqrt(8) });
  assert.ok(isTargetModule(rs, 'model.layers.1.self_attn.q_proj'));
  assert.ok(!isTargetModule(rs, 'visual.blocks.0.attn.qkv'));
  assert.ok(isTargetModule({ ...rs, targetModules: '.*layers\\.\\d+\\.self_attn\\.(q|v)_proj' }, 'model.layers.3.self_attn.v_proj'));
  assert.equal(checkpointModulePath('base_model.model.model.language_model.layers.3.mlp.down_proj'), 'model.layers.3.mlp.down_proj');
  assert.equal(checkpointModulePath('base_model.model.model.layers.3.mlp.down_proj'), 'model.layers.3.mlp.down_proj');
  assert.equal(checkpointModulePath('base_model.model.model.visual.blocks.0.attn.qkv'), 'visual.blocks.0.attn.qkv');
  assert.ok(isModelFileWanted('model-00001-of-00002.safetensors'));
  assert.ok(isModelFileWanted('tokenizer.json'));
  assert.ok(isModelFileWanted('adapter_model.bin')); // VLM2Vec V1 adapters ship only this
  // ... but not when the safetensors form is listed too (loadAdapter would read that one).
  assert.deepEqual(preferSafetensors(['adapter_config.json', 'adapter_model.bin', 'adapter_model.safetensors']), ['adapter_config.json', 'adapter_model.safetensors']);
  assert.deepEqual(preferSafetensors(['adapter_config.json', 'adapter_model.bin']), ['adapter_config.json', 'adapter_model.bin']);
  assert.deepEqual(preferSafetensors(['ckpt/adapter_model.bin', 'adapter_model.safetensors']), ['ckpt/adapter_model.bin', 'adapter_model.safetensors']);
  // Base weights as torch.save pickles are fetched too, unless the safetensors form is listed.
  assert.ok(isModelFileWanted('pytorch_model.bin'));
  assert.ok(isModelFileWanted('pytorch_model-00001-of-00002.bin'));
  assert.ok(!isModelFileWanted('sub/pytorch_model.bin'));
  assert.deepEqual(
    preferSafetensors(['config.json', 'pytorch_model.bin.index.json', 'pytorch_model-00001-of-00002.bin', 'pytorch_model-00002-of-00002.bin']),
    ['config.json', 'pytorch_model.bin.index.json', 'pytorch_model-00001-of-00002.bin', 'pytorch_model-00002-of-00002.bin'],
  );
  assert.deepEqual(
    preferSafetensors(['model.safetensors.index.json', 'model-00001-of-00001.safetensors', 'pytorch_model.bin.index.json', 'pytorch_model-00001-of-00001.bin']),
    ['model.safetensors.index.json', 'model-00001-of-00001.safetensors'],
  );
  assert.deepEqual(preferSafetensors(['model.safetensors', 'pytorch_model.bin', 'adapter_model.bin']), ['model.safetensors', 'adapter_model.bin']);
  assert.ok(!isModelFileWanted('training_args.bin'));
});
