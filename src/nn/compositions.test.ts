// Every composition of src/nn (and the core compositions it re-exports) against PyTorch:
// forward output and the vector-Jacobian product for a random cotangent, from
// test/fixtures/engine/blocks/compositions.* (tools/reference/engine_blocks.py).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Tensor } from '../tensor/index.ts';
import { configureRuntime, expand, realize, tensor, unsqueeze } from '../tensor/index.ts';
import { loadGolden } from './golden.test-helper.ts';
import { checkVjpCase, goldenTensor } from './golden-tensors.test-helper.ts';
import type { Tolerance } from './golden-tensors.test-helper.ts';
import {
  applyRope, attention, causalMask, crossEntropy, embedding, gelu, l2Normalize, layerNorm, linear, logSoftmax, paddingMask,
  quickGelu, rmsNorm, ropeInvFreq, segmentMask, silu, softmax, textRotary,
} from './index.ts';

configureRuntime({ threads: 1 });
const G = loadGolden('compositions');
// float32 against float32 PyTorch: relative 1e-4, plus an absolute slack of 1e-5 of the tensor's
// largest magnitude for elements near zero (cancellation makes their relative error meaningless).
const TOL: Tolerance = { rtol: 1e-4, atolScale: 1e-5 };

const unary: [string, (x: Tensor) => Tensor][] = [
  ['softmax', (x) => softmax(x, -1)],
  ['softmax_axis1', (x) => softmax(x, 1)],
  ['log_softmax', (x) => logSoftmax(x, -1)],
  ['gelu', gelu],
  ['quick_gelu', quickGelu],
  ['silu', silu],
  ['l2_normalize', (x) => l2Normalize(x, -1, 1e-12)],
];
for (const [name, fn] of unary) {
  test(`${name} forward and gradient match PyTorch`, async () => {
    await checkVjpCase(G.case(name), ['x'], fn, TOL);
  });
}

test('layer_norm forward and gradients (x, weight, bias) match PyTorch', async () => {
  await checkVjpCase(G.case('layer_norm'), ['x', 'weight', 'bias'], (x, weight, bias) => layerNorm({ weight: weight!, bias: bias! }, x!, 1e-6), TOL);
});

test('rms_norm forward and gradients (x, weight) match PyTorch', async () => {
  await checkVjpCase(G.case('rms_norm'), ['x', 'weight'], (x, weight) => rmsNorm({ weight: weight! }, x!, 1e-6), TOL);
});

test('linear with and without bias matches PyTorch', async () => {
  await checkVjpCase(G.case('linear'), ['x', 'weight', 'bias'], (x, weight, bias) => linear({ weight: weight!, bias }, x!), TOL);
  await checkVjpCase(G.case('linear_nobias'), ['x', 'weight'], (x, weight) => linear({ weight: weight! }, x!), TOL);
});

test('embedding gathers rows and scatter-adds gradients for repeated ids', async () => {
  const c = G.case('embedding');
  const ids = goldenTensor(c, 'ids');
  await checkVjpCase(c, ['weight'], (weight) => embedding({ weight: weight! }, ids), TOL);
});

test('cross_entropy with ignore_index matches PyTorch (mean over kept targets)', async () => {
  const c = G.case('cross_entropy');
  const targets = goldenTensor(c, 'targets');
  await checkVjpCase(c, ['logits'], (logits) => crossEntropy(logits!, targets, { ignoreIndex: -100 }), TOL);
});

test('ropeInvFreq follows 1 / theta^(2k/d)', () => {
  const f = ropeInvFreq(8, 1e6);
  assert.equal(f.length, 4);
  assert.equal(f[0], 1);
  // 1e6^(-2/8) = 10^(-1.5)
  assert.ok(Math.abs(f[1]! - 0.031622777) < 1e-8);
  assert.ok(Math.abs(f[3]! - 1e-6 ** 0.75) < 1e-10);
});

test('rope_1d (rotate-half, theta 1e6, positions up to 306) matches PyTorch', async () => {
  const c = G.case('rope_1d');
  const rot = textRotary(goldenTensor(c, 'positions'), { headDim: 8, theta: 1e6 });
  const r = { cos: unsqueeze(rot.cos, 1), sin: unsqueeze(rot.sin, 1) };
  await checkVjpCase(c, ['x'], (x) => applyRope(x!, r), TOL);
});

test('attention: causal + GQA (4 query heads on 2 KV heads) matches torch SDPA', async () => {
  await checkVjpCase(G.case('attention_causal_gqa'), ['q', 'k', 'v'], (q, k, v) => attention(q!, k!, v!, { causal: true }), TOL);
});

test('attention: an explicit per-head causal mask [B, H, T, T] gives the same as causal: true', async () => {
  const mask = expand(causalMask(6), [2, 4, 6, 6]);
  await checkVjpCase(G.case('attention_causal_gqa'), ['q', 'k', 'v'], (q, k, v) => attention(q!, k!, v!, { mask }), TOL);
});

test('attention: left-padded key mask matches torch SDPA', async () => {
  const c = G.case('attention_padding');
  const mask = paddingMask(goldenTensor(c, 'attention_mask'));
  await checkVjpCase(c, ['q', 'k', 'v'], (q, k, v) => attention(q!, k!, v!, { mask }), TOL);
});

test('attention: block-diagonal segments (array and tensor cu_seqlens) match torch SDPA', async () => {
  const c = G.case('attention_segments');
  const fromArray = segmentMask([0, 4, 9]);
  await checkVjpCase(c, ['q', 'k', 'v'], (q, k, v) => attention(q!, k!, v!, { mask: fromArray }), TOL);
  const fromTensor = segmentMask(goldenTensor(c, 'cu_seqlens'), 9);
  await checkVjpCase(c, ['q', 'k', 'v'], (q, k, v) => attention(q!, k!, v!, { mask: fromTensor }), TOL);
});

test('attention with the fused ORT kernels matches torch SDPA too (causal GQA, padding, segments, unmasked)', async () => {
  const fused = { kernel: 'fused' as const };
  await checkVjpCase(G.case('attention_causal_gqa'), ['q', 'k', 'v'], (q, k, v) => attention(q!, k!, v!, { ...fused, causal: true }), TOL);
  const p = G.case('attention_padding');
  const pad = paddingMask(goldenTensor(p, 'attention_mask'));
  await checkVjpCase(p, ['q', 'k', 'v'], (q, k, v) => attention(q!, k!, v!, { ...fused, mask: pad }), TOL);
  await checkVjpCase(G.case('attention_segments'), ['q', 'k', 'v'], (q, k, v) => attention(q!, k!, v!, { ...fused, mask: segmentMask([0, 4, 9]) }), TOL);
});

test('segmentMask rejects malformed cu_seqlens', () => {
  assert.throws(() => segmentMask([0, 4, 4, 9]), /increase strictly/);
  assert.throws(() => segmentMask([1, 9]), /start at 0/);
  assert.throws(() => segmentMask([0, 9], 10), /ends at 9 but the sequence has 10/);
});
