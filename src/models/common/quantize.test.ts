// The weight quantizers (--dtype int8 | q4 | q4-128) and the quantized matmul kernels.
// - Quantizer vs tools/reference/quantize_weights.py (numpy): q, scales, zero points and the
//   dequantized matrix are byte-identical (SHA-256 of each array), on edge-case matrices and on
//   every linear weight of the float32 tiny model.
// - Kernels on ORT: the graph's `dequantize` equals the host dequantizer exactly; q4 at accuracy
//   level 1 (float32 compute) equals x·W'ᵀ with the dequantized W' up to summation order
//   (≤ 1e-5 relative to max|y|); int8 (each row of x quantized to uint8, MatMulInteger) equals an
//   exact integer emulation of that quantization (≤ 1e-5 relative) — against x·W'ᵀ it is
//   only as close as 8-bit activations allow (measured 0.75 % of max|y|, held to 3 %); q4 at level 4
//   (activations int8 per block) held to 2 %, and must differ from float (the int8 path really ran).
// - Differentiating through a quantized matmul is a typed error.
// - The quantized gather (token tables, nn/embedding): rows gathered from the packed form equal
//   gather(dequantize(table)) and the host dequantizer's rows bit for bit, for int8, q4 and q4-128
//   tables with odd widths and ragged last blocks, repeated ids shaped [B, T]; the graph holds no
//   dequantize of the whole table; no gradient.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SafetensorsFile } from '../../io/weights/safetensors.ts';
import { add, configureRuntime, dequantize, dumpGraph, fromArray, gather, grad, jit, matmul, quantGather, quantMatMul, randn, sum, transpose, type QuantAttrs, type Tensor } from '../../tensor/index.ts';
import { embedding } from '../../nn/linear.ts';
import { FP16_FIXTURE } from '../qwen2-vl/fixtures.test-helper.ts';
import { dequantizeMatrix, quantizedMatrixOf, quantizedTensor, quantizeInt8, quantizeQ4, quantizeRows, type QuantizedMatrix } from './quantize.ts';

configureRuntime({ threads: 1 });

const DIR = join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'quant');
type Summary = Record<string, { sha256: string; length: number; head: number[] }>;
interface Case { name: string; file?: string; tensor?: string; shape: [number, number]; int8: Summary; int8_rows?: Summary; q4_16: Summary; q4_32: Summary; q4_128: Summary }
const fixture = JSON.parse(readFileSync(join(DIR, 'cases.json'), 'utf8')) as { cases: Case[] };

const sha = (a: ArrayBufferView) => createHash('sha256').update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest('hex');

