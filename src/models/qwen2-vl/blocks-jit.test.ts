// The blocks under jit with symbolic batch/sequence dims: one traced graph, checked against the
// PyTorch goldens, reused (no new session) for another sequence length. Causality makes the
// prefix check exact: the first T' outputs of a causal layer do not depend on later tokens.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Tensor } from '../../tensor/index.ts';
import { configureRuntime, fromArray, jit } from '../../tensor/index.ts';
import { assertClose, loadGolden } from '../../nn/golden.test-helper.ts';
import type { GoldenCase } from '../../nn/golden.test-helper.ts';
import type { Tolerance } from '../../nn/golden-tensors.test-helper.ts';
import { expectGolden, goldenParams, goldenTensor, maxAbs } from '../../nn/golden-tensors.test-helper.ts';
import type { Qwen2DecoderLayerParams } from './decoder-layer.ts';
import type { Qwen2VisionBlockParams } from './vision-block.ts';
import { qwen2DecoderLayer } from './decoder-layer.ts';
import { mropeRotary, visionRotary } from './rope.ts';
import { qwen2VisionBlock } from './vision-block.ts';

configureRuntime({ threads: 1 });
const TOL: Tolerance = { rtol: 1e-4, atolScale: 1e-5 };

/** Slices the leading `keep` positions of axis `axis` of a stored tensor into a new constant. */
function prefix(c: GoldenCase, key: string, axis: number, keep: number): { t: Tensor; data: Float32Array | Int32Array } {
  const g = c.tensor(key);
  const shape = [...g.shape];
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const len = shape[axis]!;
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const data = g.data instanceof Float32Array ? new Float32Array(outer * keep * inner) : new Int32Array(outer * keep * inner);
  for (let o = 0; o < outer; o++) data.set(g.data.subarray(o * len * inner, (o * len + keep) * inner), o * keep * inner);
  shape[axis] = keep;
  return { t: fromArray(data, shape, data instanceof Float32Array ? 'float32' : 'int32'), data };
}

test('decoder layer jitted with symbolic B, T: matches PyTorch, and a shorter sequence reuses the session', async () => {
  const c = loadGolden('qwen2_decoder').case('decoder_layer');
  const params = goldenParams(c) as unknown as Qwen2DecoderLayerParams; // captured -> initializers
  const config = { numAttentionHeads: 12, numKeyValueHeads: 2, headDim: 8, rmsNormEps: 1e-6, ropeTheta: 1e6, mropeSection: [2, 1, 1] };
  const layer = jit(
    (x: Tensor, positionIds: Tensor, attentionMask: Tensor) => {
      const rotary = mropeRotary(positionIds, { headDim: 8, theta: 1e6, mropeSection: [2, 1, 1] });
      return qwen2DecoderLayer(params, x, { config, rotary, attentionMask });
    },
    { name: 'qwen2_decoder_layer', dynamic: { '0': ['B', 'T', null], '1': [null, 'B', 'T'], '2': ['B', 'T'] } },
  );
  const full = await layer(goldenTensor(c, 'x'), goldenTensor(c, 'position_ids'), goldenTensor(c, 'attention_mask'));
  await expectGolden(full, c, 'out', TOL);

  const keep = 5;
  const short = await layer(prefix(c, 'x', 1, keep).t, prefix(c, 'position_ids', 2, keep).t, prefix(c, 'attention_mask', 1, keep).t);
  assert.equal(layer.sessionCount, 1);
  assert.deepEqual(short.shape, [2, keep, 96]);
  const want = prefix(c, 'out', 1, keep).data as Float32Array;
  // Pad-query rows average over every key (fully masked), so only real tokens are causal prefixes.
  const real = prefix(c, 'attention_mask', 1, keep).data;
  assertClose((await short.data()) as Float32Array, want, {
    rtol: TOL.rtol,
    atol: TOL.atolScale * maxAbs(want),
    what: 'decoder prefix T=5',
    mask: (i) => real[Math.floor(i / 96)] === 1,
  });
});

test('vision block jitted with symbolic N and tensor cu_seqlens: matches PyTorch', async () => {
  const c = loadGolden('qwen2_vision').case('vision_block');
  const params = goldenParams(c) as unknown as Qwen2VisionBlockParams;
  const block = jit(
    (x: Tensor, positionIds: Tensor, cuSeqlens: Tensor) => {
      const rotary = visionRotary(positionIds, { headDim: 16, theta: 1e4 });
      return qwen2VisionBlock(params, x, { numHeads: 4, rotary, cuSeqlens });
    },
    { name: 'qwen2_vision_block', dynamic: { '0': ['N', null], '1': ['N', null], '2': ['S'] } },
  );
  const out = await block(goldenTensor(c, 'x'), goldenTensor(c, 'position_ids'), goldenTensor(c, 'cu_seqlens'));
  await expectGolden(out, c, 'out', TOL);
  // Segment-local attention: the first image's 16 patches alone give the same first 16 rows.
  const first = await block(prefix(c, 'x', 0, 16).t, prefix(c, 'position_ids', 0, 16).t, fromArray(new Int32Array([0, 16]), [2], 'int32'));
  assert.equal(block.sessionCount, 1);
  const want = prefix(c, 'out', 0, 16).data as Float32Array;
  assertClose((await first.data()) as Float32Array, want, { rtol: TOL.rtol, atol: TOL.atolScale * maxAbs(want), what: 'vision first segment' });
});
