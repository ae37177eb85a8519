import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadImageRGB } from '../../io/media/image.ts';
import type { RgbImage } from '../../io/media/image-types.ts';
import { loadAdapter } from '../../io/weights/peft.ts';
import { HfTokenizer } from '../../io/text/tokenizer.ts';
import { parsePhi3VConfig } from './config.ts';
import { Phi3VEncoder, type Phi3VPrepared } from './encoder.ts';
import { CASES, caseByName, ITEMS, readArray, TINY, TINY_DORA, type EmbeddingCase } from './fixtures.test-helper.ts';
import { Phi3VModel } from './model.ts';
import { readFileSync } from 'node:fs';

const tok = await HfTokenizer.fromFolder(TINY, { paddingSide: 'right', padTokenId: 32000 });
const images = new Map<string, RgbImage>();
for (const it of Object.values(ITEMS)) if (it.image && !images.has(it.image)) images.set(it.image, await loadImageRGB(join(TINY, it.image)));

function prepareAll(enc: Phi3VEncoder, keys: readonly string[]): Phi3VPrepared[] {
  return keys.map((k) => {
    const it = ITEMS[k]!;
    return enc.prepare({ text: it.text, images: it.image ? [images.get(it.image)!] : [], frames: [] });
  });
}

/** cos ≥ 0.999999 and max |Δ| ≤ 1e-5 per row (embeddings; hidden states relative to their norm), against the float64 reference. */
function assertRows(name: string, rows: { hidden: Float32Array[]; embeddings: Float32Array[] }, c: EmbeddingCase, only?: number[]): void {
  const hid = readArray(c.hidden) as Float64Array;
  const emb = readArray(c.embedding) as Float64Array;
  const d = c.hidden.shape[1]!;
  const which = only ?? rows.hidden.map((_, i) => i);
  which.forEach((gi, i) => {
    for (const [mine, ref, what] of [[rows.hidden[i]!, hid.subarray(gi * d, (gi + 1) * d), 'hidden'], [rows.embeddings[i]!, emb.subarray(gi * d, (gi + 1) * d), 'embedding']] as const) {
      let dot = 0;
      let na = 0;
      let nb = 0;
      let maxd = 0;
      for (let j = 0; j < d; j++) {
        dot += mine[j]! * ref[j]!;
        na += mine[j]! ** 2;
        nb += ref[j]! ** 2;
        maxd = Math.max(maxd, Math.abs(mine[j]! - ref[j]!));
      }
      const cosv = dot / Math.sqrt(na * nb);
      assert.ok(cosv >= 0.999999, `${name} row ${gi} ${what}: cos ${cosv}`);
      // Embeddings: max |Δ| ≤ 1e-5. Hidden states (norm ≈ 6 here) on the same relative scale: ≤ 1e-5·‖ref‖.
      assert.ok(maxd <= 1e-5 * (what === 'hidden' ? Math.sqrt(nb) : 1), `${name} row ${gi} ${what}: max |Δ| ${maxd}`);
    }
  });
}

const model = await Phi3VModel.load(TINY);
const enc = new Phi3VEncoder(model, tok, {});

test('config: tiny-phi3v parses (LongRoPE su, GQA, the tiny CLIP from vision_config)', () => {
  const cfg = model.config;
  assert.equal(cfg.text.headDim, 8);
  assert.equal(cfg.text.numKeyValueHeads, 2);
  assert.equal(cfg.text.ropeScaling?.type, 'su');
  // √(1 + ln(131072/4096) / ln 4096)
  assert.ok(Math.abs(cfg.text.ropeScaling!.attentionFactor - Math.sqrt(1 + Math.log(32) / Math.log(4096))) < 1e-15);
  assert.equal(cfg.vision.hiddenSize, 32);
  assert.equal(cfg.image.layerIdx, -2);
});

test('prepared ids equal the reference processor ids (each item, 16 crops and 4)', () => {
  for (const c of [...CASES.embeddings.filter((x) => x.name.startsWith('single_'))]) {
    const e = c.numCrops === 16 ? enc : new Phi3VEncoder(model, tok, { numCrops: c.numCrops });
    const [p] = prepareAll(e, c.items);
    assert.deepEqual(p!.ids.map(BigInt), [...(readArray(c.inputIds) as BigInt64Array)], c.name);
  }
});