function f32File(path: string): Float32Array {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

function assertSame(what: string, q: QuantizedMatrix, want: Summary): void {
  const arrays: Record<string, ArrayBufferView & ArrayLike<number>> = { q: q.q, scales: q.scales, dequantized: dequantizeMatrix(q) };
  if (q.zeroPoints) arrays.zeroPoints = q.zeroPoints;
  assert.deepEqual(Object.keys(arrays).sort(), Object.keys(want).sort(), `${what}: arrays`);
  for (const [k, a] of Object.entries(arrays)) {
    const w = want[k]!;
    assert.equal(a.length, w.length, `${what} ${k}: length`);
    assert.deepEqual(Array.from(a).slice(0, 6), w.head, `${what} ${k}: first values`);
    assert.equal(sha(a), w.sha256, `${what} ${k}: bytes differ from the numpy reference`);
  }
}

test('quantizers equal the numpy reference byte for byte (edge cases and the tiny model\'s weights)', async () => {
  const st = await SafetensorsFile.open(join(FP16_FIXTURE, 'model.safetensors'));
  try {
    assert.ok(fixture.cases.length >= 20);
    let rowMajorCases = 0;
    for (const c of fixture.cases) {
      const [n, k] = c.shape;
      const w = c.file ? f32File(join(DIR, c.file)) : await st.readFloat32(c.tensor!);
      assert.equal(w.length, n * k, c.name);
      assertSame(`${c.name} int8`, quantizeInt8(w, n, k), c.int8);
      for (const bs of [16, 32, 128] as const) assertSame(`${c.name} q4/${bs}`, quantizeQ4(w, n, k, bs), c[`q4_${bs}`]);
      // The chunked form the loader uses for token tables (fresh copies, as widened from bf16).
      const reads: number[] = [];
      const read = (r0: number, r1: number) => (reads.push(r0), w.slice(r0 * k, r1 * k));
      assertSame(`${c.name} int8 by rows`, quantizeRows({ scheme: 'int8', blockSize: 0 }, read, n, k), c.int8);
      assertSame(`${c.name} q4/32 by rows`, quantizeRows({ scheme: 'q4', blockSize: 32 }, read, n, k), c.q4_32);
      if (n > 1024) assert.deepEqual(reads, [0, 1024, 0, 1024], `${c.name}: read in chunks of 1024 rows`);
      if (c.int8_rows) {
        // A token table's int8 q is kept row-major [N, K] (read by rows); same values and scales.
        assertSame(`${c.name} int8 row-major`, quantizeInt8(w, n, k, c.name, true), c.int8_rows);
        assertSame(`${c.name} int8 row-major by rows`, quantizeRows({ scheme: 'int8', blockSize: 0 }, read, n, k, c.name, true), c.int8_rows);
        rowMajorCases++;
      }
    }
    assert.equal(rowMajorCases, 1, 'the token table has a row-major int8 reference');
  } finally {
    await st.close();
  }
});

test('quantizers: ties round to even, the zero row and bad input', () => {
  // The 'edge' row 4 has max|w| = 127, so scale 1 and w itself is q: 2.5 → 2, -3.5 → -4, 0.5 → 0, 126.5 → 126.
  const w = new Float32Array([127, 2.5, -3.5, 0.5, -0.5, 1.5, 126.5, -127, 0, 0, 0, 0, 0, 0, 0, 0]);
  const q = quantizeInt8(w, 2, 8);
  assert.deepEqual(Array.from({ length: 8 }, (_, c) => q.q[c * 2]), [127, 2, -4, 0, 0, 2, 126, -127]);
  assert.deepEqual(Array.from(q.scales), [1, 1]);
  assert.deepEqual(Array.from(dequantizeMatrix(q).slice(8)), new Array(8).fill(0));
  assert.throws(() => quantizeInt8(new Float32Array([1, NaN]), 1, 2, 'model.x.weight'), /\[quantize\] model\.x\.weight: element 1 is NaN/);
  assert.throws(() => quantizeQ4(new Float32Array(64), 2, 32, 24), /block size must be a power of two ≥ 16, got 24/);
  assert.throws(() => quantizeInt8(new Float32Array(5), 2, 3, 'w'), /expected a \[2, 3\] float32 matrix, found 5 values/);
});

function maxAbs(a: Float32Array): number {
  let m = 0;
  for (const v of a) m = Math.max(m, Math.abs(v));
  return m;
}
function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
const rint = (v: number) => {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
};

/** The int8 matmul by hand: each row of x to uint8 (its own scale and zero point, range including 0), integer products, then both scales. */
function emulateInt8(x: Float32Array, m: number, q: QuantizedMatrix): Float32Array {
  const { n, k } = q;
  const y = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    const row = x.subarray(i * k, (i + 1) * k);
    let lo = 0;
    let hi = 0;
    for (const v of row) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    const s = Math.fround(Math.fround(hi - lo) / 255);
    const zp = Math.min(255, Math.max(0, rint(Math.fround(-lo / s))));
    const xq = row.map((v) => Math.min(255, Math.max(0, rint(Math.fround(v / s)) + zp)));
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let c = 0; c < k; c++) acc += (xq[c]! - zp) * q.q[c * n + j]!;
      y[i * n + j] = Math.fround(Math.fround(acc * s) * q.scales[j]!);
    }
  }
  return y;
}

