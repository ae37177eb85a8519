// jit: session cache per signature (symbolic dims do not recompile), initializers vs inputs,
// export round trip through plain onnxruntime (with and without external data), worker runtime,
// trace-time errors and the readable graph dump.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import {
  Tensor, WorkerRuntime, add, configureRuntime, dumpGraph, jit, matmul, mean, randn, reshape, runtimeStats, sigmoid, softmax,
  tensor, sum, zeros, placeholder, grad, concat, slice, split, arange,
} from './index.ts';

configureRuntime({ threads: 1 });
const dir = mkdtempSync(join(tmpdir(), 'vlm2vec-jit-test-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const w = randn([4, 3], { seed: 7 });
const model = (x: Tensor) => {
  const h = sigmoid(matmul(x, w)); // [B,T,3]
  return { probs: softmax(h, -1), pooled: mean(h, 1) }; // [B,T,3], [B,3]
};

test('a new sequence length or batch size reuses the session; a new static dim does not', async () => {
  const f = jit(model, { dynamic: { '0': ['B', 'T', null] } });
  const before = runtimeStats().sessionsCreated;
  const a = await f(randn([2, 5, 4], { seed: 1 }));
  const b = await f(randn([3, 9, 4], { seed: 2 }));
  assert.deepEqual(a.probs.shape, [2, 5, 3]);
  assert.deepEqual(b.probs.shape, [3, 9, 3]);
  assert.deepEqual(b.pooled.shape, [3, 3]);
  assert.equal(f.sessionCount, 1);
  assert.equal(runtimeStats().sessionsCreated - before, 1);
  // values equal the eager computation of the same function
  const x = randn([3, 9, 4], { seed: 2 });
  const eager = model(x);
  const got = await b.pooled.toArray();
  const want = await eager.pooled.toArray();
  got.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 1e-6));
  // a static (non-dynamic) dim change is a new signature
  const g = jit((x: Tensor) => sum(x, -1), { dynamic: { '0': ['B', null] } });
  await g(zeros([2, 3]));
  await g(zeros([5, 3]));
  assert.equal(g.sessionCount, 1);
  await g(zeros([2, 4]));
  assert.equal(g.sessionCount, 2);
});

test('captured tensors are initializers, arguments are graph inputs', () => {
  const f = jit((x: Tensor, v: Tensor) => add(matmul(x, w), v), { dynamic: { '0': ['B', null] } });
  const text = f.dumpOnnx(zeros([2, 4]), zeros([3]));
  assert.match(text, /^input in0_0 : float32\[B,4\]$/m);
  assert.match(text, /^input in1_1 : float32\[3\]$/m);
  assert.match(text, /^init w\d+ : float32\[4,3\]$/m);
  assert.equal((text.match(/^input /gm) ?? []).length, 2);
});

test('symbolic dims shared by two arguments must agree', async () => {
  const f = jit((a: Tensor, b: Tensor) => add(a, b), { dynamic: { '0': ['T'], '1': ['T'] } });
  await assert.rejects(f(zeros([3]), zeros([4])), /symbolic dim 'T' is 3 in one argument and 4 in '1'/);
});

test('export: plain onnxruntime loads the file and reproduces the jitted outputs', async () => {
  const f = jit(model, { dynamic: { '0': ['B', 'T', null] } });
  const path = join(dir, 'model.onnx');
  const info = await f.export(path, [zeros([1, 2, 4])]);
  assert.equal(info.dataPath, undefined);
  const x = randn([2, 6, 4], { seed: 3 });
  const ours = await f(x);
  const s = await ort.InferenceSession.create(path, { intraOpNumThreads: 1 });
  const res = await s.run({ [info.inputs[0]!.name]: new ort.Tensor('float32', x.value as Float32Array, [2, 6, 4]) });
  assert.deepEqual(info.outputs.map((o) => o.path), ['probs', 'pooled']);
  assert.deepEqual([...(res[info.outputs[0]!.name]!.data as Float32Array)], await ours.probs.toArray());
  assert.deepEqual([...res[info.outputs[1]!.name]!.dims], [2, 3]);
  await s.release();
});

