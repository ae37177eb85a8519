// LLaVA-NeXT end to end through the public LocalEmbedder (model chosen from config.json) against
// the reference (tools/reference/llava_next_fixtures.py): the Llama-2 tokenizer with <image> and
// <pad> gives the reference input_ids (BOS, expansion, left padding); each item alone and the
// mixed padded batch give the transformers float64 embeddings; the DoRA adapter merged on load
// equals peft's merge_and_unload; `vlm2vec export`'s two graphs run by plain onnxruntime equal the
// reference too.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { LocalEmbedder } from '../../embed/local.ts';
import { runExport } from '../../cli/export.ts';
import { configureRuntime } from '../../tensor/index.ts';
import { modelRecord } from '../registry.ts';
import { assertClose, DORA_DIR, goldenArray, goldenBatch, goldenCase, goldenF32, IMAGES_DIR, MEDIA, MODEL_DIR, type GoldenItem } from './fixtures.test-helper.ts';
import type { LlavaNextExportManifest } from './encoder.ts';
import { parseLlavaNextConfig } from './config.ts';

configureRuntime({ threads: 1 });

const item = (it: GoldenItem) => ({ text: it.text, images: (it.images ?? []).map((n) => join(IMAGES_DIR, MEDIA[n]!)) });
const D = 48;
const emb = LocalEmbedder.load(MODEL_DIR, { batchSize: 8 });

test('the registry picks LLaVA-NeXT from config.json: <pad>, left padding, <image>', () => {
  const r = modelRecord('llava_next');
  assert.equal(r.name, 'LLaVA-NeXT');
  assert.deepEqual([r.padTokenId, r.paddingSide, r.imageToken, r.promptStyle], [32001, 'left', '<image>', 'llava_next']);
});

test('input_ids equal LlavaNextProcessor + tokenizer.pad(left) for every case (BOS, <image> expansion, padding)', async () => {
  const e = await emb;
  for (const name of ['text', 'wide', 'tall', 'tiny', 'huge', 'photo', 'two', 'mixed', 'images_only']) {
    const c = goldenCase(name);
    const prepared = await Promise.all(c.items.map((it, i) => e.prepare(item(it), i)));
    const want = goldenArray(c, 'input_ids')!;
    const mask = goldenArray(c, 'attention_mask')!.data as BigInt64Array;
    const [b, t] = want.shape as [number, number];
    for (let r = 0; r < b; r++) {
      const row = [...(want.data as BigInt64Array).slice(r * t, (r + 1) * t)].filter((_, j) => mask[r * t + j] === 1n).map(Number);
      assert.deepEqual(prepared[r]!.ids, row, `${name} row ${r}`);
    }
  }
});

test('each item alone, then all of them in one left-padded batch, give the reference embeddings', async () => {
  const e = await emb;
  for (const name of ['text', 'wide', 'tall', 'tiny', 'huge', 'photo', 'two']) {
    const c = goldenCase(name);
    const [got] = await e.embed(c.items.map(item));
    assertClose(got!, goldenF32(c, 'embedding'), D, `${name} alone`);
  }
  const c = goldenCase('mixed');
  const rows = await Promise.all(c.items.map((it, i) => e.prepare(item(it), i)));
  const { hidden, embeddings } = await e.encodePrepared(rows);
  assertClose(Float32Array.from(hidden.flatMap((h) => [...h])), goldenF32(c, 'last_hidden'), D, 'mixed hidden');
  assertClose(Float32Array.from(embeddings.flatMap((h) => [...h])), goldenF32(c, 'embedding'), D, 'mixed embedding');
  // Right padding (pooling at each row's last real token) gives the same values.
  const right = await e.encodePrepared(rows, 'right');
  assertClose(Float32Array.from(right.embeddings.flatMap((h) => [...h])), goldenF32(c, 'embedding'), D, 'mixed, right-padded');
  // The mixed batch's rows equal the single-item references.
  c.items.forEach((it, i) => {
    const single = ['wide', 'text', 'tiny', 'two', 'tall'][i]!;
    assert.equal(it.text, goldenCase(single).items[0]!.text);
    assertClose(embeddings[i]!, goldenF32(goldenCase(single), 'embedding'), D, `mixed row ${i} vs ${single} alone`);
  });
});

test('a prompt whose <image> count differs from its images is refused; video is refused', async () => {
  const e = await emb;
  await assert.rejects(e.prepare({ text: 'no placeholder', images: [join(IMAGES_DIR, MEDIA.tiny!)] }, 3), /item 3: .*0 <image> token\(s\) for 1 image\(s\)/);
  await assert.rejects(e.prepare({ text: '<image>', video: [join(IMAGES_DIR, MEDIA.tiny!)] }, 0), /LLaVA-NeXT takes images, not video frames/);
  // Without images a literal <image> stays one ordinary token.
  const p = await e.prepare({ text: '<image> hi' }, 0);
  assert.equal(p.ids.filter((t) => t === 32000).length, 1);
});

