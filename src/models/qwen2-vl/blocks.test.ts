// The Qwen2-VL text decoder layer and ViT block against transformers' own modules
// (Qwen2VLDecoderLayer / Qwen2VLVisionBlock, eager attention, float32), from
// test/fixtures/engine/blocks/qwen2_{decoder,vision}.* written by tools/reference/engine_blocks.py.
//
// Tolerance (issue 3): rtol 1e-4 in float32, plus an absolute slack of 1e-5 of each tensor's
// largest magnitude for elements that cancel to near zero.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Tensor } from '../../tensor/index.ts';
import { configureRuntime, realize, vjp, zeros } from '../../tensor/index.ts';
import { Vlm2VecError } from '../../errors.ts';
import { loadGolden } from '../../nn/golden.test-helper.ts';
import type { Tolerance } from '../../nn/golden-tensors.test-helper.ts';
import { expectGolden, flattenNamed, goldenParams, goldenTensor } from '../../nn/golden-tensors.test-helper.ts';
import type { Qwen2DecoderConfig, Qwen2DecoderLayerParams } from './decoder-layer.ts';
import type { Qwen2VisionBlockParams } from './vision-block.ts';
import { qwen2DecoderLayer } from './decoder-layer.ts';
import { mropeRotary, visionCuSeqlens, visionPositionIds, visionRotary } from './rope.ts';
import { qwen2VisionBlock } from './vision-block.ts';

configureRuntime({ threads: 1 });
const TOL: Tolerance = { rtol: 1e-4, atolScale: 1e-5 };

const decoderCase = loadGolden('qwen2_decoder').case('decoder_layer');
const visionCase = loadGolden('qwen2_vision').case('vision_block');

const DECODER_CONFIG: Qwen2DecoderConfig = {
  numAttentionHeads: 12,
  numKeyValueHeads: 2,
  headDim: 8,
  rmsNormEps: 1e-6,
  ropeTheta: 1e6,
  mropeSection: [2, 1, 1],
};

/** Pad rows (attention_mask 0) carry no meaning; only real tokens are compared. */
function realTokenMask(): (i: number) => boolean {
  const am = decoderCase.i32('attention_mask').data; // [B, T]
  const d = decoderCase.f32('x').shape[2]!;
  return (i) => am[Math.floor(i / d)] === 1;
}

async function runDecoder(params: Qwen2DecoderLayerParams, x: Tensor, config = DECODER_CONFIG) {
  const positionIds = goldenTensor(decoderCase, 'position_ids'); // [3, B, T]
  const attentionMask = goldenTensor(decoderCase, 'attention_mask'); // [B, T]
  const { out, vjp: pull } = vjp(
    (p: Qwen2DecoderLayerParams, h: Tensor) => qwen2DecoderLayer(p, h, { config, positionIds, attentionMask }),
    params,
    x,
  );
  const [gParams, gx] = pull(goldenTensor(decoderCase, 'cotangent'));
  const named = flattenNamed(gParams);
  await realize([out, gx as Tensor, ...named.map(([, t]) => t)]);
  return { out, gx: gx as Tensor, named };
}

test('decoder layer: rotary cos/sin (M-RoPE [2,1,1], theta 1e6) equal transformers', async () => {
  const rot = mropeRotary(goldenTensor(decoderCase, 'position_ids'), { headDim: 8, theta: 1e6, mropeSection: [2, 1, 1] });
  await realize([rot.cos, rot.sin]);
  await expectGolden(rot.cos, decoderCase, 'cos', TOL);
  await expectGolden(rot.sin, decoderCase, 'sin', TOL);
});

test('decoder layer (GQA 12/2, causal + left padding, M-RoPE, SwiGLU): output and every gradient match PyTorch at rtol 1e-4', async () => {
  const params = goldenParams(decoderCase) as unknown as Qwen2DecoderLayerParams;
  const { out, gx, named } = await runDecoder(params, goldenTensor(decoderCase, 'x'));
  await expectGolden(out, decoderCase, 'out', TOL, realTokenMask());
  // Pad-query rows are fully masked; like transformers' eager path we fill masked scores with the
  // most negative finite float, so they come out as the same uniform average (and never NaN).
  await expectGolden(out, decoderCase, 'out', TOL);
  await expectGolden(gx, decoderCase, 'grad.x', TOL);
  const expected = decoderCase.names().filter((k) => k.startsWith('params.')).map((k) => k.slice(7)).sort();
  assert.deepEqual(named.map(([k]) => k).sort(), expected); // every checkpoint tensor gets a gradient
  assert.equal(expected.length, 12);
  for (const [name, g] of named) await expectGolden(g, decoderCase, `grad.${name}`, TOL);
});

