// Qwen2-VL set up for training (train-model.ts): a new adapter starts as peft's init (B = 0,
// gaussian A with std 1/r, DoRA magnitude = the rows' L2 norms of W, computed here from the
// checkpoint in float64), leaves come back as PEFT tensor names, and --max_len cuts text-only
// items but refuses to cut vision placeholders; pad_token_id is read as the text model reads it, and
// full fine-tuning gives its embedding row no gradient.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { HfTokenizer } from '../../io/text/tokenizer.ts';
import { Checkpoint } from '../../io/weights/checkpoint.ts';
import { readJsonFile } from '../../io/weights/hf-configs.ts';
import type { Tensor } from '../../tensor/index.ts';
import { treeFlatten } from '../../tensor/index.ts';
import { ADAMW_DEFAULTS } from '../../train/optim.ts';
import { TrainStep } from '../../train/step.ts';
import { parseQwen2VLConfig } from './config.ts';
import { FIXTURES } from './fixtures.test-helper.ts';
import { prepareQwen2VLItem, loadQwen2VLTrainModel } from './train-model.ts';

const DIR = join(FIXTURES, 'tiny-a');
const setup = (async () => {
  const configJson = (await readJsonFile('test', join(DIR, 'config.json'))) as Record<string, unknown>;
  const config = parseQwen2VLConfig(configJson, { strict: false });
  const tokenizer = await HfTokenizer.fromFolder(DIR, { paddingSide: 'left', padTokenId: 151643 });
  return { configJson, config, tokenizer };
})();

const newAdapter = { r: 4, loraAlpha: 8, loraDropout: 0, targetModules: ['q_proj', 'down_proj'], useDora: true, useRslora: false, baseModelNameOrPath: 'tiny-a', revision: undefined, rankPattern: {}, alphaPattern: {}, initLoraWeights: 'gaussian' as const };

test('a new DoRA adapter: B = 0, A ~ N(0, (1/r)²), m = ‖W‖ per row; saved under PEFT names', async () => {
  const { configJson, config, tokenizer } = await setup;
  const tm = await loadQwen2VLTrainModel({ dir: DIR, config, configJson, tokenizer, processor: {}, normalize: true, init: { kind: 'new-adapter', config: newAdapter, seed: 7 } });
  const flat = treeFlatten(tm.params);
  const leaves = await Promise.all((flat.leaves as Tensor[]).map(async (t) => (await t.data()) as Float32Array));
  const n = config.text.numHiddenLayers;
  assert.equal(flat.paths.length, 2 * n * 3, 'A, B, m of q_proj and down_proj in every LM layer');
  // Layer 0's leaves first (the model's module order).
  assert.deepEqual(new Set(flat.paths.slice(0, 6)), new Set(['model.layers.0.self_attn.q_proj.A', 'model.layers.0.self_attn.q_proj.B', 'model.layers.0.self_attn.q_proj.m',
    'model.layers.0.mlp.down_proj.A', 'model.layers.0.mlp.down_proj.B', 'model.layers.0.mlp.down_proj.m']));
  const ck = await Checkpoint.open(DIR);
  try {
    let sum = 0;
    let sq = 0;
    let count = 0;
    for (const [i, p] of flat.paths.entries()) {
      const v = leaves[i]!;
      if (p.endsWith('.B')) assert.ok(v.every((x) => x === 0), `${p} is zero`);
      if (p.endsWith('.A')) for (const x of v) { sum += x; sq += x * x; count++; }
      if (p.endsWith('.m')) {
        const w = await ck.readFloat32(`${p.slice(0, -2)}.weight`);
        const inF = w.length / v.length;
        for (let o = 0; o < v.length; o++) {
          let s = 0;
          for (let j = 0; j < inF; j++) s += w[o * inF + j]! ** 2;
          assert.ok(Math.abs(v[o]! - Math.sqrt(s)) <= 1e-6 * Math.sqrt(s), `${p}[${o}]`);
        }
      }
    }
    const std = Math.sqrt(sq / count - (sum / count) ** 2);
    assert.ok(Math.abs(std - 1 / 4) < 0.02 && Math.abs(sum / count) < 0.02, `A: mean ${sum / count}, std ${std} over ${count} values (want 0, 0.25)`);
  } finally {
    await ck.close();
  }
  const w = tm.weights(flat.paths.map((name, i) => ({ name, data: leaves[i]! })));
  assert.equal(w.kind, 'adapter');
  const names = [...w.tensors.keys()];
  assert.ok(names.includes('model.layers.0.self_attn.q_proj.lora_A.weight') && names.includes('model.layers.0.mlp.down_proj.lora_magnitude_vector'));
  assert.deepEqual(w.tensors.get('model.layers.0.self_attn.q_proj.lora_A.weight')!.shape, [4, config.text.hiddenSize]);
  assert.deepEqual(tm.role('model.layers.0.self_attn.q_proj.A'), 'lora');
});

