// Fused ORT kernels: the fused op's output equals its composition, and gradients come from the
// composition. Kernels: ai.onnx RMSNormalization (opset 23) and com.microsoft QuickGelu.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Tensor, add, configureRuntime, dumpGraph, fusedOp, grad, jit, mean, mul, quickGelu, randn, rsqrt, sum,
} from './index.ts';
import { assertClose } from './fixtures.test-helper.ts';

configureRuntime({ threads: 1 });

const rmsComposed = (x: Tensor, w: Tensor) => mul(mul(x, rsqrt(add(mean(mul(x, x), -1, true), 1e-6))), w);
const rmsFused = (x: Tensor, w: Tensor) =>
  fusedOp({
    opType: 'RMSNormalization',
    attrs: { axis: { kind: 'int', value: -1 }, epsilon: { kind: 'float', value: 1e-6 } },
    inputs: [x, w],
    reference: rmsComposed,
  });
const qgFused = (x: Tensor) =>
  fusedOp({ opType: 'QuickGelu', domain: 'com.microsoft', attrs: { alpha: { kind: 'float', value: 1.702 } }, inputs: [x], reference: quickGelu });

test('fused RMSNormalization equals its composition, forward and gradient', async () => {
  const x = randn([2, 3, 8], { seed: 1 });
  const w = randn([8], { seed: 2 });
  const f = rmsFused(x, w);
  assert.match(dumpGraph(f), /= fused\(%\d+, %\d+\) RMSNormalization : float32\[2,3,8\]/);
  await assertClose(f, rmsComposed(x, w), 'rms forward', 1e-5, 1e-6);
  const c = randn([2, 3, 8], { seed: 3 });
  const [gx, gw] = grad((a: Tensor, b: Tensor) => sum(mul(rmsFused(a, b), c)), { argnums: [0, 1] })(x, w) as Tensor[];
  const [hx, hw] = grad((a: Tensor, b: Tensor) => sum(mul(rmsComposed(a, b), c)), { argnums: [0, 1] })(x, w) as Tensor[];
  await assertClose(gx!, hx!, 'rms grad x', 1e-6, 1e-7);
  await assertClose(gw!, hw!, 'rms grad w', 1e-6, 1e-7);
});

test('a com.microsoft contrib kernel is imported with its domain and exports cleanly', async () => {
  const f = jit((x: Tensor) => qgFused(x), { dynamic: { '0': ['N', null] } });
  const x = randn([5, 4], { seed: 4 });
  assert.match(f.dumpOnnx(x), /= com\.microsoft\.QuickGelu\(in0_0\) \{alpha=1\.702\}/);
  await assertClose(await f(x), quickGelu(x), 'quick gelu', 1e-5, 1e-6);
  const g = grad((t: Tensor) => sum(qgFused(t)))(x) as Tensor;
  await assertClose(g, grad((t: Tensor) => sum(quickGelu(t)))(x) as Tensor, 'quick gelu grad', 1e-6, 1e-7);
});
