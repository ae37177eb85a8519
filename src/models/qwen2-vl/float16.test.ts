// The float16 weight option (LoadModelOptions.dtype) vs transformers 5.18
// (tools/reference/model_qwen2vl_fp16.py, a tiny model with float32 weights so float16 rounding
// changes them). Our float16 path holds the matrices in float16 and computes in float32, so its
// golden is transformers' `model.half().float()` run ("half_weights"), held to the float32
// parity tolerance (cos ≥ 0.99999, max|Δ| ≤ 1e-4; observed ≈ 2e-6). Against a true float16 run
// (`model.half()` on CPU, activations rounded to float16 between ops) and against float32 the
// tolerance is cos ≥ 0.9999, max|Δ| ≤ 1e-2 (observed ≈ 4e-3 / 2e-3 on O(1) hidden states).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAdapter } from '../../io/weights/peft.ts';
import { Checkpoint } from '../../io/weights/checkpoint.ts';
import { SafetensorsFile } from '../../io/weights/safetensors.ts';
import { writeSafetensors, type TensorToWrite } from '../../io/weights/safetensors-write.ts';
import { f32ToF16, toFloat16, toFloat32 } from '../../io/weights/safetensors-dtype.ts';
import { configureRuntime, fromArray, treeLeaves, type Tensor } from '../../tensor/index.ts';
import { parseQwen2VLConfig } from './config.ts';
import { compareRows, FIXTURES, FP16_FIXTURE, fp16Array, fp16Batch, goldenBatch, goldenCase, goldenF32 } from './fixtures.test-helper.ts';
import { Qwen2VLModel } from './model.ts';
import { parseWeightDtype } from '../common/float16.ts';
import { expectedTensors, readQwen2VLWeights } from './weights.ts';
import { readJsonFile } from '../../io/weights/hf-configs.ts';

configureRuntime({ threads: 1 });

const m16 = Qwen2VLModel.load(FP16_FIXTURE, { dtype: 'float16' });
const m32 = Qwen2VLModel.load(FP16_FIXTURE);

function within(name: string, got: Float32Array, want: Float32Array, dim: number, cos: number, abs: number): number {
  const r = compareRows(got, want, dim);
  assert.ok(r.minCos >= cos && r.maxAbs <= abs, `${name}: cos ${r.minCos} (≥ ${cos}), max|Δ| ${r.maxAbs} (≤ ${abs})`);
  return r.maxAbs;
}

test('float16 weights match transformers model.half().float() and stay close to model.half() and float32', async () => {
  const m = await m16;
  assert.equal(m.dtype, 'float16');
  const out = await m.encode(fp16Batch());
  const d = out.dim;
  for (const [key, got] of [['last_hidden', out.hidden], ['embedding', out.embeddings]] as const) {
    within(`vs half_weights ${key}`, got, fp16Array(`half_weights.${key}`) as Float32Array, d, 0.99999, 1e-4);
    within(`vs torch float16 ${key}`, got, fp16Array(`half.${key}`) as Float32Array, d, 0.9999, 1e-2);
    const vsF32 = within(`vs float32 ${key}`, got, fp16Array(`fp32.${key}`) as Float32Array, d, 0.9999, 1e-2);
    // The weights really were rounded: float32 results are measurably different.
    assert.ok(vsF32 > (key === 'embedding' ? 1e-4 : 5e-4), `${key}: float16 path equals float32 (max|Δ| ${vsF32}); were the weights rounded?`);
  }
  // Our own float32 path on the same checkpoint matches the float32 reference (fixture sanity),
  // and our two paths are within the float16 tolerance of each other.
  const o32 = await (await m32).encode(fp16Batch());
  assert.equal((await m32).dtype, 'float32');
  within('float32 path vs fp32 reference', o32.hidden, fp16Array('fp32.last_hidden') as Float32Array, d, 0.99999, 1e-4);
  within('float16 vs float32 path', out.embeddings, o32.embeddings, d, 0.9999, 1e-2);
});

/** Initializers of an ONNX dump (`init name : dtype[dims]`). */
function initializers(dump: string): { dtype: string; dims: number[] }[] {
  return [...dump.matchAll(/^init \S+ : (\w+)\[([\d,]*)\]/gm)].map((x) => ({ dtype: x[1]!, dims: x[2] ? x[2].split(',').map(Number) : [] }));
}

