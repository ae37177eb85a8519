// Quantized weights (LoadModelOptions.dtype 'int8' | 'q4' | 'q4-128') on the float32 tiny model of
// tools/reference/model_qwen2vl_fp16.py (float32 weights, so quantizing them matters).
// Tolerances, on unit-norm embeddings and O(1) hidden states (docs/quantization.md):
// - q4 at MatMulNBits accuracy level 1 (float32 compute) vs the same model with every quantized
//   matrix replaced by its dequantized float32 copy: cos ≥ 0.99999, max|Δ| ≤ 1e-4 (observed 0).
// - int8 and q4 at level 4 (the defaults) vs that float reference: both also round the
//   activations to 8 bits on every matmul (per tensor for int8, per block of K for q4), which no
//   float graph reproduces; 8-bit steps of each activation row's range, through 2 + 2 layers,
//   give observed cos 0.99986-0.99991 / max|Δ| 0.006-0.010, held to cos ≥ 0.999, max|Δ| ≤ 0.03.
//   (Their kernels alone are checked exactly in common/quantize.test.ts.)
// - vs transformers' float32 output: int8 cos ≥ 0.999 (observed 0.99983); q4 cos ≥ 0.95 (observed
//   0.970 / 0.960 for blocks of 32 / 128). The tiny model is the worst case for 4 bits: its
//   random weights are uniform-looking, rows of only 16-64 values.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SafetensorsFile } from '../../io/weights/safetensors.ts';
import { configureRuntime, isQuantized, treeFlatten, type Tensor } from '../../tensor/index.ts';
import { dequantizedParams, withQ4AccuracyLevel } from '../common/quantize.ts';
import { compareRows, FP16_FIXTURE, fp16Array, fp16Batch } from './fixtures.test-helper.ts';
import { Qwen2VLModel } from './model.ts';

configureRuntime({ threads: 1 });

function within(name: string, got: Float32Array, want: Float32Array, dim: number, cos: number, abs: number): void {
  const r = compareRows(got, want, dim);
  assert.ok(r.minCos >= cos && r.maxAbs <= abs, `${name}: cos ${r.minCos} (≥ ${cos}), max|Δ| ${r.maxAbs} (≤ ${abs})`);
}

const VS_F32 = { int8: 0.999, q4: 0.95, 'q4-128': 0.95 } as const;

for (const dtype of ['int8', 'q4', 'q4-128'] as const) {
  test(`dtype ${dtype}: quantized linear layers, float embeddings/norms; close to the dequantized float graph and to float32`, async () => {
    const m = await Qwen2VLModel.load(FP16_FIXTURE, { dtype });
    assert.equal(m.dtype, dtype);
    // What is held how: every 2-D linear weight quantized; the token table float16; the rest exact float32.
    const flat = treeFlatten(m.params);
    const st = await SafetensorsFile.open(join(FP16_FIXTURE, 'model.safetensors'));
    try {
      let quantized = 0;
      let exact = 0;
      for (const [i, t] of (flat.leaves as Tensor[]).entries()) {
        const path = flat.paths[i]!;
        if (isQuantized(t)) {
          quantized++;
          assert.ok(/(proj|qkv|fc1|fc2|mlp\.[02])\.weight$/.test(path), `${path} should not be quantized`);
        } else if (path.endsWith('embed_tokens.weight')) {
          assert.equal(t.dtype, 'float16', path);
        } else if (path.endsWith('norm.weight') || path.endsWith('norm1.weight') || path.endsWith('.bias')) {
          assert.equal(t.dtype, 'float32', path);
          assert.deepEqual(t.value, await st.readFloat32(path), `${path}: kept exactly`);
          exact++;
        }
      }
      assert.equal(quantized, 2 * 7 + 2 * 4 + 2, 'LM q/k/v/o/gate/up/down, vision qkv/proj/fc1/fc2, merger mlp.0/mlp.2');
      assert.ok(exact >= 2 * 2 + 1 + 2 * 2, `norms and biases checked: ${exact}`);
    } finally {
      await st.close();
    }
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
