// Quantized weights (LoadModelOptions.dtype 'int8' | 'q4' | 'q4-128') on the float32 tiny model of
// tools/reference/model_qwen2vl_fp16.py (float32 weights, so quantizing them matters). The linear
// matrices and the token table [256, 24] are quantized (int8: q kept row-major [256, 24]); the
// table is read by Gather only.
// Tolerances, on unit-norm embeddings and O(1) hidden states (docs/quantization.md):
// - q4 at MatMulNBits accuracy level 1 (float32 compute) vs the same model with every quantized
//   matrix (the table too) replaced by its dequantized float32 copy: cos ≥ 0.99999, max|Δ| ≤ 1e-4
//   (observed 0: the gathered rows are bit-identical, common/quantize.test.ts).
// - int8 and q4 at level 4 (the defaults) vs that float reference: both also round the
//   activations to 8 bits on every matmul (per row for int8, per block of K for q4), which no
//   float graph reproduces; 8-bit steps of each activation row's range, through 2 + 2 layers,
//   give observed cos 0.99986-0.99994 / max|Δ| 0.005-0.008, held to cos ≥ 0.999, max|Δ| ≤ 0.03.
//   (Their kernels alone are checked exactly in common/quantize.test.ts.)
// - vs transformers' float32 output: int8 cos ≥ 0.999 (observed 0.99989; 0.99983 with the table
//   in float16); q4 cos ≥ 0.95 (observed 0.974 / 0.961 for blocks of 32 / 128; 0.970 / 0.960 with
//   the table in float16). The tiny model is the worst case for 4 bits: its random weights are
//   uniform-looking, rows of only 16-64 values.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SafetensorsFile } from '../../io/weights/safetensors.ts';
import { configureRuntime, fromArray, isQuantized, treeFlatten, type Tensor } from '../../tensor/index.ts';
import { dequantizeMatrix, dequantizedParams, quantizedMatrixOf, withQ4AccuracyLevel, type QuantizedMatrix } from '../common/quantize.ts';
import { compareRows, FP16_FIXTURE, fp16Array, fp16Batch } from './fixtures.test-helper.ts';
import { Qwen2VLModel } from './model.ts';

configureRuntime({ threads: 1 });

function within(name: string, got: Float32Array, want: Float32Array, dim: number, cos: number, abs: number): void {
  const r = compareRows(got, want, dim);
  assert.ok(r.minCos >= cos && r.maxAbs <= abs, `${name}: cos ${r.minCos} (≥ ${cos}), max|Δ| ${r.maxAbs} (≤ ${abs})`);
}

// The token table's entry of tools/reference/quantize_weights.py's output (SHA-256 of each array).
type Summary = Record<string, { sha256: string; length: number }>;
const QUANT_CASES = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'quant', 'cases.json'), 'utf8')) as
  { cases: ({ name: string } & Record<'int8_rows' | 'q4_32' | 'q4_128', Summary>)[] };
function assertLikeReference(what: string, q: QuantizedMatrix, dtype: 'int8' | 'q4' | 'q4-128'): void {
  const want = QUANT_CASES.cases.find((c) => c.name === 'model.embed_tokens.weight')![dtype === 'int8' ? 'int8_rows' : dtype === 'q4' ? 'q4_32' : 'q4_128'];
  const arrays: Record<string, ArrayBufferView> = { q: q.q, scales: q.scales, dequantized: dequantizeMatrix(q), ...(q.zeroPoints ? { zeroPoints: q.zeroPoints } : {}) };
  assert.deepEqual(Object.keys(arrays).sort(), Object.keys(want).sort(), what);
  for (const [k, a] of Object.entries(arrays)) {
    assert.equal(createHash('sha256').update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest('hex'), want[k]!.sha256, `${what} ${k}: bytes differ from the numpy reference`);
  }
}

const VS_F32 = { int8: 0.999, q4: 0.95, 'q4-128': 0.95 } as const;

