// Eager runtime: dtypes through ORT, the eager session cache, realize batching and runtime errors.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  add, cast, clearSessionCache, configureRuntime, floatToHalf, halfToFloat, matmul, mul, placeholder, realize, runtimeStats, sum, tensor,
  fromArray, arange, full, zeros, where, less, pad, slice, jit,
} from './index.ts';
import type { Tensor } from './index.ts';
import { sessionOptions } from './runtime/session.ts';

configureRuntime({ threads: 1 });

test('IEEE half conversion (values from the IEEE 754 binary16 tables)', () => {
  assert.equal(floatToHalf(1), 0x3c00);
  assert.equal(floatToHalf(-2), 0xc000);
  assert.equal(floatToHalf(65504), 0x7bff);
  assert.equal(floatToHalf(1e6), 0x7c00); // overflow -> inf
  assert.equal(floatToHalf(2 ** -24), 0x0001); // smallest subnormal
  assert.equal(floatToHalf(1 + 2 ** -11), 0x3c00); // tie rounds to even
  assert.equal(floatToHalf(1 + 3 * 2 ** -11), 0x3c02);
  assert.equal(halfToFloat(0x3555), 0.333251953125);
  assert.ok(Number.isNaN(halfToFloat(0x7e00)));
});

test('float16, int32, int64, bool and float64 tensors round-trip through ORT', async () => {
  // ORT's CPU provider has few fp16 kernels: it computes Add in fp32 between inserted casts and
  // may fold the casts, so only exactly representable results are asserted here.
  const h = cast(add(cast(tensor([1.5, -2, 1000]), 'float16'), cast(tensor([0.25, 0.5, 0.5]), 'float16')), 'float32');
  assert.deepEqual(await h.toArray(), [1.75, -1.5, 1000.5]);
  assert.deepEqual(await cast(cast(tensor([1000.125]), 'float16'), 'float32').toArray(), [1000]); // a lone cast does round
  const f16 = tensor([1.5, -2], 'float16');
  assert.ok((await f16.data()) instanceof Uint16Array);
  assert.deepEqual(await cast(f16, 'float32').toArray(), [1.5, -2]);
  assert.deepEqual(await add(tensor([7, -3], 'int32'), 2).toArray(), [9, -1]);
  const i64 = await mul(arange(4), 3).data();
  assert.deepEqual([...(i64 as BigInt64Array)], [0n, 3n, 6n, 9n]);
  assert.deepEqual(await where(less(tensor([1, 5]), 3), tensor([10, 20]), -1).toArray(), [10, -1]);
  const d = await sum(tensor([0.1, 0.2], 'float64')).item();
  assert.equal(d, 0.1 + 0.2); // double precision end to end
  assert.deepEqual(await full([2], true, 'bool').toArray(), [1, 1]);
});

test('eager sessions are cached by graph signature, not by constant values', async () => {
  await clearSessionCache();
  const before = runtimeStats().sessionsCreated;
  const a = await matmul(fromArray([1, 2, 3, 4], [2, 2]), fromArray([1, 0, 0, 1], [2, 2])).toArray();
  const b = await matmul(fromArray([5, 6, 7, 8], [2, 2]), fromArray([0, 1, 1, 0], [2, 2])).toArray();
  assert.deepEqual(a, [1, 2, 3, 4]);
  assert.deepEqual(b, [6, 5, 8, 7]);
  assert.equal(runtimeStats().sessionsCreated - before, 1);
  await matmul(zeros([3, 2]), fromArray([0, 1, 1, 0], [2, 2])).data();
  assert.equal(runtimeStats().sessionsCreated - before, 2, 'a new shape is a new graph');
});

test('realize computes several tensors in one run and later ops reuse the values', async () => {
  const x = tensor([1, 2, 3]);
  const y = mul(x, 2);
  const z = add(y, 1);
  const runs = runtimeStats().runs;
  await realize({ y, z: [z] });
  assert.equal(runtimeStats().runs - runs, 1);
  assert.deepEqual(await y.toArray(), [2, 4, 6]);
  assert.deepEqual(await z.toArray(), [3, 5, 7]);
  assert.equal(runtimeStats().runs - runs, 1, 'reading realized values runs nothing');
});

test('runtime errors are Vlm2VecErrors naming what failed', async () => {
  const p = placeholder('x', ['B'], 'float32');
  await assert.rejects(add(p, 1).data(), /\[compile\] tensor depends on graph input 'x' \[B\]/);
  configureRuntime({ executionProviders: ['no-such-provider'] });
  try {
    await assert.rejects(add(tensor([1]), tensor([2])).mul(3).data(), /\[runtime\]/);
  } finally {
    configureRuntime({ executionProviders: ['cpu'] });
  }
});

test('graphs that differ only in a lowering constant do not share an eager session', async () => {
  // Same shapes, different pads / fill values / slice bounds: each must compute its own result.
  const x = tensor([[[1, 2]]]); // [1,1,2]
  const a = await pad(x, [[0, 0], [0, 0], [1, 2]]).toArray();
  const b = await pad(x, [[0, 0], [0, 0], [2, 1]]).toArray();
  assert.deepEqual(a, [0, 1, 2, 0, 0]);
  assert.deepEqual(b, [0, 0, 1, 2, 0]);
  assert.deepEqual(await full([2], 3).toArray(), [3, 3]);
  assert.deepEqual(await full([2], 4).toArray(), [4, 4]);
  const y = tensor([[1, 2, 3, 4, 5, 6]]);
  assert.deepEqual(await slice(y, [[0, 1], [0, 3]]).toArray(), [1, 2, 3]);
  assert.deepEqual(await slice(y, [[0, 1], [3, 6]]).toArray(), [4, 5, 6]);
});

test('session settings: the runtime arena switch and per-graph overrides reach ORT', async () => {
  configureRuntime({ cpuMemArena: false });
  try {
    assert.equal(sessionOptions().enableCpuMemArena, false);
  } finally {
    configureRuntime({ cpuMemArena: true });
  }
  assert.equal(sessionOptions().enableCpuMemArena, true);
  // Per-graph overrides are passed through to ORT: valid ones run, an invalid optimization level
  // fails the session build with the graph's name.
  const x = tensor([1, 2, 3]);
  const ok = jit((t: Tensor) => t.mul(2), { name: 'override_ok', session: { graphOptimizationLevel: 'extended', enableCpuMemArena: false } });
  assert.deepEqual(await (await ok(x)).toArray(), [2, 4, 6]);
  const bad = jit((t: Tensor) => t.mul(2), { name: 'override_bad', session: { graphOptimizationLevel: 'bogus' as 'all' } });
  await assert.rejects(bad(x), /jit override_bad/);
});
