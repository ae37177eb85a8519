// Bad inputs to src/nn raise Vlm2VecError at trace time, naming the tensor and what was expected.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Vlm2VecError } from '../errors.ts';
import { tensor, zeros } from '../tensor/index.ts';
import {
  attention, crossEntropy, linear, paddingMask, qwen2DecoderLayer, qwen2VisionBlock, ropeInvFreq, rotateHalf,
  textRotary, visionRotary,
} from './index.ts';
import type { Qwen2DecoderLayerParams, Qwen2VisionBlockParams } from './index.ts';

function throwsNn(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof Vlm2VecError && message.test(e.message));
}

test('linear names the projection whose weight is not [out, in]', () => {
  throwsNn(() => linear({ weight: zeros([4]) }, zeros([2, 4]), 'q_proj'), /q_proj\.weight: expected \[out, in\], found \[4\]/);
});

test('rope helpers reject odd dims, bad sections and bad position shapes', () => {
  throwsNn(() => ropeInvFreq(7, 1e4), /positive even integer, got 7/);
  throwsNn(() => rotateHalf(zeros([2, 5])), /static even last dim/);
  const pos3 = zeros([3, 1, 4], 'int32');
  throwsNn(() => textRotary(pos3, { headDim: 8, theta: 1e6 }), /need mropeSection/);
  throwsNn(() => textRotary(pos3, { headDim: 8, theta: 1e6, mropeSection: [2, 2, 2] }), /sums to 6, expected headDim\/2 = 4/);
  throwsNn(() => textRotary(zeros([4], 'int32'), { headDim: 8, theta: 1e6 }), /must be \[B, T\] or \[3, B, T\], got \[4\]/);
  throwsNn(() => visionRotary(zeros([5, 3], 'int32'), { headDim: 16 }), /must be \[N, 2\], got \[5,\s?3\]/);
  throwsNn(() => visionRotary(zeros([5, 2], 'int32'), { headDim: 10 }), /divisible by 4, got 10/);
});

test('attention rejects head counts that do not group and non-4-D inputs', () => {
  const q = zeros([1, 3, 4, 8]);
  const kv = zeros([1, 2, 4, 8]);
  throwsNn(() => attention(q, kv, kv), /query heads \(3\) must be a static multiple of KV heads \(2\)/);
  throwsNn(() => attention(zeros([3, 4, 8]), kv, kv), /must be \[B, H, T, D\]/);
  throwsNn(() => attention(zeros([1, 2, 4, 8]), zeros([1, 2, 5, 8]), zeros([1, 2, 5, 8]), { causal: true }), /needs Tq == Tk, got 4 and 5/);
  throwsNn(() => paddingMask(zeros([4], 'int32')), /attention_mask must be \[B, T\]/);
});

test('crossEntropy wants logits [N, C] and targets [N]', () => {
  throwsNn(() => crossEntropy(zeros([2, 3, 4]), tensor([1, 2], 'int32')), /expects logits \[N, C\] and targets \[N\]/);
});

test('blocks reject inputs of the wrong rank and missing positions', () => {
  const config = { numAttentionHeads: 2, numKeyValueHeads: 1, headDim: 4, rmsNormEps: 1e-6, ropeTheta: 1e6 };
  const noParams = {} as Qwen2DecoderLayerParams; // never read: the checks come first
  throwsNn(() => qwen2DecoderLayer(noParams, zeros([4, 8]), { config }), /must be \[B, T, D\], got \[4,\s?8\]/);
  throwsNn(() => qwen2DecoderLayer(noParams, zeros([1, 4, 8]), { config }), /needs positionIds or a precomputed rotary table/);
  const rotary = { cos: zeros([4, 4]), sin: zeros([4, 4]) };
  throwsNn(() => qwen2VisionBlock({} as Qwen2VisionBlockParams, zeros([1, 4, 8]), { numHeads: 2, rotary }), /must be \[N, E\]/);
  throwsNn(() => qwen2VisionBlock({} as Qwen2VisionBlockParams, zeros([4, 10]), { numHeads: 4, rotary }), /embed dim 10 is not a multiple of 4 heads/);
});