test('inputNames / outputNames: the exported file carries the given names, and the jitted call still runs', async () => {
  const f = jit(model, { dynamic: { '0': ['B', 'T', null] }, inputNames: { '0': 'pixel_values' }, outputNames: { probs: 'probs', pooled: 'pooled_output' } });
  const path = join(dir, 'named.onnx');
  const info = await f.export(path, [zeros([1, 2, 4])]);
  assert.deepEqual(info.inputs.map((i) => i.name), ['pixel_values']);
  assert.deepEqual(info.outputs.map((o) => o.name), ['probs', 'pooled_output']);
  const s = await ort.InferenceSession.create(path, { intraOpNumThreads: 1 });
  assert.deepEqual([...s.inputNames], ['pixel_values']);
  assert.deepEqual([...s.outputNames], ['probs', 'pooled_output']);
  const x = randn([2, 3, 4], { seed: 5 });
  const res = await s.run({ pixel_values: new ort.Tensor('float32', x.value as Float32Array, [2, 3, 4]) });
  assert.deepEqual([...(res.pooled_output!.data as Float32Array)], await (await f(x)).pooled.toArray());
  await s.release();
  // A single-tensor output has the path ''; unknown paths, internal-looking names and clashes are errors.
  const g = jit((x: Tensor) => sum(x, -1), { inputNames: { '0': 'x' }, outputNames: { '': 'total' } });
  assert.match(g.dumpOnnx(zeros([2, 3])), /^input x : float32\[2,3\]$/m);
  assert.match(g.dumpOnnx(zeros([2, 3])), /^output total : float32\[2\]$/m);
  assert.throws(() => jit((x: Tensor) => x, { inputNames: { '1': 'y' } }).dumpOnnx(zeros([1])), /inputNames names input path '1', but the inputs are at '0'/);
  assert.throws(() => jit((x: Tensor) => x, { inputNames: { '0': 'v3' } }).dumpOnnx(zeros([1])), /input name 'v3' \(path '0'\) must be an identifier other than/);
  assert.throws(() => jit((x: Tensor) => sum(x, -1), { inputNames: { '0': 'x' }, outputNames: { '': 'x' } }).dumpOnnx(zeros([1, 2])), /the name 'x' is given to two graph inputs\/outputs/);
});

test('external data: big initializers go to <file>.data and still load and run', async () => {
  const big = randn([64, 64], { seed: 5 });
  const head = randn([64, 2], { seed: 8 });
  const net = (x: Tensor) => sigmoid(matmul(matmul(x, big), head));
  const f = jit(net, {
    externalDataThreshold: 1000, // small so the external path is exercised
  });
  const x = randn([2, 64], { seed: 6 });
  const path = join(dir, 'ext.onnx');
  const info = await f.export(path, [x], { externalDataThreshold: 1000, minExternalBytes: 256 });
  assert.equal(info.dataPath, `${path}.data`);
  assert.ok(existsSync(info.dataPath!));
  assert.ok(statSync(path).size < 64 * 64 * 4, 'weights are not inside the model file');
  assert.ok(statSync(info.dataPath!).size >= 64 * 64 * 4);
  const ours = await f(x); // the jit session itself is created from a temp file with external data
  const s = await ort.InferenceSession.create(path, { intraOpNumThreads: 1 });
  const res = await s.run({ [info.inputs[0]!.name]: new ort.Tensor('float32', x.value as Float32Array, [2, 64]) });
  const got = [...(res[info.outputs[0]!.name]!.data as Float32Array)];
  assert.deepEqual(got, await ours.toArray());
  // and the numbers are right: compare with eager
  const eager = await net(x).toArray();
  got.forEach((v, i) => assert.ok(Math.abs(v - eager[i]!) <= 1e-4 * Math.max(1, Math.abs(eager[i]!))));
  await s.release();
});

test('WorkerRuntime runs an exported model off the main thread', async () => {
  // 80 chained 256x256 products (~2.7 GFLOP, tens of ms): timers must fire before it finishes.
  const ws = Array.from({ length: 80 }, (_, i) => randn([256, 256], { seed: 50 + i, std: 1 / 16 }));
  const heavy = jit((x: Tensor) => ws.reduce((h, wi) => matmul(h, wi), x));
  const heavyPath = join(dir, 'heavy.onnx');
  const hi = await heavy.export(heavyPath, [zeros([256, 256])]);
  const f = jit(model, { dynamic: { '0': ['B', 'T', null] } });
  const path = join(dir, 'worker.onnx');
  const info = await f.export(path, [zeros([1, 1, 4])]);
  const x = randn([2, 3, 4], { seed: 9 });
  const ours = await f(x);
  const wr = await WorkerRuntime.create(path, { threads: 1 });
  try {
    const out = await wr.run({ [info.inputs[0]!.name]: { dtype: 'float32', dims: [2, 3, 4], data: x.value as Float32Array } });
    assert.deepEqual([...(out[info.outputs[1]!.name]!.data as Float32Array)], await ours.pooled.toArray());
    assert.deepEqual(out[info.outputs[1]!.name]!.dims, [2, 3]);
    await assert.rejects(wr.run({ nope: { dtype: 'float32', dims: [1], data: new Float32Array(1) } }), /worker run of .* failed/);
  } finally {
    await wr.close();
  }
  const hw = await WorkerRuntime.create(heavyPath, { threads: 1 });
  try {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    let done = false;
    const run = hw.run({ [hi.inputs[0]!.name]: { dtype: 'float32', dims: [256, 256], data: randn([256, 256], { seed: 1 }).value as Float32Array } });
    void run.then(() => (done = true));
    await new Promise((r) => setTimeout(r, 5));
    const seenWhileRunning = ticks > 0 && !done;
    const out = await run;
    clearInterval(timer);
    assert.ok(seenWhileRunning, 'timers fired while the worker was still computing');
    assert.deepEqual(out[hi.outputs[0]!.name]!.dims, [256, 256]);
  } finally {
    await hw.close();
  }
});

