// The pure forward (forward.ts) is the function training differentiates: called with LoRA factors
// as arguments under valueAndGrad, on batches packed by batch.ts, it gives
//  - the same embeddings as inference with those factors merged into the weights (mergeAdapter,
//    PEFT's merge_and_unload formula, captured weights in the jitted graphs), for text-only and
//    for mixed text / image / video batches;
//  - the loss, embeddings and gradients w.r.t. every lora_A / lora_B of PyTorch + peft
//    (tools/reference/model_qwen2vl_lora_grad.py, test/fixtures/model/lora-grad/).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Checkpoint } from '../../io/weights/checkpoint.ts';
import { readJsonFile } from '../../io/weights/hf-configs.ts';
import { checkpointModulePath, loadAdapter, type PeftAdapter } from '../../io/weights/peft.ts';
import { SafetensorsFile } from '../../io/weights/safetensors.ts';
import type { Tensor } from '../../tensor/index.ts';
import { configureRuntime, fromArray, mul, randn, realize, sum, treeLeaves, valueAndGrad } from '../../tensor/index.ts';
import { mergeAdapter } from '../common/merge-adapter.ts';
import { attachLora, type LoraFactors } from '../common/param-spec.ts';
import { batchTensors, packBatch, type Qwen2VLBatch } from './batch.ts';
import { parseQwen2VLConfig, type Qwen2VLConfig } from './config.ts';
import { FIXTURES, goldenArray, goldenBatch, goldenCase } from './fixtures.test-helper.ts';
import { qwen2VLForward } from './forward.ts';
import { Qwen2VLModel } from './model.ts';
import { buildParams, readQwen2VLWeights, type Qwen2VLParams } from './weights.ts';

configureRuntime({ threads: 1 });

type Factors = Record<string, LoraFactors<Tensor>>;

const tinyA = (async () => {
  const dir = join(FIXTURES, 'tiny-a');
  const cfg = parseQwen2VLConfig(await readJsonFile('qwen2_vl', join(dir, 'config.json')), { strict: false });
  const ckpt = await Checkpoint.open(dir);
  const host = await readQwen2VLWeights(ckpt, cfg).finally(() => ckpt.close());
  return { cfg, host, params: buildParams(host, cfg) };
})();

/** One training-style step: loss = Σ probe·embedding through the pure forward, factors as the argument. */
async function step(params: Qwen2VLParams, cfg: Qwen2VLConfig, batch: Qwen2VLBatch, factors: Factors, scaling: number, probe: Tensor) {
  const tensors = batchTensors(packBatch(batch, cfg), cfg);
  const f = valueAndGrad((lora: Factors) => {
    const out = qwen2VLForward(attachLora(params, lora, scaling), cfg, tensors);
    return [sum(mul(out.embedding, probe)), out];
  }, { hasAux: true });
  const [[loss, out], grads] = f(factors) as unknown as [[Tensor, { hidden: Tensor; embedding: Tensor }], Factors];
  await realize([loss, out.hidden, out.embedding, ...(treeLeaves(grads) as Tensor[])]);
  return { loss, hidden: out.hidden, embedding: out.embedding, grads };
}

const maxAbsDiff = (a: Float32Array, b: Float32Array): number => {
  assert.equal(a.length, b.length);
  return Math.max(...a.map((x, i) => Math.abs(x - b[i]!)));
};

/** The adapter's factors as tensors keyed by checkpoint module path, and its (single) scaling. */
function adapterFactors(ad: PeftAdapter): { factors: Factors; scaling: number } {
  const factors: Factors = {};
  const scalings = new Set<number>();
  for (const [module, m] of ad.modules) {
    factors[module] = { A: fromArray(m.loraA.data as Float32Array, [...m.loraA.shape], 'float32'), B: fromArray(m.loraB.data as Float32Array, [...m.loraB.shape], 'float32') };
    scalings.add(m.scaling);
  }
  assert.equal(scalings.size, 1);
  return { factors, scaling: [...scalings][0]! };
}