test('quantized matmul kernels: int8 = exact emulation, q4 = float matmul of the dequantized weights', async () => {
  const [m, n, k] = [96, 160, 384];
  const w = (await randn([n, k], { seed: 3, std: 0.05 }).data()) as Float32Array;
  const xt = randn([m, k], { seed: 4 });
  const x = (await xt.data()) as Float32Array;
  // Traced, so the packed weights are initializers as in the model graphs: MatMulNBits only takes
  // its int8-compute path (accuracy level 4) for constant weights; fed as inputs it computes in float32.
  const run = async (w: Tensor) => (await (await jit((a: Tensor) => quantMatMul(a, w))(xt)).data()) as Float32Array;
  const floatOf = async (q: QuantizedMatrix) => (await matmul(xt, transpose(fromArray(dequantizeMatrix(q), [n, k]))).data()) as Float32Array;

  const q8 = quantizeInt8(w, n, k);
  const w8 = quantizedTensor(q8);
  assert.equal(maxDiff((await w8.data()) as Float32Array, dequantizeMatrix(q8)), 0, 'int8 graph dequantize');
  assert.equal(quantizedMatrixOf(w8).q, q8.q);
  const y8 = await run(w8);
  // The same matrix held row-major (as token tables are) multiplies identically.
  const r8 = quantizeInt8(w, n, k, 'w', true);
  assert.equal(maxDiff((await quantizedTensor(r8).data()) as Float32Array, dequantizeMatrix(q8)), 0, 'row-major int8 graph dequantize');
  assert.equal(quantizedMatrixOf(quantizedTensor(r8)).rowMajor, true);
  assert.deepEqual(await run(quantizedTensor(r8)), y8, 'row-major int8 matmul');
  const scale = maxAbs(y8);
  assert.ok(maxDiff(y8, emulateInt8(x, m, q8)) <= 1e-5 * scale, `int8 vs emulation: ${maxDiff(y8, emulateInt8(x, m, q8))}`);
  const d8 = maxDiff(y8, await floatOf(q8));
  assert.ok(d8 > 1e-4 * scale && d8 <= 0.03 * scale, `int8 vs float(dequantized): ${d8} of max|y| ${scale}`);

  for (const bs of [32, 128]) {
    const q4 = quantizeQ4(w, n, k, bs);
    assert.equal(maxDiff((await quantizedTensor(q4).data()) as Float32Array, dequantizeMatrix(q4)), 0, `q4/${bs} graph dequantize`);
    const ref = await floatOf(q4);
    const exact = await run(quantizedTensor(q4, 1));
    assert.ok(maxDiff(exact, ref) <= 1e-5 * scale, `q4/${bs} level 1: ${maxDiff(exact, ref)}`);
    const fast = await run(quantizedTensor(q4, 4));
    const d4 = maxDiff(fast, ref);
    assert.ok(d4 > 1e-4 * scale && d4 <= 0.02 * scale, `q4/${bs} level 4 (activations in int8): ${d4} of max|y| ${scale}`);
    // And the quantization itself moved the result: the weights really are 4-bit.
    const f32 = (await matmul(xt, transpose(fromArray(w, [n, k]))).data()) as Float32Array;
    assert.ok(maxDiff(exact, f32) > 1e-3 * scale, `q4/${bs}: no quantization error at all?`);
  }
});

test('quantized matmuls are inference-only: differentiating through one is a typed error', () => {
  const wq = quantizedTensor(quantizeInt8(new Float32Array(8 * 16).fill(0.5), 8, 16));
  const f = (x: ReturnType<typeof randn>) => sum(quantMatMul(x, wq));
  assert.throws(() => grad(f)(randn([2, 16], { seed: 1 })), /\[quantMatMul\] int8 \[8, 16\] weights are inference-only.*dtype 'float32'/);
  assert.throws(() => quantMatMul(randn([2, 15], { seed: 1 }), wq), /\[quantMatMul\] x must be float32 \[\.\.\., 16\], found float32\[2,15\]/);
});

test('int8 rows are quantized on their own: a row\'s result does not depend on the rest of the batch', async () => {
  const [n, k] = [24, 64];
  const wq = quantizedTensor(quantizeInt8((await randn([n, k], { seed: 5, std: 0.1 }).data()) as Float32Array, n, k));
  const a = (await randn([1, 3, k], { seed: 6 }).data()) as Float32Array;
  const big = (await randn([1, 2, k], { seed: 7, std: 50 }).data()) as Float32Array; // a much wider range
  const alone = (await quantMatMul(fromArray(a, [1, 3, k]), wq).data()) as Float32Array;
  const withOthers = (await quantMatMul(fromArray(Float32Array.from([...a, ...big]), [1, 5, k]), wq).data()) as Float32Array;
  assert.deepEqual(withOthers.subarray(0, 3 * n), alone);
});

