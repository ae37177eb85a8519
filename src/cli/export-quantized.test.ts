// `vlm2vec export --dtype int8|q4|q4-128`: the manifest records the quantization, the graphs carry
// the packed weights (the token table too, read by Gather) and their kernel (MatMulInteger / com.microsoft MatMulNBits), and a plain onnxruntime-node session on the
// exported files (no vlm2vec code in the loop) gives the same embeddings as the in-process model
// with the same dtype (same kernels: ≤ 1e-5), and stays within the measured distance to
// transformers' float32 output (src/models/qwen2-vl/quantized.test.ts states why that one is loose).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareRows, FP16_FIXTURE, fp16Array, fp16Batch } from '../models/qwen2-vl/fixtures.test-helper.ts';
import { Qwen2VLModel } from '../models/qwen2-vl/model.ts';
import { quantizedMatrixOf } from '../models/common/quantize.ts';
import { SafetensorsFile } from '../io/weights/safetensors.ts';
import { f32ToF16 } from '../io/weights/safetensors-dtype.ts';
import { configureRuntime } from '../tensor/index.ts';
import { runExport, type ExportManifest } from './export.ts';
import { runExported } from './export.test-helper.ts';

configureRuntime({ threads: 1 });

const size = async (dir: string, m: ExportManifest) => (await stat(join(dir, m.graphs.text.file))).size + (await stat(join(dir, m.graphs.vision.file))).size;

test('export --dtype int8 | q4 | q4-128: manifest, packed weights, plain onnxruntime reproduces the in-process model', async () => {
  const work = await mkdtemp(join(tmpdir(), 'vlm2vec-export-quant-'));
  try {
    const m32 = await runExport({ model: FP16_FIXTURE, out: join(work, 'f32') });
    assert.equal(m32.quantization, undefined);
    const s32 = await size(join(work, 'f32'), m32);
    const st = await SafetensorsFile.open(join(FP16_FIXTURE, 'model.safetensors'));
    const half = f32ToF16(await st.readFloat32('model.embed_tokens.weight'));
    await st.close();
    const expected = {
      int8: { op: 'MatMulInteger', kernel: 'MatMulInteger', linear: 'int8-per-channel-symmetric', blockSize: undefined, vsF32: 0.999 },
      q4: { op: 'com.microsoft.MatMulNBits', kernel: 'MatMulNBits', linear: 'uint4-blockwise-asymmetric', blockSize: 32, vsF32: 0.95 },
      'q4-128': { op: 'com.microsoft.MatMulNBits', kernel: 'MatMulNBits', linear: 'uint4-blockwise-asymmetric', blockSize: 128, vsF32: 0.95 },
    } as const;
    for (const [dtype, e] of Object.entries(expected) as [keyof typeof expected, (typeof expected)[keyof typeof expected]][]) {
      const out = join(work, dtype);
      const m = await runExport({ model: FP16_FIXTURE, out, dtype });
      assert.equal(m.quantization?.dtype, dtype);
      assert.equal(m.quantization?.op, e.op);
      assert.equal(m.quantization?.linear, e.linear);
      assert.equal(m.quantization?.blockSize, e.blockSize);
      assert.equal(m.quantization?.embeddings, 'packed-like-linear-gathered');
      assert.equal(m.quantization?.positionEmbeddings, 'float16-cast-to-float32');
      assert.equal(m.float16, undefined);
      const text = await readFile(join(out, m.graphs.text.file));
      assert.ok(text.includes(e.kernel), `${dtype}: text.onnx lacks ${e.kernel}`);
      assert.ok((await readFile(join(out, m.graphs.vision.file))).includes(e.kernel), `${dtype}: vision.onnx lacks ${e.kernel}`);
      // The tiny model's graphs are mostly vectors and small matrices; quantizing still shrinks the
      // files (measured 0.75× / 0.61× / 0.82×: blocks of 128 pad its 24-wide rows to 128 values).
      assert.ok((await size(out, m)) < 0.85 * s32, `${dtype}: ${await size(out, m)} bytes vs float32 ${s32}`);
      const model = await Qwen2VLModel.load(FP16_FIXTURE, { dtype });
      // text.onnx carries the token table packed (its exact bytes and scales), and no float16 copy.
      const table = quantizedMatrixOf(model.params.model.embed_tokens.weight);
      for (const a of [table.q, table.scales, ...(table.zeroPoints ? [table.zeroPoints] : [])]) {
        assert.ok(text.includes(Buffer.from(a.buffer, a.byteOffset, a.byteLength)), `${dtype}: text.onnx lacks the packed table (${a.constructor.name} of ${a.length})`);
      }
      assert.ok(!text.includes(Buffer.from(half.buffer)), `${dtype}: text.onnx holds a float16 token table`);
      const got = await runExported(out, m, { intraOpNumThreads: 1, interOpNumThreads: 1 });
      const own = await model.encode(fp16Batch());
      const r = compareRows(got, own.embeddings, m.hiddenSize);
      assert.ok(r.minCos >= 0.99999 && r.maxAbs <= 1e-5, `${dtype}: exported vs in-process: cos ${r.minCos}, max|Δ| ${r.maxAbs}`);
      const rf = compareRows(got, fp16Array('fp32.embedding') as Float32Array, m.hiddenSize);
      assert.ok(rf.minCos >= e.vsF32, `${dtype}: vs transformers float32: cos ${rf.minCos}`);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});
