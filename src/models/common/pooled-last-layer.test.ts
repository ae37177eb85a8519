// The pooled last decoder layer (nn/pooled.ts; each backbone's decoder layer with `pooled`) is an
// optimization, not a model change: for every backbone the pooled language model must equal the
// full one followed by the gather at `last`, for left- and right-padded batches with a row of a
// single token, and with a sliding window that cuts into the pooled query's keys. And it must
// really skip the work: the last layer's MLP multiplies B rows, not B·T (read off the graph).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmsNorm } from '../../nn/index.ts';
import type { Tensor } from '../../tensor/index.ts';
import { configureRuntime, dumpGraph, fromArray, gather, gatherND, randn, unsqueeze } from '../../tensor/index.ts';
import { languageModel } from '../qwen2-vl/text.ts';
import type { Qwen2VLTextConfig } from '../qwen2-vl/config.ts';
import type { Qwen2VLTextParams } from '../qwen2-vl/weights.ts';
import { phi3AttentionMask, phi3DecoderLayer, phi3Rotary, textGraph as phi3TextGraph } from '../phi3-v/forward.ts';
import type { Phi3TextConfig, Phi3VConfig } from '../phi3-v/config.ts';
import type { Phi3VParams } from '../phi3-v/weights.ts';
import { mistralModel } from '../llava-next/text.ts';
import type { LlavaTextConfig } from '../llava-next/config.ts';
import type { LlavaTextParams } from '../llava-next/params.ts';

configureRuntime({ threads: 1 });

const B = 3;
const T = 5;
const D = 16;
const H = 4;
const HKV = 2;
const HD = 8;
const I = 40;
const LAYERS = 3;

let seed = 1;
const w = (shape: number[], std = 1 / Math.sqrt(shape.at(-1)!)): Tensor => randn(shape, { seed: seed++, std });
const norm = (): { weight: Tensor } => ({ weight: fromArray(Float32Array.from({ length: D }, (_, i) => 1 + 0.05 * ((i * 7) % 5)), [D]) });
const lin = (out: number, inp: number, bias = false) => (bias ? { weight: w([out, inp]), bias: w([out], 0.1) } : { weight: w([out, inp]) });

