// attention's fused kernels (com.microsoft MultiHeadAttention, opset-23 Attention) against the
// composition they stand for, on the masks the models use: causal GQA with left- and
// right-padded rows, block-diagonal segments (the vision tower's cu_seqlens), a sliding window
// (Mistral, Phi-3), and unmasked attention (the CLIP towers). float32, max|Δ| ≤ 1e-5.
// Fully masked rows (pad queries before a left-padded row's first token) are the one place the
// two differ by design: the composition averages every value there, ORT's kernel writes zeros;
// no later real token reads them (they stay masked as keys), which the model tests confirm.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Tensor } from '../tensor/index.ts';
import { arange, configureRuntime, fromArray, jit, lessEqual, logicalAnd, randn, sub, sum, unsqueeze, valueAndGrad } from '../tensor/index.ts';
import { attention, causalMask, paddingMask, segmentMask, withAttentionKernel, type AttentionOptions } from './attention.ts';

configureRuntime({ threads: 1 });

const TOL = 1e-5;

/** Both kernels jitted over the same inputs; returns [composed, fused] outputs and the fused graph's ONNX text. */
async function both(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions): Promise<{ a: Float32Array; b: Float32Array; onnx: string }> {
  const f = (kernel: 'fused' | 'composed') => jit((q: Tensor, k: Tensor, v: Tensor) => attention(q, k, v, { ...opts, kernel }));
  const fused = f('fused');
  const a = (await (await f('composed')(q, k, v)).data()) as Float32Array;
  const b = (await (await fused(q, k, v)).data()) as Float32Array;
  return { a, b, onnx: fused.dumpOnnx(q, k, v) };
}

/** max|Δ| over the query rows `keep(batch, query)` selects ([B, H, T, D] outputs). */
function maxDiff(a: Float32Array, b: Float32Array, [B, H, T, D]: number[], keep: (b: number, t: number) => boolean = () => true): number {
  let m = 0;
  for (let bb = 0; bb < B!; bb++) for (let h = 0; h < H!; h++) for (let t = 0; t < T!; t++) {
    if (!keep(bb, t)) continue;
    for (let d = 0; d < D!; d++) {
      const i = ((bb * H! + h) * T! + t) * D! + d;
      m = Math.max(m, Math.abs(a[i]! - b[i]!));
    }
  }
  return m;
}

function qkv(b: number, h: number, hkv: number, t: number, d: number, seed: number): [Tensor, Tensor, Tensor] {
  return [randn([b, h, t, d], { seed }), randn([b, hkv, t, d], { seed: seed + 1 }), randn([b, hkv, t, d], { seed: seed + 2 })];
}

/** HF attention_mask [B, T] with `pads[b]` pad tokens on the left (or right). */
function hfMask(t: number, pads: number[], side: 'left' | 'right'): Tensor {
  const m = new BigInt64Array(pads.length * t).fill(1n);
  pads.forEach((p, b) => { for (let j = 0; j < p; j++) m[b * t + (side === 'left' ? j : t - 1 - j)] = 0n; });
  return fromArray(m, [pads.length, t], 'int64');
}

test('fused attention: causal GQA (6 query heads on 2 KV heads) with left padding equals the composition on every attended row', async () => {
  const [q, k, v] = qkv(3, 6, 2, 11, 16, 1);
  const pads = [0, 4, 10];
  const r = await both(q, k, v, { causal: true, mask: paddingMask(hfMask(11, pads, 'left')) });
  assert.ok(r.onnx.includes('Attention') && !r.onnx.includes('Softmax'), 'the fused graph runs the Attention kernel');
  assert.ok(maxDiff(r.a, r.b, [3, 6, 11, 16], (b, t) => t >= pads[b]!) <= TOL);
  // Pad queries before the first real token: zeros from ORT (finite), the average of V from the composition.
  assert.ok(r.b.every(Number.isFinite));
  assert.ok(maxDiff(r.a, r.b, [3, 6, 11, 16], (b, t) => t < pads[b]!) > 0.01, 'the fully masked rows differ (documented)');
});

test('fused attention: causal GQA with right padding equals the composition on all rows (no row is fully masked)', async () => {
  const [q, k, v] = qkv(2, 4, 1, 9, 8, 7);
  const r = await both(q, k, v, { causal: true, mask: paddingMask(hfMask(9, [3, 0], 'right')) });
  assert.ok(maxDiff(r.a, r.b, [2, 4, 9, 8]) <= TOL);
});