test('trace-time errors name the op and the shapes', () => {
  assert.throws(() => matmul(zeros([2, 3, 4]), zeros([5, 6])), { message: '[matmul] lhs [2,3,4] and rhs [5,6] are incompatible' });
  assert.throws(() => add(zeros([2, 3]), zeros([4])), { message: '[add] shapes [2,3] and [4] are not broadcastable (axis 1: 3 vs 4)' });
  assert.throws(() => add(zeros([2]), zeros([2], 'int64')), /\[add\] dtype mismatch: float32\[2\] and int64\[2\]/);
  assert.throws(() => reshape(zeros([2, 3]), [4, -1]), /\[reshape\] cannot reshape \[2,3\] to \[4,-1\]/);
  assert.throws(() => add(placeholder('x', ['B', 3], 'float32'), placeholder('y', ['T', 3], 'float32')), /axis 0: B vs T/);
});

test('dumpGraph prints one node a line', () => {
  const x = placeholder('x', ['B', 2], 'float32');
  const y = sum(mul2(x), -1);
  assert.equal(
    dumpGraph(y),
    ["%0 = input 'x' : float32[B,2]", '%1 = constant [1, 2] : float32[2]', '%2 = mul(%0, %1) : float32[B,2]', '%3 = reduceSum(%2) axes=[1] : float32[B]', 'return %3'].join('\n'),
  );
});

function mul2(x: Tensor): Tensor {
  return x.mul(tensor([1, 2]));
}

test('static (non-tensor) arguments are part of the signature; bad specs are rejected', async () => {
  const f = jit((x: Tensor, opts: { scale: number }) => ({ y: x.mul(opts.scale), tag: 'kept' }));
  const a = await f(tensor([1, 2]), { scale: 3 });
  const b = await f(tensor([1, 2]), { scale: 4 });
  assert.deepEqual(await a.y.toArray(), [3, 6]);
  assert.deepEqual(await b.y.toArray(), [4, 8]);
  assert.equal(a.tag, 'kept');
  assert.equal(f.sessionCount, 2);
  const g = jit((x: Tensor) => x, { dynamic: { '1': ['B'] } });
  await assert.rejects(g(tensor([1])), /dynamic spec names argument path '1', but the tensor arguments are at '0'/);
  const h = jit(async (x: Tensor) => x);
  await assert.rejects(h(tensor([1])), /must be synchronous/);
});

test('WorkerRuntime.fromJit runs a jitted function in a worker with the same results', async () => {
  const f = jit(model, { dynamic: { '0': ['B', 'T', null] } });
  const x = randn([1, 4, 4], { seed: 11 });
  const { runtime, info } = await WorkerRuntime.fromJit(f, [x], { threads: 1 });
  try {
    const out = await runtime.run({ [info.inputs[0]!.name]: { dtype: 'float32', dims: [1, 4, 4], data: x.value as Float32Array } });
    assert.deepEqual([...(out[info.outputs[0]!.name]!.data as Float32Array)], await (await f(x)).probs.toArray());
  } finally {
    await runtime.close();
  }
  assert.ok(!existsSync(info.modelPath), 'the temporary export is removed on close');
});

test('limits of symbolic shapes are reported at trace time', () => {
  const x = placeholder('x', ['B', 'T'], 'float32');
  const y = placeholder('y', ['B', 'S'], 'float32');
  assert.throws(() => grad((a: Tensor) => sum(concat([a, y], 1)))(x), /\[concat\] gradient of a concat along symbolic axis 1/);
  assert.throws(() => grad((a: Tensor) => sum(slice(a, [null, [0, undefined, 2]])))(x), /\[slice\] gradient of a strided slice \(step 2\) along symbolic axis 1/);
  assert.throws(() => split(x, 2, 1), /\[split\] axis 1 of \[B,T\] is symbolic/);
  assert.throws(() => arange('T', { start: 1 }), /\[arange\] symbolic end 'T' needs start 0 and step 1/);
});

test('identity outputs, repeated outputs and scalar outputs', async () => {
  const f = jit((x: Tensor) => [x, x, sum(x)]);
  const [a, b, c] = await f(tensor([1, 2]));
  assert.deepEqual(await a!.toArray(), [1, 2]);
  assert.deepEqual(await b!.toArray(), [1, 2]);
  assert.deepEqual(c!.shape, []);
  assert.equal(await c!.item(), 3);
});