test('float16 graphs hold every weight matrix as a float16 initializer (half the bytes)', async () => {
  const m = await m16;
  const cfg = m.config;
  const i64 = (n: number, shape: number[]) => fromArray(new BigInt64Array(n), shape, 'int64');
  const d = cfg.text.hiddenSize;
  const text = initializers(m.graphs().text.dumpOnnx(i64(2, [1, 2]), i64(2, [1, 2]), i64(6, [3, 1, 2]), i64(2, [1, 2]), i64(0, [0, 2]), fromArray(new Float32Array(0), [0, d], 'float32')));
  const vision = initializers(m.graphs().vision.dumpOnnx(
    fromArray(new Float32Array(4 * 1176), [1, 4, 1176], 'float32'), fromArray(new Int32Array(8), [1, 4, 2], 'int32'), fromArray(new Int32Array(4), [1, 4], 'int32')));
  const numel = (dims: number[]) => dims.reduce((a, b) => a * b, 1);
  const matrices = (prefix: string) => [...expectedTensors(cfg)].filter(([n, s]) => n.startsWith(prefix) && s.length >= 2).reduce((a, [, s]) => a + numel(s), 0);
  for (const [name, inits, prefix] of [['text', text, 'model.'], ['vision', vision, 'visual.']] as const) {
    const half = inits.filter((t) => t.dtype === 'float16');
    assert.deepEqual(inits.filter((t) => t.dims.length >= 2 && t.dtype !== 'float16'), [], `${name}: a matrix initializer is not float16`);
    assert.equal(half.reduce((a, t) => a + numel(t.dims), 0), matrices(prefix), `${name}: float16 elements = the checkpoint's matrices`);
    const f32 = inits.filter((t) => t.dtype === 'float32').reduce((a, t) => a + numel(t.dims), 0);
    assert.ok(f32 * 4 < 0.05 * matrices(prefix) * 2, `${name}: ${f32} float32 initializer elements left`);
  }
  // The float32 model of the same checkpoint holds no float16 initializer.
  const t32 = initializers((await m32).graphs().vision.dumpOnnx(
    fromArray(new Float32Array(4 * 1176), [1, 4, 1176], 'float32'), fromArray(new Int32Array(8), [1, 4, 2], 'int32'), fromArray(new Int32Array(4), [1, 4], 'int32')));
  assert.equal(t32.filter((t) => t.dtype === 'float16').length, 0);
});

test('float16 host weights: matrices rounded to nearest-even half, linear weights stored [in, out]', async () => {
  const ckpt = await Checkpoint.open(FP16_FIXTURE);
  try {
    const cfg = parseQwen2VLConfig(await readJsonFile('qwen2_vl', join(FP16_FIXTURE, 'config.json')), { file: 'config.json' });
    const host = await readQwen2VLWeights(ckpt, cfg, undefined, 'float16');
    const f32 = async (n: string) => {
      const t = await ckpt.read(n);
      return toFloat32(t.dtype, t.data, n);
    };
    // up_proj [48, 24] is held transposed: element (r, c) at c·48 + r.
    const up = host.get('model.layers.0.mlp.up_proj.weight')!;
    assert.ok(up.data instanceof Uint16Array && 'transposed' in up && up.transposed, 'up_proj held as transposed float16');
    const src = await f32('model.layers.0.mlp.up_proj.weight');
    const want = f32ToF16(src);
    for (const [r, c] of [[0, 0], [1, 0], [0, 1], [47, 23], [13, 7]] as const) assert.equal(up.data[c * 48 + r], want[r * 24 + c], `up_proj[${r}, ${c}]`);
    // Hand-checked rounding of one value: the stored float32 vs its float16 neighbours.
    const x = src[0]!;
    const h = up.data[0]!;
    const halfVal = (b: number) => (b & 0x8000 ? -1 : 1) * (1 + (b & 0x3ff) / 1024) * 2 ** (((b >> 10) & 0x1f) - 15);
    const step = Math.abs(halfVal(h + 1) - halfVal(h));
    assert.ok(Math.abs(halfVal(h) - x) <= step / 2, `up_proj[0,0] = ${x} rounded to ${halfVal(h)}`);
    // Token embeddings stay [vocab, D] (rows are gathered, then cast); vectors stay float32 but rounded.
    const emb = host.get('model.embed_tokens.weight')!;
    assert.ok(emb.data instanceof Uint16Array && !('transposed' in emb && emb.transposed), 'embed_tokens held as [vocab, D] float16');
    assert.deepEqual(emb.shape, [256, 24]);
    const bias = host.get('model.layers.0.self_attn.q_proj.bias')!;
    assert.ok(bias.data instanceof Float32Array, 'q_proj.bias held as float32');
    const b32 = await f32('model.layers.0.self_attn.q_proj.bias');
    assert.ok(b32.some((v, i) => v !== bias.data[i]), 'biases are rounded to float16 values');
    assert.ok(Math.max(...b32.map((v, i) => Math.abs(v - bias.data[i]!))) < 1e-3, 'bias rounding error below 1e-3');
    // Bytes held: every matrix in 2 bytes per element.
    const bytes = [...host.values()].reduce((a, t) => a + t.data.byteLength, 0);
    const all = [...expectedTensors(cfg).values()].reduce((a, s) => a + s.reduce((p, q) => p * q, 1), 0);
    assert.ok(bytes < 0.55 * all * 4, `float16 host holds ${bytes} bytes for ${all} parameters`);
  } finally {
    await ckpt.close();
  }
});