test('each item alone: embeddings equal the reference (float64) — text, special tokens, empty, wide, tall, tiny, huge, mid-prompt image, 4 crops', async () => {
  for (const c of CASES.embeddings.filter((x) => x.name.startsWith('single_'))) {
    const e = c.numCrops === 16 ? enc : new Phi3VEncoder(model, tok, { numCrops: c.numCrops });
    assertRows(c.name, await e.encode(prepareAll(e, c.items)), c);
  }
});

test('mixed right-padded batches give the reference batch values, which equal each item alone', async () => {
  for (const name of ['batch_mixed', 'batch_text']) {
    const c = caseByName(CASES.embeddings, name);
    const rows = prepareAll(enc, c.items);
    const batch = tok.padBatch(rows.map((r) => r.ids), { paddingSide: 'right' });
    assert.deepEqual([...batch.inputIds], [...(readArray(c.inputIds) as BigInt64Array)], `${name} ids`);
    assert.deepEqual([...batch.attentionMask], [...(readArray(c.attentionMask) as BigInt64Array)], `${name} mask`);
    const out = await enc.encode(rows);
    assertRows(name, out, c);
    c.items.forEach((k, i) => assertRows(`${name}[${k}] vs alone`, { hidden: [out.hidden[i]!], embeddings: [out.embeddings[i]!] }, caseByName(CASES.embeddings, `single_${k}`), [0]));
  }
});

