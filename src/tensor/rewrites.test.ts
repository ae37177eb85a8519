// Speed rewrites that must not change results: softmax as one ONNX Softmax kernel with a closed-form
// gradient, permute-of-permute folding, and the linear-layer weight gradient produced directly in
// the weight's [out, in] layout. Expected values are computed here in float64 JS from the formulas.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Tensor, configureRuntime, dumpGraph, fromArray, grad, jit, matmul, mul, permute, randn, softmax, softmaxComposed, sum,
  tensor, transpose, where, full,
} from './index.ts';
import { assertClose } from './fixtures.test-helper.ts';

configureRuntime({ threads: 1 });

/** float64 softmax of each row of a [rows, n] array. */
function softmaxRows(x: number[], n: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < x.length / n; r++) {
    const row = x.slice(r * n, (r + 1) * n);
    const m = Math.max(...row);
    const e = row.map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    out.push(...e.map((v) => v / s));
  }
  return out;
}

test('softmax is one ONNX Softmax kernel and matches the float64 formula', async () => {
  const f = jit((x: Tensor) => softmax(x, -1));
  const x = randn([3, 5], { seed: 7, std: 3 });
  const onnx = f.dumpOnnx(x);
  assert.match(onnx, /= Softmax\(in0_0\) \{axis=1\}/);
  assert.doesNotMatch(onnx, /ReduceMax|Exp\(/);
  const xs = await x.toArray();
  const got = await (await f(x)).toArray();
  const want = softmaxRows(xs, 5);
  got.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 1e-6, `softmax[${i}] = ${v}, expected ${want[i]}`));
  // softmax([1, 2, 3]) = e^k / (e + e² + e³)
  assert.ok(Math.abs((await softmax(tensor([1, 2, 3])).toArray())[2]! - 0.6652409557748219) < 1e-6);
});

test('softmax gradient is p·(g − Σ g·p), over a middle axis too', async () => {
  const x = randn([2, 4, 3], { seed: 8 });
  const c = randn([2, 4, 3], { seed: 9 });
  const g = grad((t: Tensor) => sum(mul(softmax(t, 1), c)))(x) as Tensor;
  const xs = await x.toArray();
  const cs = await c.toArray();
  const want = new Array<number>(24).fill(0);
  for (let b = 0; b < 2; b++) {
    for (let k = 0; k < 3; k++) {
      const idx = [0, 1, 2, 3].map((i) => b * 12 + i * 3 + k);
      const p = softmaxRows(idx.map((i) => xs[i]!), 4);
      const dot = idx.reduce((s, i, j) => s + p[j]! * cs[i]!, 0);
      idx.forEach((i, j) => (want[i] = p[j]! * (cs[i]! - dot)));
    }
  }
  const got = await g.toArray();
  got.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 1e-6, `grad[${i}] = ${v}, expected ${want[i]}`));
});

test('softmax second derivative equals that of the composition', async () => {
  const x = randn([2, 6], { seed: 10 });
  const c = randn([2, 6], { seed: 11 });
  const d2 = (sm: (t: Tensor) => Tensor) =>
    grad((t: Tensor) => sum(mul(grad((u: Tensor) => sum(mul(sm(u), c)))(t) as Tensor, c)))(x) as Tensor;
  await assertClose(d2((t) => softmax(t, -1)), d2((t) => softmaxComposed(t, -1)), 'softmax hessian-vector', 1e-5, 1e-6);
});

test('a fully masked softmax row (most negative float32 scores) is uniform with finite gradients', async () => {
  const scores = tensor([[1, 2, 3, 4], [5, 6, 7, 8]]);
  const keep = fromArray(new Uint8Array([1, 1, 0, 1, 0, 0, 0, 0]), [2, 4], 'bool');
  const masked = (s: Tensor) => where(keep, s, full([2, 4], -3.4028234663852886e38));
  const p = await softmax(masked(scores), -1).toArray();
  const row0 = softmaxRows([1, 2, 4], 3);
  assertCloseArr(p, [row0[0]!, row0[1]!, 0, row0[2]!, 0.25, 0.25, 0.25, 0.25]);
  const g = await (grad((s: Tensor) => sum(mul(softmax(masked(s), -1), tensor([[1, 0, 0, 0], [1, 0, 0, 0]]))))(scores) as Tensor).toArray();
  assert.ok(g.every(Number.isFinite), `gradient has non-finite values: ${g}`);
  assert.deepEqual(g.slice(4), [0, 0, 0, 0]); // masked entries get no gradient through where
});