test('text-only: LoRA factors as differentiable arguments give the merged-weights inference embedding, finite non-zero gradients', async () => {
  const { cfg, host, params } = await tinyA;
  // LoRA on q_proj and v_proj of every layer, rank 2, alpha/r = 2, fixed random factors.
  const r = 2;
  const scaling = 2;
  let seed = 7;
  const factors: Factors = {};
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
  const batch = goldenBatch(goldenCase('a_text'));
  const want = (await Qwen2VLModel.fromParams(cfg, buildParams(merged, cfg)).encode(batch)).embeddings;
  const base = (await Qwen2VLModel.fromParams(cfg, params).encode(batch)).embeddings;
  const moved = maxAbsDiff(want, base);
  assert.ok(moved > 1e-2, `the adapter must change the embeddings for the comparison to mean anything (max |Δ| ${moved})`);

  const probe = randn([batch.shape[0], cfg.text.hiddenSize], { seed: 99 }); // every row and dim gets a gradient
  const { embedding, grads } = await step(params, cfg, batch, factors, scaling, probe);
  const diff = maxAbsDiff((await embedding.data()) as Float32Array, want);
  assert.ok(diff < 1e-5, `pure forward vs merged inference: max |Δ| ${diff}`);
  assert.equal(treeLeaves(grads).length, 4 * cfg.text.numHiddenLayers);
  for (const [module, g] of Object.entries(grads)) {
    for (const [name, t] of [['A', g.A], ['B', g.B]] as const) {
      const x = (await t.data()) as Float32Array;
      assert.ok(x.every(Number.isFinite), `${module}.${name}: finite`);
      assert.ok(x.some((y) => y !== 0), `${module}.${name}: non-zero`);
    }
  }
});

test('mixed text / image / video rows (a literal <|image_pad|> in a text row, per-row media): pure forward = merged inference', async () => {
  const { cfg, params } = await tinyA;
  const dir = join(FIXTURES, 'lora-grad');
  const adapter = await loadAdapter(dir);
  const { factors, scaling } = adapterFactors(adapter);
  // WebQA-style text row with <|image_pad|> as a token, an image row, a video row and a text row;
  // positions, last tokens, vision packing and the scatter index all come from batch.ts.
  const batch: Qwen2VLBatch = { ...goldenBatch(goldenCase('a_text_pad_mixed'), false), imagesPerRow: [0, 1, 0, 0], videosPerRow: [0, 0, 1, 0] };
  const packed = packBatch(batch, cfg);
  assert.deepEqual([packed.numFeatures, new Set(packed.segments).size], [6 + 24, 1 + 4], 'an image grid [1, 4, 6] and a video grid [4, 4, 6]: 30 features, 5 segments');
  const merged = await Qwen2VLModel.load(join(FIXTURES, 'tiny-a'), { adapter });
  const want = await merged.encode(batch);
  const base = await Qwen2VLModel.fromParams(cfg, params).encode(batch);
  assert.ok(maxAbsDiff(want.embeddings, base.embeddings) > 1e-2, 'the adapter changes the embeddings');

  const probe = randn([batch.shape[0], cfg.text.hiddenSize], { seed: 3 });
  const { hidden, embedding, grads } = await step(params, cfg, batch, factors, scaling, probe);
  const dh = maxAbsDiff((await hidden.data()) as Float32Array, want.hidden);
  const de = maxAbsDiff((await embedding.data()) as Float32Array, want.embeddings);
  assert.ok(dh < 1e-5 && de < 1e-5, `pure forward (one vision call, segments) vs merged per-slice inference: hidden ${dh}, embedding ${de}`);
  for (const t of treeLeaves(grads) as Tensor[]) {
    const x = (await t.data()) as Float32Array;
    assert.ok(x.every(Number.isFinite) && x.some((y) => y !== 0), 'finite, non-zero gradients');
  }
});