async function withConfig<T>(file: string, fn: (m: Phi3VModel) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'phi3v-variant-'));
  try {
    await cp(TINY, dir, { recursive: true });
    await cp(join(TINY, file), join(dir, 'config.json'));
    return await fn(await Phi3VModel.load(dir));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('LongRoPE long factors (original 64): alone, and a batch whose padded length switches a short row to them', async () => {
  await withConfig('config.long.json', async (long) => {
    assert.equal(long.config.text.originalMaxPositionEmbeddings, 64);
    const e = new Phi3VEncoder(long, tok, {});
    for (const c of CASES.long) assertRows(c.name, await e.encode(prepareAll(e, c.items)), c);
    // The short text alone (20 positions) stays on the short factors; in the 1941-long batch it
    // takes the long ones, as the reference decides by the padded length.
    const alone = readArray(caseByName(CASES.long, 'long_single_text').embedding) as Float64Array;
    const inBatch = readArray(caseByName(CASES.long, 'long_batch').embedding) as Float64Array;
    assert.ok(Math.abs(alone[0]! - inBatch[0]!) > 1e-3, 'the fixture exercises the switch');
  });
});

test('sliding window (100 tokens): alone and in a right-padded batch', async () => {
  await withConfig('config.window.json', async (win) => {
    assert.equal(win.config.text.slidingWindow, 100);
    const e = new Phi3VEncoder(win, tok, {});
    for (const c of CASES.window) assertRows(c.name, await e.encode(prepareAll(e, c.items)), c);
    // The window changes the long item (and not the 20-token text).
    const tall = readArray(caseByName(CASES.window, 'window_single_tall').embedding) as Float64Array;
    assert.ok(Math.abs(tall[0]! - (readArray(caseByName(CASES.embeddings, 'single_tall').embedding) as Float64Array)[0]!) > 1e-3);
  });
});

test('a PEFT DoRA adapter (fused qkv/gate_up, o/down, image projection) merged at load equals peft unmerged', async () => {
  const adapter = await loadAdapter(TINY_DORA);
  const merged = await Phi3VModel.load(TINY, { adapter });
  const e = new Phi3VEncoder(merged, tok, {});
  const c = CASES.dora[0]!;
  assertRows(c.name, await e.encode(prepareAll(e, c.items)), c);
  // and it does change the model
  const base = await enc.encode(prepareAll(enc, c.items));
  assert.ok(Math.abs(base.embeddings[0]![0]! - (readArray(c.embedding) as Float64Array)[0]!) > 1e-3);
});

test('config errors name the option', () => {
  const json = JSON.parse(readFileSync(join(TINY, 'config.json'), 'utf8')) as Record<string, unknown>;
  const bad = (patch: Record<string, unknown>, re: RegExp) => assert.throws(() => parsePhi3VConfig({ ...json, ...patch }, { file: 'c.json' }), re);
  bad({ rope_scaling: { type: 'dynamic', short_factor: [1, 1, 1, 1], long_factor: [1, 1, 1, 1] } }, /rope_scaling.type: 'dynamic' is not supported/);
  bad({ rope_scaling: { type: 'su', short_factor: [1, 1], long_factor: [1, 1, 1, 1] } }, /rope_scaling.short_factor: 2 values, expected head_dim\/2 = 4/);
  bad({ rope_scaling: { type: 'longrope', short_factor: [1, 1, 1, 1], long_factor: [1, 1, 1, 1], short_mscale: 1.2 } }, /short_mscale are not supported/);
  bad({ embd_layer: { ...(json.embd_layer as object), hd_transform_order: 'glb_sub' } }, /embd_layer.hd_transform_order: "glb_sub" is not supported/);
  bad({ embd_layer: { ...(json.embd_layer as object), projection_cls: 'linear' } }, /embd_layer.projection_cls/);
  bad({ img_processor: { ...(json.img_processor as object), type_feature: 'cls_patch' } }, /img_processor.type_feature/);
  bad({ hidden_act: 'gelu' }, /hidden_act: 'gelu' is not supported/);
  bad({ embd_layer: 'default' }, /embd_layer: "default" has no image embedding/);
  const { vision_config: _v, ...noVision } = json;
  assert.throws(() => parsePhi3VConfig(noVision, { file: 'c.json' }), /img_processor.model_name: "tiny-random\/clip-vit-patch14-336" is not supported without a vision_config/);
  // The published checkpoints name ViT-L/14-336 and carry no vision_config: the reference's constant.
  const real = parsePhi3VConfig({ ...noVision, img_processor: { ...(json.img_processor as object), model_name: 'openai/clip-vit-large-patch14-336', image_dim_out: 1024 } });
  assert.deepEqual([real.vision.hiddenSize, real.vision.numHiddenLayers, real.vision.numAttentionHeads, real.vision.intermediateSize], [1024, 24, 16, 4096]);
  // Phi-3.5-vision-instruct's sizes: head_dim 96 → 48 factors; 131072 / 4096 positions.
  const f48 = Array.from({ length: 48 }, (_, i) => 1 + i / 10);
  const big = parsePhi3VConfig({
    ...noVision, vocab_size: 32064, hidden_size: 3072, intermediate_size: 8192, num_hidden_layers: 32, num_attention_heads: 32,
    num_key_value_heads: 32, sliding_window: 262144, rope_scaling: { type: 'su', short_factor: f48, long_factor: f48 },
    img_processor: { image_dim_out: 1024, model_name: 'openai/clip-vit-large-patch14-336', name: 'clip_vision_model', num_img_tokens: 144 },
  });
  assert.deepEqual([big.text.headDim, big.text.ropeScaling!.shortFactor.length, big.image.imageDimOut, big.image.tokensPerSide], [96, 48, 1024, 12]);
  // longrope is su's later name: same factors, same attention factor.
  const lr = parsePhi3VConfig({ ...json, rope_scaling: { ...(json.rope_scaling as object), type: 'longrope' } });
  assert.equal(lr.text.ropeScaling?.attentionFactor, model.config.text.ropeScaling?.attentionFactor);
});

test('float16-held weights (--dtype float16): the bf16 checkpoint fits float16, so the reference values hold', async () => {
  const half = await Phi3VModel.load(TINY, { dtype: 'float16' });
  assert.equal(half.dtype, 'float16');
  const e = new Phi3VEncoder(half, tok, {});
  const c = caseByName(CASES.embeddings, 'batch_mixed');
  const out = await e.encode(prepareAll(e, c.items));
  const ref = readArray(c.embedding) as Float64Array;
  const d = c.embedding.shape[1]!;
  out.embeddings.forEach((row, i) => {
    let dot = 0;
    for (let j = 0; j < d; j++) dot += row[j]! * ref[i * d + j]!;
    assert.ok(dot >= 0.99999, `row ${i}: cos ${dot}`);
  });
});
