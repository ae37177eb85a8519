// LoRA linear layers: value and gradients against plain loops over the defining formulas
// y = x Wᵀ + b + s·(x Aᵀ) Bᵀ,  dA = s·(g B)ᵀ x,  dB = s·gᵀ (x Aᵀ),  dx = g W + s·(g B) A.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Tensor } from '../tensor/index.ts';
import { configureRuntime, jit, mul, randn, sum, vjp } from '../tensor/index.ts';
import { linear } from './index.ts';
import type { LinearParams } from './index.ts';

configureRuntime({ threads: 1 });

/** Row-major [n, m] @ [m, p]ᵀ-style helpers over flat arrays. */
const at = (a: number[], cols: number, i: number, j: number): number => a[i * cols + j]!;

function close(actual: readonly number[], expected: readonly number[], what: string, tol = 1e-4): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const scale = Math.max(...expected.map(Math.abs), 1e-6);
  actual.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) <= tol * scale, `${what}[${i}]: ${v} vs ${expected[i]}`));
}

test('LoRA linear: output and gradients of x, A, B (and the frozen W) equal the formulas', async () => {
  const [rows, inn, out, r, s] = [6, 5, 4, 3, 2.5]; // x [2, 3, 5] flattened to 6 rows
  const x = randn([2, 3, inn], { seed: 1 });
  const p: LinearParams = {
    weight: randn([out, inn], { seed: 2 }),
    bias: randn([out], { seed: 3 }),
    lora_A: { weight: randn([r, inn], { seed: 4 }) },
    lora_B: { weight: randn([out, r], { seed: 5 }) },
    lora_scaling: s,
  };
  const c = randn([2, 3, out], { seed: 6 }); // cotangent
  const step = jit((pp: LinearParams, xx: Tensor) => {
    const { out: y, vjp: pull } = vjp((q: LinearParams, z: Tensor) => linear(q, z, 'q_proj'), pp, xx);
    const [gp, gx] = pull(c) as [LinearParams, Tensor];
    return { y, gx, gw: gp.weight, ga: gp.lora_A!.weight, gb: gp.lora_B!.weight, loss: sum(mul(y, c)) };
  });
  const res = await step(p, x);
  const [X, W, b, A, B, G] = await Promise.all([x, p.weight, p.bias!, p.lora_A!.weight, p.lora_B!.weight, c].map((t) => t.toArray() as Promise<number[]>));
  const xa: number[] = []; // x Aᵀ [rows, r]
  for (let i = 0; i < rows; i++) for (let k = 0; k < r; k++) {
    let v = 0;
    for (let j = 0; j < inn; j++) v += at(X!, inn, i, j) * at(A!, inn, k, j);
    xa.push(v);
  }
  const gB: number[] = []; // g B [rows, r]
  for (let i = 0; i < rows; i++) for (let k = 0; k < r; k++) {
    let v = 0;
    for (let o = 0; o < out; o++) v += at(G!, out, i, o) * at(B!, r, o, k);
    gB.push(v);
  }
  const y: number[] = [];
  for (let i = 0; i < rows; i++) for (let o = 0; o < out; o++) {
    let v = b![o]!;
    for (let j = 0; j < inn; j++) v += at(X!, inn, i, j) * at(W!, inn, o, j);
    for (let k = 0; k < r; k++) v += s * at(xa, r, i, k) * at(B!, r, o, k);
    y.push(v);
  }
  const gx: number[] = [];
  for (let i = 0; i < rows; i++) for (let j = 0; j < inn; j++) {
    let v = 0;
    for (let o = 0; o < out; o++) v += at(G!, out, i, o) * at(W!, inn, o, j);
    for (let k = 0; k < r; k++) v += s * at(gB, r, i, k) * at(A!, inn, k, j);
    gx.push(v);
  }
  const gw: number[] = [];
  for (let o = 0; o < out; o++) for (let j = 0; j < inn; j++) {
    let v = 0;
    for (let i = 0; i < rows; i++) v += at(G!, out, i, o) * at(X!, inn, i, j);
    gw.push(v);
  }
  const ga: number[] = [];
  for (let k = 0; k < r; k++) for (let j = 0; j < inn; j++) {
    let v = 0;
    for (let i = 0; i < rows; i++) v += s * at(gB, r, i, k) * at(X!, inn, i, j);
    ga.push(v);
  }
  const gb: number[] = [];
  for (let o = 0; o < out; o++) for (let k = 0; k < r; k++) {
    let v = 0;
    for (let i = 0; i < rows; i++) v += s * at(G!, out, i, o) * at(xa, r, i, k);
    gb.push(v);
  }
  close(await res.y.toArray(), y, 'y');
  close(await res.gx.toArray(), gx, 'dx');
  close(await res.gw.toArray(), gw, 'dW');
  close(await res.ga.toArray(), ga, 'dA');
  close(await res.gb.toArray(), gb, 'dB');
  assert.deepEqual(res.ga.shape, [r, inn]);
  assert.deepEqual(res.gb.shape, [out, r]);
  // Sensitivity: without the adapter the output differs by s·(x Aᵀ)Bᵀ, which is not small here.
  const plain = await jit((pp: LinearParams, xx: Tensor) => linear({ weight: pp.weight, bias: pp.bias }, xx))(p, x);
  const diff = (await plain.toArray()).map((v, i) => Math.abs(v - y[i]!));
  assert.ok(Math.max(...diff) > 0.1, 'the adapter term must change the output');
});

test('LoRA linear: incomplete adapters and mis-shaped A/B are named errors', () => {
  const x = randn([2, 5], { seed: 1 });
  const base = { weight: randn([4, 5], { seed: 2 }) };
  const A = { weight: randn([3, 5], { seed: 3 }) };
  const B = { weight: randn([4, 3], { seed: 4 }) };
  assert.throws(() => linear({ ...base, lora_A: A, lora_scaling: 2 }, x, 'k_proj'), /k_proj: a LoRA adapter needs lora_A\.weight, lora_B\.weight and a finite lora_scaling/);
  assert.throws(() => linear({ ...base, lora_A: A, lora_B: B }, x, 'k_proj'), /finite lora_scaling/);
  assert.throws(
    () => linear({ ...base, lora_A: { weight: randn([3, 6], { seed: 5 }) }, lora_B: B, lora_scaling: 2 }, x, 'v_proj'),
    /v_proj: LoRA shapes do not fit weight \[4,5\]: lora_A\.weight \[3,6\] \(expected \[r,5\]\)/,
  );
  assert.throws(() => linear({ ...base, lora_A: A, lora_B: { weight: randn([4, 2], { seed: 6 }) }, lora_scaling: 2 }, x, 'o_proj'), /o_proj: LoRA shapes/);
});
