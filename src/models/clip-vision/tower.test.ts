// The CLIP tower against transformers' CLIPVisionModel run in float64
// (tools/reference/clip_vision_fixtures.py, test/fixtures/model/clip-vision/): every hidden state,
// the selected-layer features with and without CLS, the pooled output, the gelu variant, and the
// same weights under Phi-3-V's prefix.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Checkpoint } from '../../io/weights/checkpoint.ts';
import { configureRuntime, fromArray, jit, type Tensor } from '../../tensor/index.ts';
import { heldTensor } from '../common/float16.ts';
import { collectParamSpecs, VarBuilder } from '../common/param-spec.ts';
import { readWeights } from '../common/weights.ts';
import { hiddenStateIndex, parseClipVisionConfig, type ClipVisionConfig } from './config.ts';
import { declareClipVisionParams, type ClipVisionParams } from './params.ts';
import { clipPooledOutput, clipVisionFeatures } from './tower.ts';

configureRuntime({ threads: 1 });

const DIR = join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'model', 'clip-vision');
const index = JSON.parse(readFileSync(join(DIR, 'cases.json'), 'utf8')) as { arrays: Record<string, { file: string; shape: number[] }> };

function golden(name: string): { data: Float32Array; shape: number[] } {
  const ref = index.arrays[name];
  assert.ok(ref, `fixture array ${name}`);
  const b = readFileSync(join(DIR, ref.file));
  return { data: new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)), shape: ref.shape };
}

async function load(configFile: string, weights: string, prefix: string[]): Promise<{ cfg: ClipVisionConfig; params: ClipVisionParams }> {
  const cfg = parseClipVisionConfig((JSON.parse(readFileSync(join(DIR, configFile), 'utf8')) as { vision_config: unknown }).vision_config, configFile, 'vision_config');
  const at = <L>(vb: VarBuilder<L>) => prefix.reduce((v, s) => v.pp(s), vb);
  const ckpt = await Checkpoint.open(join(DIR, weights));
  const host = await readWeights(ckpt, collectParamSpecs((vb) => declareClipVisionParams(cfg, at(vb)))).finally(() => ckpt.close());
  return { cfg, params: declareClipVisionParams(cfg, at(new VarBuilder((s) => heldTensor(host, s)))) };
}

function compare(got: Float32Array, want: Float32Array, rowLen: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  let maxAbs = 0;
  let minCos = 1;
  for (let r = 0; r < want.length / rowLen; r++) {
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let i = r * rowLen; i < (r + 1) * rowLen; i++) {
      dot += got[i]! * want[i]!;
      na += got[i]! ** 2;
      nb += want[i]! ** 2;
      maxAbs = Math.max(maxAbs, Math.abs(got[i]! - want[i]!));
    }
    minCos = Math.min(minCos, dot / Math.sqrt(na * nb));
  }
  assert.ok(minCos >= 0.999999 && maxAbs <= 1e-5, `${what}: min cos ${minCos}, max |Δ| ${maxAbs}`);
}

const pixels = golden('pixels');
const px = (): Tensor => fromArray(pixels.data, pixels.shape, 'float32');
const E = 32;

test('every hidden state equals CLIPVisionModel(output_hidden_states=True) in float64', async () => {
  const { cfg, params } = await load('config.json', 'model.safetensors', ['vision_tower', 'vision_model']);
  assert.equal(cfg.hiddenAct, 'quick_gelu');
  for (let layer = 0; layer <= cfg.numHiddenLayers; layer++) {
    const want = golden(`quick_gelu.hidden_${layer}`);
    const full = (await clipVisionFeatures(params, cfg, px(), { layer, strategy: 'full' }).data()) as Float32Array;
    compare(full, want.data, E, `hidden_states[${layer}]`);
  }
});

test('vision_feature_layer -2 with strategy default drops CLS from hidden_states[-2]; jitted with a symbolic image count', async () => {
  const { cfg, params } = await load('config.json', 'model.safetensors', ['vision_tower', 'vision_model']);
  assert.equal(hiddenStateIndex(-2, cfg.numHiddenLayers), 2);
  const want = golden('quick_gelu.hidden_2');
  const t = want.shape[1]!;
  const noCls = new Float32Array(2 * (t - 1) * E);
  for (let n = 0; n < 2; n++) noCls.set(want.data.subarray((n * t + 1) * E, (n + 1) * t * E), n * (t - 1) * E);
  const f = jit((x: Tensor) => clipVisionFeatures(params, cfg, x, { layer: -2, strategy: 'default' }), { name: 'clip_test', dynamic: { '0': ['N', null, null, null] } });
  const out = await f(px());
  assert.deepEqual(out.shape, [2, 16, E]);
  compare((await out.data()) as Float32Array, noCls, E, 'layer -2 default');
  // One image alone gives its own rows (no cross-image attention).
  const one = await f(fromArray(pixels.data.slice(pixels.data.length / 2), [1, 3, 28, 28], 'float32'));
  compare((await one.data()) as Float32Array, noCls.slice(16 * E), E, 'second image alone');
  const pooled = (await clipPooledOutput(params, cfg, px()).data()) as Float32Array;
  compare(pooled, golden('quick_gelu.pooled').data, E, 'pooled output');
});

test('exact-erf gelu tower and Phi-3-V prefixed names load and match', async () => {
  const g = await load('gelu.json', 'gelu.safetensors', ['vision_tower', 'vision_model']);
  assert.equal(g.cfg.hiddenAct, 'gelu');
  compare((await clipVisionFeatures(g.params, g.cfg, px(), { layer: -2, strategy: 'full' }).data()) as Float32Array, golden('gelu.hidden_2').data, E, 'gelu layer -2');
  const phi = await load('config.json', 'model-phi3.safetensors', ['model', 'vision_embed_tokens', 'img_processor', 'vision_model']);
  compare((await clipVisionFeatures(phi.params, phi.cfg, px(), { layer: -1, strategy: 'full' }).data()) as Float32Array, golden('quick_gelu.hidden_3').data, E, 'phi3 prefix');
  // Under the wrong prefix the checkpoint is refused, naming a missing tensor.
  await assert.rejects(load('config.json', 'model-phi3.safetensors', ['vision_tower', 'vision_model']), /missing from the checkpoint, e\.g\. vision_tower\.vision_model\.embeddings/);
});

test('config errors name the field', () => {
  assert.throws(() => parseClipVisionConfig({ hidden_act: 'relu' }, 'c.json', 'vision_config'), /c\.json: vision_config\.hidden_act: 'relu' is not supported/);
  assert.throws(() => parseClipVisionConfig({ image_size: 30, patch_size: 7 }, 'c.json', 'vision_config'), /vision_config\.image_size: 30 is not a multiple of patch_size 7/);
  assert.throws(() => parseClipVisionConfig({ model_type: 'siglip_vision_model' }, 'c.json', 'vision_config'), /vision_config\.model_type: 'siglip_vision_model' is not supported/);
  assert.throws(() => hiddenStateIndex(-5, 3), /vision feature layer -5 is outside the 4 hidden states/);
  assert.equal(parseClipVisionConfig({ hidden_size: 1024, intermediate_size: 4096, num_hidden_layers: 24, num_attention_heads: 16, image_size: 336, patch_size: 14 }, 'c', 'v').numPatches, 576);
});