test('fused attention: block-diagonal segments (cu_seqlens [0, 5, 12, 16]) equal the composition', async () => {
  const [q, k, v] = qkv(1, 4, 4, 16, 8, 11);
  const r = await both(q, k, v, { mask: segmentMask([0, 5, 12, 16]) });
  assert.ok(maxDiff(r.a, r.b, [1, 4, 16, 8]) <= TOL);
});

test('fused attention: a sliding window of 3 with causal padding masks equals the composition', async () => {
  const [q, k, v] = qkv(2, 4, 2, 10, 8, 21);
  const idx = arange(10);
  const near = lessEqual(sub(unsqueeze(idx, 1), unsqueeze(idx, 0)), 3); // i − j ≤ 3
  const mask = logicalAnd(paddingMask(hfMask(10, [0, 2], 'right')), near);
  const r = await both(q, k, v, { causal: true, mask });
  assert.ok(maxDiff(r.a, r.b, [2, 4, 10, 8]) <= TOL);
  // The window really cuts: without it the outputs are different.
  const wide = await both(q, k, v, { causal: true, mask: paddingMask(hfMask(10, [0, 2], 'right')) });
  assert.ok(maxDiff(r.a, wide.a, [2, 4, 10, 8]) > 0.01);
});

test('fused attention: unmasked attention runs MultiHeadAttention and equals the composition (scale too)', async () => {
  const [q, k, v] = qkv(2, 4, 4, 13, 16, 31);
  const r = await both(q, k, v, { scale: 0.3 });
  assert.ok(r.onnx.includes('MultiHeadAttention'));
  assert.ok(maxDiff(r.a, r.b, [2, 4, 13, 16]) <= TOL);
});

test('fused attention: an explicit causal mask equals causal: true, and a GQA without mask uses Attention', async () => {
  const [q, k, v] = qkv(1, 4, 2, 7, 8, 41);
  const r = await both(q, k, v, { mask: causalMask(7) });
  const c = await both(q, k, v, { causal: true });
  assert.ok(maxDiff(r.b, c.b, [1, 4, 7, 8]) <= TOL);
  const g = await both(q, k, v, {});
  assert.ok(!g.onnx.includes('MultiHeadAttention') && g.onnx.includes('Attention'));
  assert.ok(maxDiff(g.a, g.b, [1, 4, 7, 8]) <= TOL);
});

test('fused attention differentiates through its composition: same value and gradients', async () => {
  const [q, k, v] = qkv(2, 4, 2, 6, 8, 51);
  const mask = paddingMask(hfMask(6, [0, 2], 'right'));
  const loss = (kernel: 'fused' | 'composed') => valueAndGrad((q: Tensor, k: Tensor, v: Tensor) => sum(attention(q, k, v, { causal: true, mask, kernel })), { argnums: [0, 1, 2] });
  const [va, ga] = loss('composed')(q, k, v);
  const [vb, gb] = loss('fused')(q, k, v);
  assert.ok(Math.abs((await (va as Tensor).item()) - (await (vb as Tensor).item())) <= 1e-4);
  for (let i = 0; i < 3; i++) {
    const x = (await (ga as Tensor[])[i]!.data()) as Float32Array;
    const y = (await (gb as Tensor[])[i]!.data()) as Float32Array;
    assert.ok(x.every((e, j) => Math.abs(e - y[j]!) <= TOL), `gradient ${i}`);
  }
});

test('withAttentionKernel scopes the choice and restores it; a call can override it', async () => {
  const [q, k, v] = qkv(1, 2, 2, 4, 4, 61);
  const inScope = jit((q: Tensor, k: Tensor, v: Tensor) => withAttentionKernel('fused', () => attention(q, k, v)));
  assert.ok(inScope.dumpOnnx(q, k, v).includes('MultiHeadAttention'));
  const overridden = jit((q: Tensor, k: Tensor, v: Tensor) => withAttentionKernel('fused', () => attention(q, k, v, { kernel: 'composed' })));
  assert.ok(!overridden.dumpOnnx(q, k, v).includes('MultiHeadAttention'));
  const after = jit((q: Tensor, k: Tensor, v: Tensor) => attention(q, k, v));
  assert.ok(!after.dumpOnnx(q, k, v).includes('Attention'), 'composed outside the scope');
});
