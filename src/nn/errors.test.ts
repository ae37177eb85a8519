// Bad inputs to src/nn raise Vlm2VecError at trace time, naming the tensor and what was expected.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Vlm2VecError } from '../errors.ts';
import { tensor, zeros } from '../tensor/index.ts';
import { attention, crossEntropy, linear, paddingMask, ropeInvFreq, rotateHalf, textRotary } from './index.ts';

function throwsNn(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof Vlm2VecError && message.test(e.message));
}

test('linear names the projection whose weight is not [out, in]', () => {
  throwsNn(() => linear({ weight: zeros([4]) }, zeros([2, 4]), 'q_proj'), /q_proj\.weight: expected \[out, in\], found \[4\]/);
});

test('rope helpers reject odd dims, bad sections and bad position shapes', () => {
  throwsNn(() => ropeInvFreq(7, 1e4), /positive even integer, got 7/);
  throwsNn(() => rotateHalf(zeros([2, 5])), /static even last dim/);
  throwsNn(() => textRotary(zeros([3, 1, 4], 'int32'), { headDim: 8, theta: 1e6 }), /position ids must be \[B, T\], got \[3,\s?1,\s?4\]/);
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