for (const dtype of ['int8', 'q4', 'q4-128'] as const) {
  test(`dtype ${dtype}: quantized linear layers and token table, float norms; close to the dequantized float graph and to float32`, async () => {
    const m = await Qwen2VLModel.load(FP16_FIXTURE, { dtype });
    assert.equal(m.dtype, dtype);
    // What is held how: every 2-D linear weight and the token table quantized (the table as the
    // numpy reference quantizes it, byte for byte); the rest exact float32.
    const flat = treeFlatten(m.params);
    const st = await SafetensorsFile.open(join(FP16_FIXTURE, 'model.safetensors'));
    try {
      let quantized = 0;
      let exact = 0;
      for (const [i, t] of (flat.leaves as Tensor[]).entries()) {
        const path = flat.paths[i]!;
        if (isQuantized(t)) {
          quantized++;
          assert.ok(/(proj|qkv|fc1|fc2|mlp\.[02]|embed_tokens)\.weight$/.test(path), `${path} should not be quantized`);
          if (path.endsWith('embed_tokens.weight')) assertLikeReference(`${dtype} ${path}`, quantizedMatrixOf(t), dtype);
        } else if (path.endsWith('norm.weight') || path.endsWith('norm1.weight') || path.endsWith('.bias')) {
          assert.equal(t.dtype, 'float32', path);
          assert.deepEqual(t.value, await st.readFloat32(path), `${path}: kept exactly`);
          exact++;
        }
      }
      assert.equal(quantized, 2 * 7 + 2 * 4 + 2 + 1, 'LM q/k/v/o/gate/up/down, vision qkv/proj/fc1/fc2, merger mlp.0/mlp.2, embed_tokens');
      assert.ok(exact >= 2 * 2 + 1 + 2 * 2, `norms and biases checked: ${exact}`);
    } finally {
      await st.close();
    }
    // The traced text graph holds the table packed, and reads it only through Gather (the rows of
    // the ids, dequantized after): never a float copy of the whole table.
    const table = quantizedMatrixOf(m.params.model.embed_tokens.weight);
    const i64 = (n: number, shape: number[]) => fromArray(new BigInt64Array(n), shape, 'int64');
    const onnx = m.graphs().text.dumpOnnx(i64(2, [1, 2]), i64(2, [1, 2]), i64(6, [3, 1, 2]), i64(2, [1, 2]), i64(0, [0, 2]), fromArray(new Float32Array(0), [0, m.config.text.hiddenSize], 'float32'));
    const packedDims = dtype === 'int8' ? '[256,24]' : `[256,1,${table.blockSize / 2}]`;
    const packed = [...onnx.matchAll(new RegExp(`^init (\\S+) : ${dtype === 'int8' ? 'int8' : 'uint8'}\\${packedDims.replace(']', '\\]')}`, 'gm'))].map((x) => x[1]!);
    assert.equal(packed.length, 1, `${dtype}: one packed table initializer ${packedDims}`);
    const readers = onnx.split('\n').filter((l) => / = /.test(l) && l.split('(')[1]?.split(/[,)]/).map((s) => s.trim()).includes(packed[0]!));
    assert.ok(readers.length > 0 && readers.every((l) => / = Gather\(/.test(l)), `${dtype}: the packed table is read by ${readers.join('; ')}`);
    assert.doesNotMatch(onnx, /^init \S+ : float16/m, `${dtype}: no float16 table left`);
    const out = await m.encode(fp16Batch());
    const d = out.dim;
    const ref = await Qwen2VLModel.fromParams(m.config, dequantizedParams(m.params)).encode(fp16Batch());
    if (dtype !== 'int8') {
      const exact = await Qwen2VLModel.fromParams(m.config, withQ4AccuracyLevel(m.params, 1)).encode(fp16Batch());
      within('level 1 vs dequantized float embedding', exact.embeddings, ref.embeddings, d, 0.99999, 1e-4);
      within('level 1 vs dequantized float hidden', exact.hidden, ref.hidden, d, 0.99999, 1e-4);
    }
    within('vs dequantized float embedding', out.embeddings, ref.embeddings, d, 0.999, 0.03);
    const f32 = fp16Array('fp32.embedding') as Float32Array;
    within('vs transformers float32', out.embeddings, f32, d, VS_F32[dtype], 1);
    // The quantization really happened: float32 is measurably different.
    assert.ok(compareRows(out.embeddings, f32, d).maxAbs > 1e-3, 'no difference to float32: were the weights quantized?');
  });
}

test('a quantized model can be released and still encodes the same', async () => {
  const m = await Qwen2VLModel.load(FP16_FIXTURE, { dtype: 'q4' });
  const before = await m.encode(fp16Batch());
  await m.releaseHostWeights();
  const after = await m.encode(fp16Batch());
  assert.deepEqual(after.embeddings, before.embeddings);
});
