// Qwen2-VL's rotary layouts (M-RoPE, 2-D vision rope) and patch bookkeeping against transformers,
// from test/fixtures/engine/blocks/compositions.* (tools/reference/engine_blocks.py); rope_1d and
// the generic helpers are tested in src/nn/compositions.test.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configureRuntime, expand, realize, tensor, unsqueeze, zeros } from '../../tensor/index.ts';
import { Vlm2VecError } from '../../errors.ts';
import { applyRope, textRotary } from '../../nn/index.ts';
import { loadGolden } from '../../nn/golden.test-helper.ts';
import { checkVjpCase, goldenTensor } from '../../nn/golden-tensors.test-helper.ts';
import type { Tolerance } from '../../nn/golden-tensors.test-helper.ts';
import { mropeRotary, visionCuSeqlens, visionPositionIds, visionRotary } from './rope.ts';

configureRuntime({ threads: 1 });
const G = loadGolden('compositions');
const TOL: Tolerance = { rtol: 1e-4, atolScale: 1e-5 };

function throwsRope(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof Vlm2VecError && message.test(e.message));
}

test('M-RoPE with sections [2, 3, 3] matches transformers Qwen2VLRotaryEmbedding', async () => {
  const c = G.case('mrope');
  const rot = mropeRotary(goldenTensor(c, 'position_ids'), { headDim: 16, theta: 1e6, mropeSection: [2, 3, 3] });
  const r = { cos: unsqueeze(rot.cos, 1), sin: unsqueeze(rot.sin, 1) };
  await checkVjpCase(c, ['x'], (x) => applyRope(x!, r), TOL);
});

test('M-RoPE at Qwen2-VL-2B size (head_dim 128, sections [16, 24, 24], positions ~900) matches transformers', async () => {
  const c = G.case('mrope_hd128');
  const rot = mropeRotary(goldenTensor(c, 'position_ids'), { headDim: 128, theta: 1e6, mropeSection: [16, 24, 24] });
  const r = { cos: unsqueeze(rot.cos, 1), sin: unsqueeze(rot.sin, 1) };
  await checkVjpCase(c, ['x'], (x) => applyRope(x!, r), TOL);
});

test('M-RoPE with the same position on all three axes equals 1-D rope (what VLM2Vec prompts get)', async () => {
  const pos = tensor([[0, 1, 2, 3], [5, 6, 7, 8]], 'int32'); // [B, T]
  const one = textRotary(pos, { headDim: 128, theta: 1e6 }) /* nn's plain 1-D rope */;
  const three = mropeRotary(expand(unsqueeze(pos, 0), [3, 2, 4]), { headDim: 128, theta: 1e6, mropeSection: [16, 24, 24] });
  await realize([one.cos, one.sin, three.cos, three.sin]);
  assert.deepEqual(await three.cos.data(), await one.cos.data());
  assert.deepEqual(await three.sin.data(), await one.sin.data());
});

test('vision rope at Qwen2-VL ViT size (head_dim 80) matches transformers', async () => {
  const c = G.case('vision_rope_hd80');
  const rot = visionRotary(goldenTensor(c, 'position_ids'), { headDim: 80 });
  const r = { cos: unsqueeze(rot.cos, -2), sin: unsqueeze(rot.sin, -2) };
  await checkVjpCase(c, ['x'], (x) => applyRope(x!, r), TOL);
});

test('vision 2-D rope matches transformers Qwen2VLVisionRotaryEmbedding', async () => {
  const c = G.case('vision_rope');
  const rot = visionRotary(goldenTensor(c, 'position_ids'), { headDim: 16, theta: 1e4 });
  const r = { cos: unsqueeze(rot.cos, -2), sin: unsqueeze(rot.sin, -2) };
  await checkVjpCase(c, ['x'], (x) => applyRope(x!, r), TOL);
});

test('visionPositionIds and visionCuSeqlens reproduce transformers for grids [1,4,4] and [2,2,2]', () => {
  const want = G.case('vision_rope').i32('position_ids');
  const got = visionPositionIds([[1, 4, 4], [2, 2, 2]], 2);
  assert.deepEqual(got.shape, want.shape);
  assert.deepEqual(Array.from(got.data), Array.from(want.data));
  assert.deepEqual(visionCuSeqlens([[1, 4, 4], [2, 2, 2]]), [0, 16, 20, 24]);
  assert.throws(() => visionPositionIds([[1, 3, 4]], 2), /multiples of the merge size 2/);
});

test('rope layouts reject bad sections and bad position shapes', () => {
  const pos3 = zeros([3, 1, 4], 'int32');
  throwsRope(() => mropeRotary(pos3, { headDim: 8, theta: 1e6 }), /need mropeSection/);
  throwsRope(() => mropeRotary(pos3, { headDim: 8, theta: 1e6, mropeSection: [2, 2, 2] }), /sums to 6, expected headDim\/2 = 4/);
  throwsRope(() => mropeRotary(zeros([4], 'int32'), { headDim: 8, theta: 1e6 }), /must be \[B, T\] or \[3, B, T\], got \[4\]/);
  throwsRope(() => visionRotary(zeros([5, 3], 'int32'), { headDim: 16 }), /must be \[N, 2\], got \[5,\s?3\]/);
  throwsRope(() => visionRotary(zeros([5, 2], 'int32'), { headDim: 10 }), /divisible by 4, got 10/);
});