test('loss, embeddings and LoRA gradients of a mixed batch match PyTorch + peft (float64 reference; gradients rel err ≤ 1e-5)', async () => {
  // tools/reference/model_qwen2vl_lora_grad.py: tiny-a + peft LoRA (r 4, alpha 8, q_proj/v_proj),
  // case a_mixed_left (text, image, video, text, 3 images, tiny image; left padded),
  // loss = Σ probe·embedding. Tolerances: the float32 torch run is within 1.0e-6 (relative L2 error
  // per gradient tensor) of the float64 reference. Ours: gradients ≤ 1e-5 (observed ≤ 9.4e-7),
  // embeddings ≤ 1e-5 absolute (observed 2.5e-7), hidden ≤ 1e-4 (1.2e-6), loss ≤ 1e-5 relative.
  const { cfg, params } = await tinyA;
  const dir = join(FIXTURES, 'lora-grad');
  const ref = (await readJsonFile('test', join(dir, 'reference.json'))) as { case: string; lora: { scaling: number } };
  const adapter = await loadAdapter(dir);
  const { factors, scaling } = adapterFactors(adapter);
  assert.equal(scaling, ref.lora.scaling, 'alpha / r');
  assert.deepEqual(Object.keys(factors).sort(), ['0', '1'].flatMap((i) => ['q_proj', 'v_proj'].map((m) => `model.layers.${i}.self_attn.${m}`)));
  const out = await SafetensorsFile.open(join(dir, 'outputs.safetensors'));
  const read = async (f: SafetensorsFile, k: string) => (await f.read(k)).data as Float32Array;
  const [probeData, wantHidden, wantEmb, wantLoss] = await Promise.all(['probe', 'hidden', 'embedding', 'loss'].map((k) => read(out, k)));
  await out.close();

  const c = goldenCase(ref.case);
  const batch = goldenBatch(c, false); // batch.ts derives the positions
  const packed = packBatch(batch, cfg);
  const [b, l] = batch.shape;
  const goldenPos = goldenArray(c, 'position_ids')!.data as BigInt64Array; // 1-D [B, L], the same on t/h/w
  assert.deepEqual(packed.positions, BigInt64Array.from({ length: 3 * b * l }, (_, i) => goldenPos[i % (b * l)]!));
  const probe = fromArray(probeData!, [b, cfg.text.hiddenSize], 'float32');
  const got = await step(params, cfg, batch, factors, scaling, probe);

  const loss = ((await got.loss.data()) as Float32Array)[0]!;
  assert.ok(Math.abs(loss - wantLoss![0]!) <= 1e-5 * Math.max(1, Math.abs(wantLoss![0]!)), `loss ${loss} vs ${wantLoss![0]}`);
  const dh = maxAbsDiff((await got.hidden.data()) as Float32Array, wantHidden!);
  const de = maxAbsDiff((await got.embedding.data()) as Float32Array, wantEmb!);
  assert.ok(dh < 1e-4 && de < 1e-5, `hidden max |Δ| ${dh}, embedding max |Δ| ${de}`);

  const gf = await SafetensorsFile.open(join(dir, 'grads.safetensors'));
  try {
    const names = gf.names();
    assert.equal(names.length, 2 * Object.keys(factors).length);
    for (const name of names) {
      // peft's key: base_model.model.model.language_model.layers.0.self_attn.q_proj.lora_A.weight
      const m = /^(.+)\.lora_(A|B)\.weight$/.exec(name);
      assert.ok(m, name);
      const g = got.grads[checkpointModulePath(m[1]!)];
      assert.ok(g, `no gradient for ${name}`);
      const want = await read(gf, name);
      const have = (await g[m[2] as 'A' | 'B'].data()) as Float32Array;
      assert.equal(have.length, want.length, name);
      let num = 0;
      let den = 0;
      for (let i = 0; i < want.length; i++) {
        num += (have[i]! - want[i]!) ** 2;
        den += want[i]! ** 2;
      }
      const rel = Math.sqrt(num / den);
      assert.ok(den > 0 && rel <= 1e-5, `${name}: relative error ${rel}`);
    }
  } finally {
    await gf.close();
  }
});