function assertCloseArr(got: number[], want: number[], tol = 1e-6): void {
  assert.equal(got.length, want.length);
  got.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < tol, `[${i}] = ${v}, expected ${want[i]}`));
}

test('permute of a permute folds into one node (identity folds away)', async () => {
  const x = tensor([[[0, 1], [2, 3], [4, 5]]]); // [1, 3, 2]
  const y = permute(permute(x, [2, 0, 1]), [1, 2, 0]); // p1∘p2 = identity
  assert.equal(y, x);
  const z = permute(permute(x, [2, 0, 1]), [0, 2, 1]); // axes (2, 1, 0): [2, 3, 1]
  assert.equal(z.inputs[0], x);
  assert.deepEqual(z.shape, [2, 3, 1]);
  // z[i][j][0] = x[0][j][i]
  assert.deepEqual(await z.toArray(), [0, 2, 4, 1, 3, 5]);
});

/** dW[o][i] = Σ_r c[r][o] · x[r][i] over the flattened rows. */
function weightGrad(xs: readonly number[], cs: readonly number[], out: number, inn: number): number[] {
  const rows = xs.length / inn;
  const want: number[] = [];
  for (let o = 0; o < out; o++) for (let i = 0; i < inn; i++) {
    let s = 0;
    for (let r = 0; r < rows; r++) s += cs[r * out + o]! * xs[r * inn + i]!;
    want.push(s);
  }
  return want;
}

test('linear weight gradient: one plain MatMul over B·T whose operands ORT cannot fuse into transA', async () => {
  // [out, in] = [5, 4] (x narrower: the product gives [in, out] and one Transpose flips it) and
  // [3, 8] (the cotangent narrower: the product is dW itself), for rank-3 and rank-2 inputs.
  for (const [out, inn, xShape] of [[5, 4, [2, 3, 4]], [3, 8, [2, 3, 8]], [5, 4, [6, 4]], [3, 8, [6, 8]]] as const) {
    const x = randn([...xShape], { seed: 12 });
    const w = randn([out, inn], { seed: 13 });
    const c = randn([...xShape.slice(0, -1), out], { seed: 14 });
    const f = jit((ww: Tensor, xx: Tensor) => grad((v: Tensor) => sum(mul(matmul(xx, transpose(v)), c)))(ww) as Tensor);
    const lines = f.dumpOnnx(w, x).split('\n');
    const producer = (v: string): string => lines.find((l) => l.startsWith(`${v} = `)) ?? `${v} (graph input)`;
    const src = /Identity\((\w+)\)/.exec(lines.find((l) => l.startsWith('out0'))!)![1]!;
    const product = out < inn ? producer(src) : producer(/Transpose\((\w+)\)/.exec(producer(src))![1]!);
    const what = `[${out}, ${inn}] from x [${xShape.join(', ')}]`;
    assert.match(product, /= MatMul\(/, `${what}: the weight gradient should come from a MatMul, got ${product}`);
    for (const operand of /MatMul\((\w+), (\w+)\)/.exec(product)!.slice(1)) {
      assert.doesNotMatch(producer(operand!), /= Transpose\(/, `${what}: a MatMul operand straight from a Transpose becomes transA`);
    }
    assert.equal(lines.filter((l) => / = MatMul\(/.test(l)).length, 1, `${what}: one product`);
    assertCloseArr(await (await f(w, x)).toArray(), weightGrad(await x.toArray(), await c.toArray(), out, inn), 1e-5);
  }
});