test('--max_len: a text-only item is cut to its first tokens, an item with an image is refused', async () => {
  const { config, tokenizer } = await setup;
  const text = 'a photo of a cat sitting on a red chair';
  const full = prepareQwen2VLItem({ text, images: [], frames: [] }, tokenizer, {}, config);
  assert.ok(full.ids.length > 4);
  assert.deepEqual(prepareQwen2VLItem({ text, images: [], frames: [] }, tokenizer, {}, config, 4).ids, full.ids.slice(0, 4));
  const img = { width: 56, height: 56, data: new Uint8Array(56 * 56 * 3).fill(128) };
  assert.throws(() => prepareQwen2VLItem({ text: `<|vision_start|><|image_pad|><|vision_end|>${text}`, images: [img], frames: [] }, tokenizer, {}, config, 4),
    /an item with media has \d+ tokens, over --max_len 4; cutting it would cut vision placeholders/);
});

test('pad_token_id: text_config.pad_token_id (nested; the top-level key is not the text model\'s) or the top-level key (flat), inside the table', async () => {
  const { configJson } = await setup;
  const flat = (await readJsonFile('test', join(DIR, 'config.flat.json'))) as Record<string, unknown>;
  const tc = configJson.text_config as Record<string, unknown>;
  assert.equal(parseQwen2VLConfig(configJson, { strict: false }).text.padTokenId, null);
  assert.equal(parseQwen2VLConfig({ ...configJson, text_config: { ...tc, pad_token_id: 7 } }, { strict: false }).text.padTokenId, 7);
  assert.equal(parseQwen2VLConfig({ ...configJson, pad_token_id: 7 }, { strict: false }).text.padTokenId, null);
  assert.equal(parseQwen2VLConfig({ ...flat, pad_token_id: 7 }, { strict: false }).text.padTokenId, 7);
  assert.equal(parseQwen2VLConfig({ ...flat, pad_token_id: -1 }, { strict: false }).text.padTokenId, (flat.vocab_size as number) - 1);
  assert.throws(() => parseQwen2VLConfig({ ...flat, pad_token_id: flat.vocab_size }, { strict: false }), /pad_token_id: \d+ is outside the embedding table of vocab_size \d+/);
});

test('full fine-tuning: the embedding row of pad_token_id gets no gradient (torch\'s padding_idx) even where it is a real token; without pad_token_id it trains', async () => {
  const { configJson, tokenizer } = await setup;
  const texts = ['a photo of a cat sitting on a red chair', 'a dog on a beach', 'a cat', 'a red chair in a room'];
  const step = async (padTokenId: number | null) => {
    const json = { ...configJson, text_config: { ...(configJson.text_config as Record<string, unknown>), pad_token_id: padTokenId } };
    const config = parseQwen2VLConfig(json, { strict: false });
    const tm = await loadQwen2VLTrainModel({ dir: DIR, config, configJson: json, tokenizer, processor: {}, normalize: true, init: { kind: 'full', freezeVision: false } });
    const rows = texts.map((text) => tm.prepare({ text, images: [], frames: [] }));
    const train = await TrainStep.create(tm.encoder, tm.params, {
      ...ADAMW_DEFAULTS, weightDecay: 0, learningRate: 1e-2, schedule: 'constant', warmupSteps: 0, totalSteps: 1, maxGradNorm: 0, temperature: 0.02,
    });
    const before = Float32Array.from(train.master.find((m) => m.name === 'model.embed_tokens.weight')!.data);
    await train.step(tm.batch(rows.slice(0, 2)), tm.batch(rows.slice(2)));
    const after = train.master.find((m) => m.name === 'model.embed_tokens.weight')!.data;
    const d = config.text.hiddenSize;
    const moved = (id: number) => Math.max(...Array.from({ length: d }, (_, i) => Math.abs(after[id * d + i]! - before[id * d + i]!)));
    return { moved, ids: rows.map((r) => (r as { ids: readonly number[] }).ids) };
  };
  const plain = await step(null);
  // "a" is a real token of every item (not the last one, which the pooling reads).
  const aId = plain.ids[0]![0]!;
  assert.ok(plain.ids.every((ids) => ids.slice(0, -1).includes(aId)), `token ${aId} is real in every row`);
  const other = plain.ids[0]![2]!;
  assert.ok(plain.moved(aId) > 1e-3 && plain.moved(other) > 1e-3, `without pad_token_id the rows train: ${plain.moved(aId)}, ${plain.moved(other)}`);
  const padded = await step(aId);
  assert.equal(padded.moved(aId), 0, `the padding row stays put (no gradient, no weight decay): moved by ${padded.moved(aId)}`);
  assert.ok(padded.moved(other) > 1e-3, `the other rows still train: ${padded.moved(other)}`);
});