test('decoder layer: the comparison is sensitive (1-D positions instead of M-RoPE do not match)', async () => {
  const params = goldenParams(decoderCase) as unknown as Qwen2DecoderLayerParams;
  const positionIds = goldenTensor(decoderCase, 'position_ids');
  const out = qwen2DecoderLayer(params, goldenTensor(decoderCase, 'x'), {
    config: { ...DECODER_CONFIG, mropeSection: [4, 0, 0] }, // every frequency from the t axis
    positionIds,
    attentionMask: goldenTensor(decoderCase, 'attention_mask'),
  });
  await realize([out]);
  await assert.rejects(expectGolden(out, decoderCase, 'out', TOL, realTokenMask()), /over tolerance/);
});

const VISION_GRIDS = [[1, 4, 4], [1, 2, 4]] as const;

test('vision block: patch positions and cu_seqlens equal transformers for grids [1,4,4] + [1,2,4]', () => {
  const pos = visionPositionIds(VISION_GRIDS, 2);
  assert.deepEqual(Array.from(pos.data), Array.from(visionCase.i32('position_ids').data));
  assert.deepEqual(visionCuSeqlens(VISION_GRIDS), Array.from(visionCase.i32('cu_seqlens').data));
});

test('vision block (LayerNorm, fused qkv, 2-D rope, 2 segments, QuickGELU): output and every gradient match PyTorch at rtol 1e-4', async () => {
  const params = goldenParams(visionCase) as unknown as Qwen2VisionBlockParams;
  const rotary = visionRotary(goldenTensor(visionCase, 'position_ids'), { headDim: 16, theta: 1e4 });
  const cuSeqlens = visionCuSeqlens(VISION_GRIDS);
  const { out, vjp: pull } = vjp(
    (p: Qwen2VisionBlockParams, x: Tensor) => qwen2VisionBlock(p, x, { numHeads: 4, rotary, cuSeqlens, layerNormEps: 1e-6 }),
    params,
    goldenTensor(visionCase, 'x'),
  );
  const [gParams, gx] = pull(goldenTensor(visionCase, 'cotangent'));
  const named = flattenNamed(gParams);
  await realize([out, gx as Tensor, rotary.cos, rotary.sin, ...named.map(([, t]) => t)]);
  await expectGolden(rotary.cos, visionCase, 'cos', TOL);
  await expectGolden(rotary.sin, visionCase, 'sin', TOL);
  await expectGolden(out, visionCase, 'out', TOL);
  await expectGolden(gx as Tensor, visionCase, 'grad.x', TOL);
  assert.equal(named.length, 12);
  for (const [name, g] of named) await expectGolden(g, visionCase, `grad.${name}`, TOL);
});

test('vision block: the comparison is sensitive (one segment instead of two does not match)', async () => {
  const params = goldenParams(visionCase) as unknown as Qwen2VisionBlockParams;
  const rotary = visionRotary(goldenTensor(visionCase, 'position_ids'), { headDim: 16, theta: 1e4 });
  const out = qwen2VisionBlock(params, goldenTensor(visionCase, 'x'), { numHeads: 4, rotary, cuSeqlens: [0, 24] });
  await realize([out]);
  await assert.rejects(expectGolden(out, visionCase, 'out', TOL), /over tolerance/);
});

function throwsBlock(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof Vlm2VecError && message.test(e.message));
}

test('blocks reject inputs of the wrong rank and missing positions', () => {
  const config = { numAttentionHeads: 2, numKeyValueHeads: 1, headDim: 4, rmsNormEps: 1e-6, ropeTheta: 1e6 };
  const noParams = {} as Qwen2DecoderLayerParams; // never read: the checks come first
  throwsBlock(() => qwen2DecoderLayer(noParams, zeros([4, 8]), { config }), /must be \[B, T, D\], got \[4,\s?8\]/);
  throwsBlock(() => qwen2DecoderLayer(noParams, zeros([1, 4, 8]), { config }), /needs positionIds or a precomputed rotary table/);
  const rotary = { cos: zeros([4, 4]), sin: zeros([4, 4]) };
  throwsBlock(() => qwen2VisionBlock({} as Qwen2VisionBlockParams, zeros([1, 4, 8]), { numHeads: 2, rotary }), /must be \[N, E\]/);
  throwsBlock(() => qwen2VisionBlock({} as Qwen2VisionBlockParams, zeros([4, 10]), { numHeads: 4, rotary }), /embed dim 10 is not a multiple of 4 heads/);
});
