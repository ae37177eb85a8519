// The pure forward (forward.ts) is the function training differentiates: called with LoRA factors
// as arguments under valueAndGrad, it gives the same embeddings as inference with those factors
// merged into the weights (mergeAdapter, PEFT's merge_and_unload formula, captured weights in the
// jitted graphs), and finite, non-zero gradients for every factor.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Checkpoint } from '../../io/weights/checkpoint.ts';
import { readJsonFile } from '../../io/weights/hf-configs.ts';
import type { Tensor } from '../../tensor/index.ts';
import { configureRuntime, fromArray, mul, randn, realize, sum, treeLeaves, valueAndGrad } from '../../tensor/index.ts';
import { mergeAdapter } from '../common/merge-adapter.ts';
import { attachLora, type LoraFactors } from '../common/param-spec.ts';
import { parseQwen2VLConfig } from './config.ts';
import { FIXTURES, goldenBatch, goldenCase } from './fixtures.test-helper.ts';
import { qwen2VLForward } from './forward.ts';
import { lastTokenIndex, Qwen2VLModel } from './model.ts';
import { buildParams, readQwen2VLWeights } from './weights.ts';

configureRuntime({ threads: 1 });

test('LoRA factors as differentiable arguments: forward = merged-weights inference embedding, gradients finite and non-zero', async () => {
  const dir = join(FIXTURES, 'tiny-a');
  const cfg = parseQwen2VLConfig(await readJsonFile('qwen2_vl', join(dir, 'config.json')), { strict: false });
  const ckpt = await Checkpoint.open(dir);
  const host = await readQwen2VLWeights(ckpt, cfg).finally(() => ckpt.close());

  // LoRA on q_proj and v_proj of every layer, rank 2, alpha/r = 2, fixed random factors.
  const r = 2;
  const scaling = 2;
  let seed = 7;
  const factors: Record<string, LoraFactors<Tensor>> = {};
  for (let i = 0; i < cfg.text.numHiddenLayers; i++) {
    for (const m of ['q_proj', 'v_proj']) {
      const module = `model.layers.${i}.self_attn.${m}`;
      const [out, inF] = host.get(`${module}.weight`)!.shape as [number, number];
      factors[module] = { A: randn([r, inF], { seed: seed++, std: 0.5 }), B: randn([out, r], { seed: seed++, std: 0.5 }) };
    }
  }
  await realize(treeLeaves(factors) as Tensor[]);

  // Inference: the factors merged into a copy of the float32 weights, jitted graphs as LocalEmbedder runs them.
  const merged = new Map(host);
  for (const [module, f] of Object.entries(factors)) {
    const w = host.get(`${module}.weight`)!;
    const [out, inF] = w.shape as [number, number];
    merged.set(`${module}.weight`, { shape: w.shape, data: mergeAdapter(w.data as Float32Array, out, inF, {
      module, a: (await f.A.data()) as Float32Array, b: (await f.B.data()) as Float32Array, r, scaling,
    }) });
  }
  const c = goldenCase('a_text');
  const batch = goldenBatch(c);
  const [b, l] = batch.shape;
  const want = (await Qwen2VLModel.fromParams(cfg, buildParams(merged, cfg)).encode(batch)).embeddings;
  const base = (await Qwen2VLModel.fromParams(cfg, buildParams(host, cfg)).encode(batch)).embeddings;
  const moved = Math.max(...want.map((v, i) => Math.abs(v - base[i]!)));
  assert.ok(moved > 1e-2, `the adapter must change the embeddings for the comparison to mean anything (max |Δ| ${moved})`);

  // The pure forward on the base weights with the factors as the differentiated argument.
  let pos = batch.positionIds!;
  if (pos.length === b * l) pos = BigInt64Array.from({ length: 3 * b * l }, (_, i) => pos[i % (b * l)]!);
  const last = BigInt64Array.from(lastTokenIndex(batch.attentionMask, b, l).flatMap((j, row) => [BigInt(row), BigInt(j)]));
  const d = cfg.text.hiddenSize;
  const v = cfg.vision;
  const mm = v.spatialMergeSize ** 2;
  const patchDim = v.inChannels * v.temporalPatchSize * v.patchSize * v.patchSize;
  const tensors = {
    ids: fromArray(batch.inputIds, [b, l], 'int64'),
    mask: fromArray(batch.attentionMask, [b, l], 'int64'),
    positions: fromArray(pos, [3, b, l], 'int64'),
    last: fromArray(last, [b, 2], 'int64'),
    scatter: fromArray(new BigInt64Array(0), [0, 2], 'int64'),
    pixels: fromArray(new Float32Array(0), [0, mm, patchDim], 'float32'),
    patchPos: fromArray(new Int32Array(0), [0, mm, 2], 'int32'),
    segments: fromArray(new Int32Array(0), [0, mm], 'int32'),
  };
  const params = buildParams(host, cfg);
  const probe = randn([b, d], { seed: 99 }); // loss = Σ probe·embedding: every row and dim gets a gradient
  const step = valueAndGrad((lora: Record<string, LoraFactors<Tensor>>) => {
    const out = qwen2VLForward(attachLora(params, lora, scaling), cfg, tensors);
    return [sum(mul(out.embedding, probe)), out.embedding];
  }, { hasAux: true });
  const [[, emb], grads] = step(factors) as unknown as [[Tensor, Tensor], Record<string, LoraFactors<Tensor>>];
  const leaves = treeLeaves(grads) as Tensor[];
  await realize([emb, ...leaves]);
  const got = (await emb.data()) as Float32Array;
  const diff = Math.max(...got.map((x, i) => Math.abs(x - want[i]!)));
  assert.ok(diff < 1e-5, `pure forward vs merged inference: max |Δ| ${diff}`);
  assert.equal(leaves.length, 4 * cfg.text.numHiddenLayers);
  for (const [module, g] of Object.entries(grads)) {
    for (const [name, t] of [['A', g.A], ['B', g.B]] as const) {
      const x = (await t.data()) as Float32Array;
      assert.ok(x.every(Number.isFinite), `${module}.${name}: finite`);
      assert.ok(x.some((y) => y !== 0), `${module}.${name}: non-zero`);
    }
  }
});
