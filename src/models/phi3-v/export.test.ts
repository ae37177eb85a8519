import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { runExport } from '../../cli/export.ts';
import { LocalEmbedder } from '../../embed/local.ts';
import { loadImageRGB } from '../../io/media/image.ts';
import { modelRecord, resolveModel } from '../registry.ts';
import type { Phi3VExportManifest, Phi3VProcessorSettings } from './encoder.ts';
import { imageTokenOrder } from './forward.ts';
import { CASES, caseByName, ITEMS, readArray, TINY, TINY_DORA } from './fixtures.test-helper.ts';
import { processPhi3VImage } from './processor.ts';

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

test('registry: config.json model_type phi3_v picks the Phi-3-V record (right padding, pad 32000, <|image_1|>)', async () => {
  const m = await resolveModel(TINY, { onWarning: () => {} });
  assert.equal(m.config.modelType, 'phi3_v');
  const r = modelRecord('phi3_v');
  assert.deepEqual([r.paddingSide, r.padTokenId, r.imageToken, r.promptStyle], ['right', 32000, '<|image_1|>', 'phi3_v']);
});

test('LocalEmbedder (embed / eval / serve path): a folder, and the DoRA adapter folder resolving its base, give the reference embeddings', async () => {
  const emb = await LocalEmbedder.load(TINY, { onLoad: () => {} });
  const item = (k: string) => (ITEMS[k]!.image ? { text: ITEMS[k]!.text, images: [join(TINY, ITEMS[k]!.image!)] } : { text: ITEMS[k]!.text });
  const items = ['wide', 'text', 'tiny'].map(item);
  const rows = await Promise.all(items.map((it, i) => emb.prepare(it, i)));
  const out = await emb.encodePrepared(rows);
  const ref = readArray(caseByName(CASES.embeddings, 'batch_mixed').embedding) as Float64Array; // rows: wide, text, tiny, …
  const d = 32;
  for (let i = 0; i < 3; i++) assert.ok(maxAbs(out.embeddings[i]!, ref.subarray(i * d, (i + 1) * d)) <= 1e-5, `row ${i}`);
  await emb.close();
  // The adapter folder names ../tiny-phi3v as its base.
  const dora = await LocalEmbedder.load(TINY_DORA, { onLoad: () => {} });
  const c = CASES.dora[0]!;
  const drows = await Promise.all(c.items.map((k, i) => dora.prepare(item(k), i)));
  const dout = await dora.encodePrepared(drows);
  const dref = readArray(c.embedding) as Float64Array;
  for (let i = 0; i < c.items.length; i++) assert.ok(maxAbs(dout.embeddings[i]!, dref.subarray(i * d, (i + 1) * d)) <= 1e-5, `dora row ${i}`);
  await dora.close();
});

test('LocalEmbedder processor settings reach the HD processor: numCrops 4 gives the reference 4-crop embedding', async () => {
  const settings: Phi3VProcessorSettings = { numCrops: 4 };
  const emb = await LocalEmbedder.load(TINY, { onLoad: () => {}, processor: settings });
  const rows = [await emb.prepare({ text: ITEMS.wide!.text, images: [join(TINY, ITEMS.wide!.image!)] }, 0)];
  const out = await emb.encodePrepared(rows);
  assert.ok(maxAbs(out.embeddings[0]!, readArray(caseByName(CASES.embeddings, 'single_wide_c4').embedding) as Float64Array) <= 1e-5);
  assert.ok(maxAbs(out.embeddings[0]!, readArray(caseByName(CASES.embeddings, 'single_wide').embedding) as Float64Array) > 1e-3);
  await emb.close();
});

test('vlm2vec export: vision.onnx + text.onnx run by plain onnxruntime give the reference embeddings', async () => {
  const out = await mkdtemp(join(tmpdir(), 'phi3v-export-'));
  try {
    await runExport({ model: TINY, out });
    const manifest = JSON.parse(await readFile(join(out, 'manifest.json'), 'utf8')) as Phi3VExportManifest;
    assert.equal(manifest.modelType, 'phi3_v');
    const vision = await ort.InferenceSession.create(join(out, manifest.graphs.vision.file));
    const text = await ort.InferenceSession.create(join(out, manifest.graphs.text.file));
    try {
      // One image item and one text item, right-padded, as the reference batches them.
      const c = caseByName(CASES.embeddings, 'batch_mixed');
      const ids = readArray(c.inputIds) as BigInt64Array;
      const mask = readArray(c.attentionMask) as BigInt64Array;
      const [b, l] = c.inputIds.shape as [number, number];
      const feats: Float32Array[] = [];
      for (const k of c.items) {
        const img = ITEMS[k]!.image;
        if (!img) continue;
        const p = processPhi3VImage(await loadImageRGB(join(TINY, img)), { numCrops: 16 });
        const order = imageTokenOrder([p], manifest.tokensPerSide);
        const vi = manifest.graphs.vision.inputs;
        const r = await vision.run({
          [vi.pixel_values!]: new ort.Tensor('float32', p.pixelValues, [1 + p.rows * p.cols, 3, 336, 336]),
          [vi.token_order!]: new ort.Tensor('int64', order, [order.length]),
        });
        feats.push(r[manifest.graphs.vision.output]!.data as Float32Array);
      }
      const scatter: bigint[] = [];
      const zeroed = ids.slice();
      const last: bigint[] = [];
      for (let i = 0; i < b; i++) {
        let n = 0;
        for (let j = 0; j < l; j++) {
          if (mask[i * l + j] === 1n) n++;
          if (ids[i * l + j]! < 0n) { scatter.push(BigInt(i), BigInt(j)); zeroed[i * l + j] = 0n; }
        }
        last.push(BigInt(i), BigInt(n - 1));
      }
      const all = new Float32Array(feats.reduce((a, f) => a + f.length, 0));
      let o = 0;
      for (const f of feats) { all.set(f, o); o += f.length; }
      const ti = manifest.graphs.text.inputs;
      const t = await text.run({
        [ti.input_ids!]: new ort.Tensor('int64', zeroed, [b, l]),
        [ti.attention_mask!]: new ort.Tensor('int64', mask, [b, l]),
        [ti.last_index!]: new ort.Tensor('int64', BigInt64Array.from(last), [b, 2]),
        [ti.scatter_index!]: new ort.Tensor('int64', BigInt64Array.from(scatter), [scatter.length / 2, 2]),
        [ti.features!]: new ort.Tensor('float32', all, [all.length / manifest.hiddenSize, manifest.hiddenSize]),
      });
      const got = t[manifest.graphs.text.outputs.embedding]!.data as Float32Array;
      assert.ok(maxAbs(got, readArray(c.embedding) as Float64Array) <= 1e-5, `max |Δ| ${maxAbs(got, readArray(c.embedding) as Float64Array)}`);
    } finally {
      await vision.release();
      await text.release();
    }
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});
