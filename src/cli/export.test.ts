// `vlm2vec export`: the two ONNX files (external data on) run by plain onnxruntime-node give the
// transformers reference embeddings, for a mixed image/video/text batch and a text-only batch.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { compareRows, copyAdapterWithLocalBase, FIXTURES, goldenBatch, goldenCase, goldenF32 } from '../models/qwen2-vl/fixtures.test-helper.ts';
import { visionIndexInputs } from '../models/qwen2-vl/vision.ts';
import { lastTokenIndex } from '../models/qwen2-vl/batch.ts';
import { configureRuntime } from '../tensor/index.ts';
import { runExport, type ExportManifest } from './export.ts';

configureRuntime({ threads: 1 });

test('exported ONNX (external data) under plain onnxruntime reproduces the reference', async () => {
  const out = await mkdtemp(join(tmpdir(), 'vlm2vec-export-'));
  try {
    const manifest = await runExport({ model: join(FIXTURES, 'tiny-a'), out, externalDataThreshold: 100_000 });
    if (manifest.modelType !== 'qwen2_vl') throw new Error(`a qwen2_vl export expected, got ${manifest.modelType}`);
    assert.deepEqual(JSON.parse(await readFile(join(out, 'manifest.json'), 'utf8')), JSON.parse(JSON.stringify(manifest)) as ExportManifest);
    assert.ok(manifest.graphs.text.data && existsSync(join(out, manifest.graphs.text.data)), 'text weights in external data');
    assert.ok(existsSync(join(out, 'config.json')));
    const so = { intraOpNumThreads: 1, interOpNumThreads: 1 };
    const vision = await ort.InferenceSession.create(join(out, manifest.graphs.vision.file), so);
    const text = await ort.InferenceSession.create(join(out, manifest.graphs.text.file), so);
    // The graphs carry the manifest's semantic names (not in0_0…), so users can feed them by name.
    assert.deepEqual([...vision.inputNames], ['pixel_values', 'patch_pos', 'segment_ids']);
    assert.deepEqual([...vision.outputNames], ['features']);
    assert.deepEqual([...text.inputNames], ['input_ids', 'attention_mask', 'position_ids', 'last_index', 'scatter_index', 'features']);
    assert.deepEqual([...text.outputNames], ['hidden', 'embedding']);
    for (const [k, v] of [...Object.entries(manifest.graphs.vision.inputs), ...Object.entries(manifest.graphs.text.inputs)]) assert.equal(v, k);
    assert.deepEqual(manifest.graphs.text.outputs, { hidden: 'hidden', embedding: 'embedding' });
    const vi = manifest.graphs.vision.inputs;
    const ti = manifest.graphs.text.inputs;

    for (const name of ['a_mixed_left', 'a_text']) {
      const c = goldenCase(name);
      const b = goldenBatch(c);
      const [bs, l] = b.shape;
      const grids = [...(b.imageGrids ?? []), ...(b.videoGrids ?? [])];
      let feats: ort.Tensor = new ort.Tensor('float32', new Float32Array(0), [0, manifest.hiddenSize]);
      const scatter: bigint[] = [];
      if (grids.length > 0) {
        const pv = new Float32Array([...(b.pixelValues ?? []), ...(b.pixelValuesVideos ?? [])]);
        const idx = visionIndexInputs(grids, 2);
        const r = await vision.run({
          [vi.pixel_values!]: new ort.Tensor('float32', pv, [idx.numPatches / 4, 4, 1176]),
          [vi.patch_pos!]: new ort.Tensor('int32', idx.positionIds, [idx.numPatches / 4, 4, 2]),
          [vi.segment_ids!]: new ort.Tensor('int32', idx.segmentIds, [idx.numPatches / 4, 4]),
        });
        feats = r[manifest.graphs.vision.output]!;
        for (const tok of [BigInt(manifest.imageTokenId), BigInt(manifest.videoTokenId)]) {
          for (let i = 0; i < bs; i++) for (let j = 0; j < l; j++) if (b.inputIds[i * l + j] === tok) scatter.push(BigInt(i), BigInt(j));
        }
      }
      const pos = new BigInt64Array(3 * bs * l);
      for (let a = 0; a < 3; a++) pos.set(b.positionIds!, a * bs * l);
      const last = BigInt64Array.from(lastTokenIndex(b.attentionMask, bs, l).flatMap((j, i) => [BigInt(i), BigInt(j)]));
      const r = await text.run({
        [ti.input_ids!]: new ort.Tensor('int64', b.inputIds, [bs, l]),
        [ti.attention_mask!]: new ort.Tensor('int64', b.attentionMask, [bs, l]),
        [ti.position_ids!]: new ort.Tensor('int64', pos, [3, bs, l]),
        [ti.last_index!]: new ort.Tensor('int64', last, [bs, 2]),
        [ti.scatter_index!]: new ort.Tensor('int64', BigInt64Array.from(scatter), [scatter.length / 2, 2]),
        [ti.features!]: feats,
      });
      const emb = r[manifest.graphs.text.outputs.embedding]!.data as Float32Array;
      const cmp = compareRows(emb, goldenF32(c, 'embedding'), manifest.hiddenSize);
      assert.ok(cmp.minCos >= 0.99999 && cmp.maxAbs <= 1e-4, `${name}: cos ${cmp.minCos} max ${cmp.maxAbs}`);
    }
    await vision.release();
    await text.release();
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});

test('export resolves --model like the embedder: an adapter folder equals base + --adapter; a missing folder is a clear error', async () => {
  const work = await mkdtemp(join(tmpdir(), 'vlm2vec-export-ad-'));
  try {
    const ad = join(work, 'adapter');
    await copyAdapterWithLocalBase(ad);
    const o1 = join(work, 'explicit');
    const o2 = join(work, 'as-model');
    const plain = join(work, 'plain');
    await runExport({ model: join(FIXTURES, 'tiny-a'), adapter: join(FIXTURES, 'tiny-a-dora'), out: o1 });
    await runExport({ model: ad, out: o2 });
    await runExport({ model: join(FIXTURES, 'tiny-a'), out: plain });
    for (const f of ['text.onnx', 'vision.onnx', 'manifest.json', 'config.json', 'preprocessor_config.json']) {
      assert.ok((await readFile(join(o1, f))).equals(await readFile(join(o2, f))), `${f} identical`);
    }
    assert.ok(!(await readFile(join(o1, 'text.onnx'))).equals(await readFile(join(plain, 'text.onnx'))), 'the adapter was merged');
    await assert.rejects(runExport({ model: join(work, 'missing'), out: join(work, 'x') }), /missing does not exist/);
    // A bad --out is refused before the model is even resolved (the model is missing too).
    await writeFile(join(work, 'file'), 'x');
    await assert.rejects(runExport({ model: join(work, 'missing'), out: join(work, 'file') }), /\[export\] output folder \(--out\) .*file is a file: expected a folder/);
    await assert.rejects(runExport({ model: join(work, 'missing'), out: '/proc/vlm2vec-x' }), /\[export\] output folder \(--out\) \/proc\/vlm2vec-x: \/proc is on the proc kernel filesystem/);
    assert.ok(!existsSync(join(work, 'x')), 'no output folder is created for an export that cannot start');
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});