/** Left padding (every row ends with a token, pooled at T−1) and right padding (pooled at len−1). */
const BATCHES: Record<string, { mask: number[][]; last: number[] }> = {
  left: { mask: [[0, 0, 0, 0, 1], [0, 1, 1, 1, 1], [1, 1, 1, 1, 1]], last: [4, 4, 4] },
  right: { mask: [[1, 0, 0, 0, 0], [1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], last: [0, 2, 4] },
};

function batch(name: string): { mask: Tensor; last: Tensor } {
  const c = BATCHES[name]!;
  return {
    mask: fromArray(BigInt64Array.from(c.mask.flat(), BigInt), [B, T], 'int64'),
    last: fromArray(BigInt64Array.from(c.last.flatMap((t, b) => [BigInt(b), BigInt(t)])), [B, 2], 'int64'),
  };
}

async function assertSame(got: Tensor, want: Tensor, what: string): Promise<void> {
  assert.deepEqual(got.shape, [B, D], what);
  const [g, r] = [(await got.data()) as Float32Array, (await want.data()) as Float32Array];
  let max = 0;
  for (let i = 0; i < g.length; i++) max = Math.max(max, Math.abs(g[i]! - r[i]!));
  assert.ok(max <= 1e-5, `${what}: max |Δ| ${max}`);
}

/** Output shapes of the graph's matmuls whose last axis is `cols` (the MLP's gate/up or gate_up). */
function matmulRows(out: Tensor, cols: number): string[] {
  return dumpGraph(out).split('\n').filter((l) => /= matmul\(/.test(l) && l.endsWith(`,${cols}]`)).map((l) => l.slice(l.lastIndexOf('[')));
}

// --- Qwen2-VL: M-RoPE with three different position axes, so the rope gather is checked ---------
const qwenCfg = {
  hiddenSize: D, numAttentionHeads: H, numKeyValueHeads: HKV, headDim: HD, rmsNormEps: 1e-6, ropeTheta: 1e4, mropeSection: [2, 1, 1],
} as unknown as Qwen2VLTextConfig;
const qwenParams = {
  layers: Array.from({ length: LAYERS }, () => ({
    input_layernorm: norm(), post_attention_layernorm: norm(),
    self_attn: { q_proj: lin(H * HD, D, true), k_proj: lin(HKV * HD, D, true), v_proj: lin(HKV * HD, D, true), o_proj: lin(D, H * HD) },
    mlp: { gate_proj: lin(I, D), up_proj: lin(I, D), down_proj: lin(D, I) },
  })),
  norm: norm(),
} as unknown as Qwen2VLTextParams;
const qwenPositions = fromArray(
  BigInt64Array.from({ length: 3 * B * T }, (_, i) => BigInt([i % T, (2 * i) % 7, (3 * i + 1) % 5][Math.floor(i / (B * T))]!)), [3, B, T], 'int64');

for (const side of ['left', 'right']) {
  test(`Qwen2-VL, ${side} padding: the pooled last layer = the full language model gathered at the last tokens`, async () => {
    const { mask, last } = batch(side);
    const x = w([B, T, D], 1);
    await assertSame(languageModel(qwenParams, qwenCfg, x, qwenPositions, mask, last),
      gatherND(languageModel(qwenParams, qwenCfg, x, qwenPositions, mask), last), `qwen2-vl ${side}`);
  });
}

test('Qwen2-VL: the last layer multiplies B rows in its MLP, the others B·T', () => {
  const { mask, last } = batch('left');
  const rows = matmulRows(languageModel(qwenParams, qwenCfg, w([B, T, D], 1), qwenPositions, mask, last), I);
  assert.deepEqual(rows.sort(), [...Array(2 * (LAYERS - 1)).fill(`[${B},${T},${I}]`), `[${B},1,${I}]`, `[${B},1,${I}]`].sort());
});

// --- Phi-3-V: LongRoPE (the long factors: T > original 4), a window of 2 ---------------------------
function phi3Setup(slidingWindow: number | undefined) {
  const t = {
    hiddenSize: D, intermediateSize: I, numAttentionHeads: H, numKeyValueHeads: HKV, headDim: HD, rmsNormEps: 1e-5, ropeTheta: 1e4,
    originalMaxPositionEmbeddings: 4, slidingWindow,
    ropeScaling: { type: 'longrope', shortFactor: [1, 1.5, 2, 3], longFactor: [1, 2, 4, 8], attentionFactor: 1.1 },
  } as unknown as Phi3TextConfig;
  const p = {
    embed_tokens: { weight: w([11, D], 1) },
    layers: Array.from({ length: LAYERS }, () => ({
      input_layernorm: norm(), post_attention_layernorm: norm(),
      self_attn: { qkv_proj: lin((H + 2 * HKV) * HD, D), o_proj: lin(D, H * HD) },
      mlp: { gate_up_proj: lin(2 * I, D), down_proj: lin(D, I) },
    })),
    norm: norm(),
  } as unknown as Phi3VParams['model'];
  return { t, p, cfg: { text: t } as unknown as Phi3VConfig };
}
const ids = fromArray(BigInt64Array.from({ length: B * T }, (_, i) => BigInt((i * 4 + 3) % 11)), [B, T], 'int64');
const noScatter = fromArray(new BigInt64Array(0), [0, 2], 'int64');
const noFeatures = fromArray(new Float32Array(0), [0, D]);

/** Phi-3-V's text graph as it was before pooling moved into the last layer: every layer full. */
function phi3Full(setup: ReturnType<typeof phi3Setup>, mask: Tensor, last: Tensor): Tensor {
  const { t, p } = setup;
  const r = phi3Rotary(t, T, ids);
  const rot = { cos: unsqueeze(unsqueeze(r.cos, 0), 0), sin: unsqueeze(unsqueeze(r.sin, 0), 0) };
  let h = gather(p.embed_tokens.weight, ids, 0);
  for (const layer of p.layers) h = phi3DecoderLayer(layer, t, h, rot, phi3AttentionMask(t, mask, T));
  return gatherND(rmsNorm(p.norm, h, t.rmsNormEps), last);
}

for (const side of ['left', 'right']) {
  for (const window of [undefined, 2]) {
    test(`Phi-3-V, ${side} padding, sliding window ${String(window)}: pooled last layer = full language model gathered`, async () => {
      const setup = phi3Setup(window);
      const { mask, last } = batch(side);
      await assertSame(phi3TextGraph(setup.p, setup.cfg, ids, mask, last, noScatter, noFeatures).hidden, phi3Full(setup, mask, last),
        `phi3-v ${side} window ${String(window)}`);
    });
  }
}

test('Phi-3-V: the last layer multiplies B rows in its gate_up_proj, the others B·T', () => {
  const setup = phi3Setup(undefined);
  const { mask, last } = batch('right');
  const rows = matmulRows(phi3TextGraph(setup.p, setup.cfg, ids, mask, last, noScatter, noFeatures).hidden, 2 * I);
  assert.deepEqual(rows.sort(), [...Array(LAYERS - 1).fill(`[${B},${T},${2 * I}]`), `[${B},1,${2 * I}]`].sort());
});

// --- LLaVA-NeXT (Mistral): no window and a window of 2 (i − 2 < j ≤ i) -----------------------------
const llavaParams = {
  layers: Array.from({ length: LAYERS }, () => ({
    input_layernorm: norm(), post_attention_layernorm: norm(),
    self_attn: { q_proj: lin(H * HD, D), k_proj: lin(HKV * HD, D), v_proj: lin(HKV * HD, D), o_proj: lin(D, H * HD) },
    mlp: { gate_proj: lin(I, D), up_proj: lin(I, D), down_proj: lin(D, I) },
  })),
  norm: norm(),
} as unknown as LlavaTextParams;
const llavaCfg = (slidingWindow: number | null) => ({
  hiddenSize: D, numAttentionHeads: H, numKeyValueHeads: HKV, headDim: HD, rmsNormEps: 1e-5, ropeTheta: 1e6, slidingWindow,
} as unknown as LlavaTextConfig);
const llavaPositions = fromArray(BigInt64Array.from({ length: B * T }, (_, i) => BigInt((i % T) + Math.floor(i / T))), [B, T], 'int64');

for (const side of ['left', 'right']) {
  for (const window of [null, 2]) {
    test(`LLaVA-NeXT, ${side} padding, sliding window ${String(window)}: pooled last layer = full language model gathered`, async () => {
      const { mask, last } = batch(side);
      const x = w([B, T, D], 1);
      const cfg = llavaCfg(window);
      await assertSame(mistralModel(llavaParams, cfg, x, llavaPositions, mask, last),
        gatherND(mistralModel(llavaParams, cfg, x, llavaPositions, mask), last), `llava-next ${side} window ${String(window)}`);
    });
  }
}

test('LLaVA-NeXT: the last layer multiplies B rows in its MLP, the others B·T', () => {
  const { mask, last } = batch('right');
  const rows = matmulRows(mistralModel(llavaParams, llavaCfg(null), w([B, T, D], 1), llavaPositions, mask, last), I);
  assert.deepEqual(rows.sort(), [...Array(2 * (LAYERS - 1)).fill(`[${B},${T},${I}]`), `[${B},1,${I}]`, `[${B},1,${I}]`].sort());
});