test('the DoRA adapter (language model and CLIP tower) merged on load equals peft merge_and_unload', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'llava-dora-'));
  try {
    await cp(DORA_DIR, dir, { recursive: true });
    const cfg = JSON.parse(await readFile(join(dir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    await writeFile(join(dir, 'adapter_config.json'), JSON.stringify({ ...cfg, base_model_name_or_path: MODEL_DIR }));
    const e = await LocalEmbedder.load(dir);
    for (const name of ['dora_tall', 'dora_mixed']) {
      const c = goldenCase(name);
      const rows = await Promise.all(c.items.map((it, i) => e.prepare(item(it), i)));
      const { embeddings } = await e.encodePrepared(rows);
      assertClose(Float32Array.from(embeddings.flatMap((x) => [...x])), goldenF32(c, 'embedding'), D, name);
    }
    // Without the adapter the values differ (the adapter is not a no-op).
    const [base] = await (await emb).embed(goldenCase('dora_tall').items.map(item));
    assert.ok(Math.max(...base!.map((x, i) => Math.abs(x - goldenF32(goldenCase('dora_tall'), 'embedding')[i]!))) > 1e-2);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('exported ONNX under plain onnxruntime reproduces the reference (mixed batch)', async () => {
  const out = await mkdtemp(join(tmpdir(), 'llava-export-'));
  try {
    const manifest = (await runExport({ model: MODEL_DIR, out, externalDataThreshold: 100_000 })) as unknown as LlavaNextExportManifest;
    assert.equal(manifest.modelType, 'llava_next');
    const so = { intraOpNumThreads: 1, interOpNumThreads: 1 };
    const vision = await ort.InferenceSession.create(join(out, manifest.graphs.vision.file), so);
    const text = await ort.InferenceSession.create(join(out, manifest.graphs.text.file), so);
    assert.deepEqual([...vision.inputNames], ['pixel_values', 'feature_rows']);
    assert.deepEqual([...text.inputNames], ['input_ids', 'attention_mask', 'position_ids', 'last_index', 'scatter_index', 'features']);
    const cfg = parseLlavaNextConfig(JSON.parse(await readFile(join(out, 'config.json'), 'utf8')), { strict: false });
    const c = goldenCase('mixed');
    const b = goldenBatch(c, cfg);
    const [bs, t] = b.shape;
    const s = manifest.imageSize;
    const feats: number[] = [];
    for (const img of b.images) {
      const r = await vision.run({
        pixel_values: new ort.Tensor('float32', img.pixels, [img.numPatches, 3, s, s]),
        feature_rows: new ort.Tensor('int64', BigInt64Array.from(img.featureRows, (x) => BigInt(x)), [img.featureRows.length]),
      });
      feats.push(...(r[manifest.graphs.vision.output]!.data as Float32Array));
    }
    const scatter: bigint[] = [];
    for (let i = 0; i < bs; i++) for (let j = 0; j < t; j++) if (b.inputIds[i * t + j] === BigInt(manifest.imageTokenId) && b.attentionMask[i * t + j] === 1n) scatter.push(BigInt(i), BigInt(j));
    const pos = BigInt64Array.from({ length: bs * t }, (_, k) => BigInt(k % t));
    const last = BigInt64Array.from({ length: 2 * bs }, (_, k) => (k % 2 === 0 ? BigInt(k / 2) : BigInt(t - 1)));
    const r = await text.run({
      input_ids: new ort.Tensor('int64', b.inputIds, [bs, t]),
      attention_mask: new ort.Tensor('int64', b.attentionMask, [bs, t]),
      position_ids: new ort.Tensor('int64', pos, [bs, t]),
      last_index: new ort.Tensor('int64', last, [bs, 2]),
      scatter_index: new ort.Tensor('int64', BigInt64Array.from(scatter), [scatter.length / 2, 2]),
      features: new ort.Tensor('float32', Float32Array.from(feats), [feats.length / manifest.hiddenSize, manifest.hiddenSize]),
    });
    assertClose(r[manifest.graphs.text.outputs.embedding]!.data as Float32Array, goldenF32(c, 'embedding'), D, 'onnx mixed');
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});

test('dtype float16 (matrices held as float16) gives the reference: the bf16 weights are exact in float16', async () => {
  const e = await LocalEmbedder.load(MODEL_DIR, { dtype: 'float16' });
  for (const name of ['text', 'two']) {
    const c = goldenCase(name);
    const [got] = await e.embed(c.items.map(item));
    assertClose(got!, goldenF32(c, 'embedding'), D, `${name} float16`);
  }
});