test('float16 with released host weights: every float16 buffer freed, embeddings unchanged', async () => {
  const m = await Qwen2VLModel.load(FP16_FIXTURE, { dtype: 'float16' });
  const before = await m.encode(fp16Batch());
  const constants = (treeLeaves(m.params) as Tensor[]).map((t) => {
    while (t.value === undefined && t.inputs.length === 1) t = t.inputs[0]!;
    return t;
  });
  assert.ok(constants.every((t) => t.value !== undefined), 'every parameter leads to a constant');
  assert.ok(constants.filter((t) => t.dtype === 'float16').length >= 20, 'the matrices are float16 constants');
  await m.releaseHostWeights();
  assert.equal(constants.reduce((n, t) => n + t.value!.byteLength, 0), 0, 'every weight buffer is detached');
  const after = await m.encode(fp16Batch());
  assert.deepEqual(after.embeddings, before.embeddings);
});

test('float16 with a DoRA adapter: merged in float32, then held as float16', async () => {
  const adapter = await loadAdapter(join(FIXTURES, 'tiny-a-dora'));
  const m = await Qwen2VLModel.load(join(FIXTURES, 'tiny-a'), { adapter, dtype: 'float16' });
  const q = m.params.model.layers[0]!.self_attn.q_proj.weight;
  assert.equal(q.inputs[0]?.inputs[0]?.dtype, 'float16', 'the merged q_proj is a float16 constant');
  const c = goldenCase('dora_mixed_left');
  const out = await m.encode(goldenBatch(c));
  // The merged weights are not bf16-exact, so rounding them to float16 moves the result a little.
  within('dora float16 vs float32 reference', out.embeddings, goldenF32(c, 'embedding'), out.dim, 0.9999, 1e-2);
});

test('a bad dtype is rejected naming the option and the accepted values', async () => {
  await assert.rejects(Qwen2VLModel.load(FP16_FIXTURE, { dtype: 'fp16' as never }), /LoadModelOptions\.dtype must be one of 'float32', 'float16', 'int8', 'q4', 'q4-128', got "fp16" \(did you mean 'float16'\?\)/);
  assert.throws(() => parseWeightDtype('bfloat16', '--dtype'), /--dtype must be one of 'float32', 'float16', 'int8', 'q4', 'q4-128', got "bfloat16"$/);
  assert.throws(() => parseWeightDtype(16), /dtype must be one of 'float32', .*, got 16/);
  assert.equal(parseWeightDtype(undefined), 'float32');
});

test('a weight beyond float16 range is rejected naming the tensor (float32 still loads it)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'qwen2vl-f16-range-'));
  try {
    const src = await SafetensorsFile.open(join(FP16_FIXTURE, 'model.safetensors'));
    const tensors = new Map<string, TensorToWrite>();
    for (const name of src.names()) {
      const t = await src.read(name);
      const data = new Float32Array(t.data as Float32Array);
      if (name === 'model.layers.1.mlp.down_proj.weight') data[5] = 1e5;
      if (name === 'model.embed_tokens.weight') data[3] = -7e4;
      tensors.set(name, { dtype: 'F32', shape: t.shape, data });
    }
    await src.close();
    await writeSafetensors(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
    await cp(join(FP16_FIXTURE, 'config.json'), join(dir, 'config.json'));
    await assert.rejects(Qwen2VLModel.load(dir, { dtype: 'float16' }), /tensor model\.(embed_tokens\.weight holds -70000 \(element 3\)|layers\.1\.mlp\.down_proj\.weight holds 100000 \(element 5\)), beyond float16's range \(±65504\); load it with dtype 'float32'/);
    const m = await Qwen2VLModel.load(dir);
    assert.equal(m.dtype, 'float32');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('toFloat16: F16 passes through, BF16 and F32 round once, integers are refused', () => {
  const h = new Uint16Array([0x3c00, 0xc000]);
  assert.equal(toFloat16('F16', h, 'w'), h);
  // bf16 0x3f80 = 1.0 → half 0x3c00; bf16 0x3f81 = 1.0078125 (exact in half: 0x3c08); 0x477f = 65280 → 0x7bf8.
  assert.deepEqual([...toFloat16('BF16', new Uint16Array([0x3f80, 0x3f81, 0x477f]), 'w')], [0x3c00, 0x3c08, 0x7bf8]);
  // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to even (1.0); 1 + 3·2^-12 rounds up.
  assert.deepEqual([...toFloat16('F32', new Float32Array([1 + 2 ** -11, 1 + 3 * 2 ** -12]), 'w')], [0x3c00, 0x3c01]);
  assert.throws(() => toFloat16('I32', new Int32Array(1), 'model.x'), /model\.x: expected a float tensor \(F32, F16 or BF16\), found I32/);
});