test('quantized gather = gather(dequantize(table)) bit for bit: int8, q4, q4-128; odd widths, ragged blocks, repeated ids [B, T]', async () => {
  // Widths: 75 (q4/32: 32 + 32 + 11, three blocks so an odd zero-point count; q4/128: one ragged
  // block) and 24 (narrower than one block). The ids repeat and include the first and last rows.
  const ids = [[0, 5, 5, 38, 2, 0], [38, 17, 5, 1, 30, 38]];
  const idsT = fromArray(BigInt64Array.from(ids.flat(), BigInt), [2, 6], 'int64');
  for (const [n, k] of [[39, 75], [39, 24]] as const) {
    const w = (await randn([n, k], { seed: 11 + k, std: 0.2 }).data()) as Float32Array;
    const variants = [['int8', quantizeInt8(w, n, k)], ['int8 row-major', quantizeInt8(w, n, k, 'table', true)], ['q4/32', quantizeQ4(w, n, k, 32)], ['q4/128', quantizeQ4(w, n, k, 128)]] as const;
    for (const [name, q] of variants) {
      const what = `${name} [${n}, ${k}]`;
      const table = quantizedTensor(q);
      const host = dequantizeMatrix(q);
      const want = Float32Array.from(ids.flat().flatMap((r) => Array.from(host.subarray(r * k, (r + 1) * k))));
      const viaDequantize = (await gather(table, idsT, 0).data()) as Float32Array;
      assert.deepEqual(viaDequantize, want, `${what}: gather(dequantize) = host rows`);
      const g = embedding({ weight: table }, idsT);
      assert.equal(g.prim, 'quantGather', `${what}: embedding() gathers from the packed form`);
      assert.deepEqual(g.shape, [2, 6, k]);
      assert.doesNotMatch(dumpGraph(g), /dequantize/, `${what}: the whole table is never dequantized`);
      assert.deepEqual((await g.data()) as Float32Array, want, `${what}: eager quantGather`);
      // Traced with the packed table as initializers and the ids as a graph input (the row count
      // is a run-time dim), on two id shapes through one function.
      const f = jit((i: Tensor) => quantGather(table, i));
      assert.deepEqual((await (await f(idsT)).data()) as Float32Array, want, `${what}: jitted`);
      const one = fromArray(Int32Array.from([n - 1]), [1], 'int32');
      assert.deepEqual((await (await f(one)).data()) as Float32Array, host.slice((n - 1) * k), `${what}: int32 ids [1]`);
      // Any other use of the table still reads the dequantized matrix.
      assert.deepEqual((await add(table, 0).data()) as Float32Array, host, `${what}: other uses dequantize`);
    }
  }
});

test('quantized gather: no gradient (typed error), bad ids and tables are named', () => {
  const table = quantizedTensor(quantizeQ4(new Float32Array(40 * 24).fill(0.25), 40, 24, 32));
  const ids = fromArray(BigInt64Array.from([1n, 2n]), [2], 'int64');
  // The gather's only float inputs are the scales: differentiating through them is refused.
  const [q, scales, zp] = table.inputs as [Tensor, Tensor, Tensor];
  const viaScales = (s: Tensor) => sum(embedding({ weight: dequantize([q, s, zp], table.attrs as QuantAttrs) }, ids));
  assert.throws(() => grad(viaScales)(scales), /\[quantGather\] q4 \[40, 24\] embedding table is inference-only.*dtype 'float32'/);
  assert.throws(() => quantGather(table, fromArray(new Float32Array([1]), [1])), /\[quantGather\] ids must be int64\/int32, found float32\[1\]/);
  assert.throws(() => quantGather(fromArray(new Float32Array(4), [2, 2]), ids), /\[quantGather\] table must be a quantized weight/);
});
