// The gradient of a training step (step.ts) on the tiny Qwen2-VL (test/fixtures/model/tiny-a)
// with LoRA factors as the trainable leaves (models/qwen2-vl/trainable.ts):
//  - the whole-batch step = PyTorch + peft's InfoNCE step (tools/reference/train_step.py,
//    lora_step.safetensors: float64 reference; the float32 torch run is within 1.3e-6 relative
//    L2 error per gradient tensor of it, so gradients are held to 1e-5, as forward.test.ts does);
//    (observed: loss 7e-8 relative, gradients ≤ 1.24e-6, reps ≤ 2.6e-7 absolute);
//  - GradCache with several chunk sizes = the whole-batch step, within float noise (different
//    matmul shapes only): gradients ≤ 2e-6 relative (observed ≤ 2.3e-7, the loss identical),
//    while losing one chunk's VJP is off by more than 1e-2;
//  - three optimizer steps (TrainStep: gradient, clip, AdamW, linear schedule with warmup) for a
//    LoRA and a DoRA continuing from an adapter and for full fine-tuning, GradCache on and off = HF Trainer +
//    torch's three steps (train3.*): per-step loss, lr and pre-clip grad norm, and the weights;
//  - the same with LoRA dropout 0.1 on the LoRA and the DoRA (train3.{lora,dora}_dropout: peft
//    given our masks, nn/dropout.ts), GradCache on and off; GradCache with dropout = the whole
//    batch with dropout; a run resumed mid-way with dropout = an unbroken one, bit for bit.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Checkpoint } from '../io/weights/checkpoint.ts';
import { readJsonFile } from '../io/weights/hf-configs.ts';
import { checkpointModulePath, loadAdapter } from '../io/weights/peft.ts';
import { Vlm2VecError } from '../errors.ts';
import { parseQwen2VLConfig } from '../models/qwen2-vl/config.ts';
import { FIXTURES, goldenBatch, goldenCase } from '../models/qwen2-vl/fixtures.test-helper.ts';
import type { Qwen2VLBatch } from '../models/qwen2-vl/batch.ts';
import { qwen2VLFullTrainable, qwen2VLTrainable, sliceQwen2VLBatch, type FrozenVisionBatch, type Qwen2VLLoraFactors } from '../models/qwen2-vl/trainable.ts';
import { buildParams, qwen2VLParamSpecs, readQwen2VLWeights } from '../models/qwen2-vl/weights.ts';
import type { TrainableEncoder } from '../models/encoder.ts';
import type { Tensor } from '../tensor/index.ts';
import { configureRuntime, fromArray, matmul, stopGradient } from '../tensor/index.ts';
import { maxAbsDiff, need, readStepIds, readStepJson, readStepTensors, relL2 } from './fixtures.test-helper.ts';
import { ADAMW_DEFAULTS, decays } from './optim.ts';
import { gradCacheStep, plainStep, TrainStep } from './step.ts';

configureRuntime({ threads: 1 });

const setup = (async () => {
  const dir = join(FIXTURES, 'tiny-a');
  const cfg = parseQwen2VLConfig(await readJsonFile('qwen2_vl', join(dir, 'config.json')), { strict: false });
  const ckpt = await Checkpoint.open(dir);
  const host = await readQwen2VLWeights(ckpt, cfg).finally(() => ckpt.close());
  const adapter = await loadAdapter(join(FIXTURES, 'lora-grad'));
  const factors: Qwen2VLLoraFactors = {};
  for (const [module, m] of adapter.modules) {
    factors[module] = { A: fromArray(m.loraA.data as Float32Array, [...m.loraA.shape]), B: fromArray(m.loraB.data as Float32Array, [...m.loraB.shape]) };
  }
  const scaling = [...adapter.modules.values()][0]!.scaling;
  const params = buildParams(host, cfg);
  const enc = qwen2VLTrainable(params, cfg, { scaling, normalize: true });
  // The DoRA fixture adapter (r 4, alpha 8, q/k/v/o/gate/up/down_proj): factors and magnitudes.
  const dora = await loadAdapter(join(FIXTURES, 'tiny-a-dora'));
  const doraFactors: Qwen2VLLoraFactors = {};
  for (const [module, m] of dora.modules) {
    doraFactors[module] = {
      A: fromArray(m.loraA.data as Float32Array, [...m.loraA.shape]), B: fromArray(m.loraB.data as Float32Array, [...m.loraB.shape]),
      m: fromArray(m.magnitude!.data as Float32Array, [...m.magnitude!.shape]),
    };
  }
  const doraScaling = [...dora.modules.values()][0]!.scaling;
  const doraEnc = qwen2VLTrainable(params, cfg, { scaling: doraScaling, normalize: true });
  // The same adapters with LoRA dropout (the reference's default 0.1).
  const dropEnc = (p: number, dora: boolean) => qwen2VLTrainable(params, cfg, { scaling: dora ? doraScaling : scaling, normalize: true, dropout: p });
  return { cfg, host, enc, factors, doraEnc, doraFactors, dropEnc };
})();

test('whole-batch InfoNCE step on tiny-a + LoRA (queries: text, image, video; targets: text, 3 images, tiny image) = PyTorch + peft', async () => {
  const { cfg, enc, factors } = await setup;
  const ref = await readStepJson<{ case: string; queries: number[]; targets: number[]; temperature: number; float32_torch_max_rel_grad_err: number }>('lora_step.json');
  const t = await readStepTensors('lora_step.safetensors');
  const batch = goldenBatch(goldenCase(ref.case));
  const q = sliceQwen2VLBatch(batch, cfg, ref.queries[0]!, ref.queries.at(-1)! + 1);
  const p = sliceQwen2VLBatch(batch, cfg, ref.targets[0]!, ref.targets.at(-1)! + 1);
  assert.deepEqual([q.imageGrids!.length, q.videoGrids!.length, p.imageGrids!.length, p.videoGrids!.length], [1, 1, 4, 0]);

  const dq = maxAbsDiff(await enc.reps(factors, q).data() as Float32Array, need(t, 'q'));
  const dp = maxAbsDiff(await enc.reps(factors, p).data() as Float32Array, need(t, 'p'));
  assert.ok(dq <= 1e-5 && dp <= 1e-5, `reps max |Δ| q ${dq}, p ${dp}`);

  const got = await plainStep(enc, factors, q, p, { temperature: ref.temperature });
  const want = need(t, 'loss')[0]!;
  assert.ok(Math.abs(got.loss - want) <= 1e-5 * Math.abs(want), `loss ${got.loss} vs ${want}`);
  const keys = [...t.keys()].filter((k) => k.startsWith('grad.'));
  assert.equal(keys.length, got.paths.length);
  for (const k of keys) {
    const m = /^grad\.(.+)\.lora_(A|B)\.weight$/.exec(k)!;
    const j = got.paths.indexOf(`${checkpointModulePath(m[1]!)}.${m[2]}`);
    assert.ok(j >= 0, `no gradient for ${k} among ${got.paths.join(', ')}`);
    const rel = relL2(got.grads[j]!, need(t, k));
    assert.ok(rel <= 1e-5, `${k}: relative error ${rel}`);
  }
});

test('GradCache (chunks 1/1, 2/3, 3/2) gives the whole-batch loss and gradients within float noise (rel ≤ 2e-6)', async () => {
  const { enc, factors } = await setup;
  // 6 left-padded queries against 6 right-padded targets (the same items), positions from batch.ts.
  const q = goldenBatch(goldenCase('a_mixed_left'), false);
  const p = goldenBatch(goldenCase('a_mixed_right'), false);
  const plain = await plainStep(enc, factors, q, p, { temperature: 0.02 });
  for (const [qc, pc] of [[1, 1], [2, 3], [3, 2]] as const) {
    const gc = await gradCacheStep(enc, factors, q, p, { temperature: 0.02, qChunkSize: qc, pChunkSize: pc });
    assert.deepEqual(gc.paths, plain.paths);
    assert.ok(Math.abs(gc.loss - plain.loss) <= 1e-5 * Math.abs(plain.loss), `chunks ${qc}/${pc}: loss ${gc.loss} vs ${plain.loss}`);
    const worst = Math.max(...gc.grads.map((g, j) => relL2(g, plain.grads[j]!)));
    assert.ok(worst <= 2e-6, `chunks ${qc}/${pc}: worst relative gradient error ${worst}`);
  }
  // The tolerance catches a chunk whose VJP is lost: pass 2 of the first query chunk without gradient.
  let calls = 0;
  const firstQueryVjp = 6 / 3 + 6 / 2 + 1; // pass 1 (2 + 3 chunks), then this one
  const dropped = { ...enc, reps: (f: Qwen2VLLoraFactors, b: Qwen2VLBatch) => (++calls === firstQueryVjp ? stopGradient(enc.reps(f, b)) : enc.reps(f, b)) };
  const bad = await gradCacheStep(dropped, factors, q, p, { temperature: 0.02, qChunkSize: 3, pChunkSize: 2 });
  assert.equal(calls, 6 / 3 + 6 / 2 + 6 / 3 + 6 / 2);
  const off = Math.max(...bad.grads.map((g, j) => relL2(g, plain.grads[j]!)));
  assert.ok(off > 1e-2, `a dropped chunk is off by ${off}`);
});

test('GradCache takes a frozen vision tower\'s features from prepare (one run of the tower per step): the same loss and gradients as running it in both passes', async () => {
  const { cfg, enc, factors } = await setup;
  const q = goldenBatch(goldenCase('a_mixed_left'), false);
  const p = goldenBatch(goldenCase('a_mixed_right'), false);
  const prepared = (await enc.prepare!(factors, q)) as FrozenVisionBatch;
  // a_mixed_left: one image, one video of 2 temporal slices, three images, one tiny image.
  assert.equal(prepared.frozenVision!.size, (q.imageGrids ?? []).length + (q.videoGrids ?? []).reduce((n, [t]) => n + t, 0));
  assert.equal((sliceQwen2VLBatch(prepared, cfg, 1, 3) as FrozenVisionBatch).frozenVision, prepared.frozenVision);
  // reps read the features from there: zeroed ones change the reps of the rows with media.
  const zeroed = { ...prepared, frozenVision: new Map([...prepared.frozenVision!].map(([k, f]) => [k, new Float32Array(f.length)])) };
  assert.ok(maxAbsDiff(await enc.reps(factors, zeroed).data() as Float32Array, await enc.reps(factors, prepared).data() as Float32Array) > 1e-3);
  const opts = { temperature: 0.02, qChunkSize: 2, pChunkSize: 3 };
  const withPrepare = await gradCacheStep(enc, factors, q, p, opts);
  const without = await gradCacheStep({ rows: enc.rows, sliceRows: enc.sliceRows, reps: enc.reps }, factors, q, p, opts);
  assert.ok(Math.abs(withPrepare.loss - without.loss) <= 1e-6 * Math.abs(without.loss), `loss ${withPrepare.loss} vs ${without.loss}`);
  const worst = Math.max(...withPrepare.grads.map((g, j) => relL2(g, without.grads[j]!)));
  assert.ok(worst <= 2e-6, `worst relative gradient error ${worst}`);
  assert.equal(await enc.prepare!({ ...factors, 'visual.blocks.0.attn.qkv': factors[Object.keys(factors)[0]!]! }, q), q, 'a trained tower is not cached');
});

test('hard negatives (two targets per query: 3 queries, 6 targets): GradCache (chunks 1/2, 3/3) = the whole batch', async () => {
  const { cfg, enc, factors } = await setup;
  const q = sliceQwen2VLBatch(goldenBatch(goldenCase('a_mixed_left'), false), cfg, 0, 3);
  const p = goldenBatch(goldenCase('a_mixed_right'), false); // rows grouped [pos_i, neg_i] for i = 0..2
  const plain = await plainStep(enc, factors, q, p, { temperature: 0.02 });
  for (const [qc, pc] of [[1, 2], [3, 3]] as const) {
    const gc = await gradCacheStep(enc, factors, q, p, { temperature: 0.02, qChunkSize: qc, pChunkSize: pc });
    assert.ok(Math.abs(gc.loss - plain.loss) <= 1e-6 * Math.abs(plain.loss), `chunks ${qc}/${pc}: loss ${gc.loss} vs ${plain.loss}`);
    const worst = Math.max(...gc.grads.map((g, j) => relL2(g, plain.grads[j]!)));
    assert.ok(worst <= 2e-6, `chunks ${qc}/${pc}: worst relative gradient error ${worst}`);
  }
});

test('GradCache refuses chunk sizes that do not divide the batch; row slicing refuses ranges outside it', async () => {
  const { cfg, enc, factors } = await setup;
  const q = goldenBatch(goldenCase('a_mixed_left'));
  await assert.rejects(gradCacheStep(enc, factors, q, q, { temperature: 0.02, qChunkSize: 4, pChunkSize: 2 }), (e: unknown) => e instanceof Vlm2VecError && /gc_q_chunk_size 4 must be a positive integer dividing the batch of 6/.test(e.message));
  await assert.rejects(gradCacheStep(enc, factors, q, q, { temperature: 0.02, qChunkSize: 2, pChunkSize: 0 }), /gc_p_chunk_size 0/);
  assert.throws(() => sliceQwen2VLBatch(q, cfg, 4, 7), /\[4, 7\) is not inside the batch of 6 rows/);
});

interface Train3Run { lr: number; loss_per_step: number[]; lr_per_step: number[]; grad_norm_per_step: number[]; float32_vs_float64_max_abs: number; trainable: number }
type Kind = 'lora' | 'dora' | 'full' | 'lora_dropout' | 'dora_dropout';
interface Train3 {
  case: string; rows: [[number, number], [number, number]][]; warmup_steps: number; max_grad_norm: number; weight_decay: number; temperature: number;
  dropout: number; seed: number; runs: Record<Kind, Train3Run>;
}

/** Three TrainSteps as train3 ran them; the largest |Δ| of the trained parameters against torch's. */
async function train3(kind: Kind, gradCache: boolean, tweak: { noClip?: boolean; scheduleShift?: number; seed?: number } = {}) {
  const { cfg, enc, factors, host, doraEnc, doraFactors, dropEnc } = await setup;
  const ref = await readStepJson<Train3>('train3.json');
  const run = ref.runs[kind];
  const want = await readStepTensors(`train3.${kind}.safetensors`);
  const batch = goldenBatch(goldenCase(ref.case));
  const roles = new Map(qwen2VLParamSpecs(cfg).map((s) => [s.path, s.role]));
  const opts = {
    ...ADAMW_DEFAULTS, weightDecay: ref.weight_decay, learningRate: run.lr, schedule: 'linear' as const, warmupSteps: ref.warmup_steps,
    totalSteps: ref.rows.length, maxGradNorm: tweak.noClip ? 0 : ref.max_grad_norm, temperature: ref.temperature,
    gradCache: gradCache ? { qChunkSize: 1, pChunkSize: 3 } : undefined, seed: tweak.seed ?? ref.seed,
  };
  const train = kind === 'lora' ? await TrainStep.create(enc, factors, opts)
    : kind === 'dora' ? await TrainStep.create(doraEnc, doraFactors, opts)
    : kind === 'lora_dropout' ? await TrainStep.create(dropEnc(ref.dropout, false), factors, opts)
    : kind === 'dora_dropout' ? await TrainStep.create(dropEnc(ref.dropout, true), doraFactors, opts)
    : await TrainStep.create(qwen2VLFullTrainable(cfg, { normalize: true }), buildParams(host, cfg), { ...opts, decay: (path) => decays(path, roles.get(path)!) });
  train.optimizer.schedulerStep = tweak.scheduleShift ?? 0;
  const infos = [];
  for (const [[qa, qb], [pa, pb]] of ref.rows) infos.push(await train.step(sliceQwen2VLBatch(batch, cfg, qa, qb), sliceQwen2VLBatch(batch, cfg, pa, pb)));
  let err = 0; // from torch's float32 run
  let err64 = 0; // from torch's float64 run (the reference)
  let compared = 0;
  const ids = kind === 'full' ? await readStepIds('train3.full.safetensors', 'embed_tokens.ids') : [];
  for (const m of train.master) {
    const key = kind === 'full' ? m.name : m.name.replace(/\.(A|B)$/, '.lora_$1.weight').replace(/\.m$/, '.lora_magnitude_vector.weight');
    const w = need(want, key);
    let got = m.data;
    if (m.name === 'model.embed_tokens.weight') {
      const d = cfg.text.hiddenSize;
      got = new Float32Array(ids.length * d);
      ids.forEach((id, r) => got.set(m.data.subarray(id * d, (id + 1) * d), r * d));
    }
    err = Math.max(err, maxAbsDiff(got, w));
    err64 = Math.max(err64, maxAbsDiff(got, need(want, `f64.${key}`)));
    compared++;
  }
  return { run, infos, err, err64, compared };
}

// Tolerance of the trained weights, against torch's float64 run of the same three steps: twice
// torch's own float32 run's distance from it (3.0e-7 for LoRA, 6.2e-7 for DoRA, 3.4e-6 for full
// fine-tuning). Ours is observed at 1.5e-7, 6.9e-7 and 8.0e-7: as close as torch's float32 run.
// That distance is itself noisy: the same LoRA steps with dropout put torch's float32 run 1.3e-7
// from float64 (ours 3.6e-7, 6 ulps of the largest weight), so a dropout run takes the larger of
// its own and its adapter's run without dropout (LoRA 5.9e-7, DoRA 1.2e-6; DoRA observed 2.4e-7).
const weightTol = (ref: Train3, kind: Kind): number =>
  2 * Math.max(ref.runs[kind].float32_vs_float64_max_abs, ref.runs[kind.replace('_dropout', '') as Kind].float32_vs_float64_max_abs);

const KIND_NAMES: Record<Kind, string> = {
  lora: 'LoRA continuing from an adapter', dora: 'DoRA continuing from an adapter', full: 'full fine-tuning',
  lora_dropout: 'LoRA with dropout 0.1 (peft given our masks)', dora_dropout: 'DoRA with dropout 0.1 (peft given our masks)',
};
for (const kind of ['lora', 'dora', 'full', 'lora_dropout', 'dora_dropout'] as const) {
  for (const gc of [false, true]) {
    test(`three steps, ${KIND_NAMES[kind]}, GradCache ${gc ? 'on (chunks 1/3)' : 'off'}: losses, lr, grad norms and the trained weights = HF Trainer + torch`, async () => {
      const { run, infos, err64, compared } = await train3(kind, gc);
      assert.equal(compared, run.trainable, 'every trainable parameter of the reference is compared');
      infos.forEach((s, k) => {
        assert.ok(Math.abs(s.loss - run.loss_per_step[k]!) <= 1e-5 * Math.max(1, run.loss_per_step[k]!), `step ${k}: loss ${s.loss} vs ${run.loss_per_step[k]}`);
        assert.equal(s.learningRate, run.lr_per_step[k], `step ${k}: lr`);
        assert.ok(Math.abs(s.gradNorm - run.grad_norm_per_step[k]!) <= 3e-5 * run.grad_norm_per_step[k]!, `step ${k}: grad norm ${s.gradNorm} vs ${run.grad_norm_per_step[k]}`);
      });
      assert.equal(infos[0]!.learningRate, 0, 'warmup: the first step has lr 0');
      assert.ok(infos.every((s) => s.gradNorm > 1), 'every step is clipped');
      const tol = weightTol(await readStepJson<Train3>('train3.json'), kind);
      assert.ok(err64 <= tol, `trained weights max |Δ| ${err64} from the float64 reference (tolerance ${tol})`);
    });
  }
}

test('the weight tolerance catches a schedule one step ahead and a missing clip (LoRA, DoRA, full fine-tuning)', async () => {
  for (const kind of ['lora', 'dora', 'full'] as const) {
    const tol = weightTol(await readStepJson<Train3>('train3.json'), kind);
    const shifted = (await train3(kind, false, { scheduleShift: 1 })).err64;
    const unclipped = (await train3(kind, false, { noClip: true })).err64;
    assert.ok(shifted > 10 * tol && unclipped > 10 * tol, `${kind}: shifted schedule off by ${shifted}, no clip by ${unclipped} (tolerance ${tol})`);
  }
});

test('the dropout goldens catch other masks (seed 43 instead of 42) and a run without dropout', async () => {
  const ref = await readStepJson<Train3>('train3.json');
  for (const kind of ['lora_dropout', 'dora_dropout'] as const) {
    const tol = weightTol(ref, kind);
    const reseeded = await train3(kind, false, { seed: 43 });
    const plain = (await train3(kind === 'lora_dropout' ? 'lora' : 'dora', false)).infos[0]!.loss;
    assert.ok(reseeded.err64 > 10 * tol, `${kind}: other masks are off by only ${reseeded.err64} (tolerance ${tol})`);
    assert.ok(Math.abs(plain - ref.runs[kind].loss_per_step[0]!) > 1e-2, `${kind}: the first loss without dropout ${plain} is that of the dropout run`);
  }
});

test('LoRA dropout: GradCache = the whole batch with the same masks; dropout 0 and evaluation (no random) drop nothing', async () => {
  const { cfg, doraFactors, doraEnc, dropEnc } = await setup;
  const q = goldenBatch(goldenCase('a_mixed_left'), false);
  const p = goldenBatch(goldenCase('a_mixed_right'), false);
  const random = { seed: 7, step: 3 };
  const enc = dropEnc(0.3, true);
  const plain = await plainStep(enc, doraFactors, q, p, { temperature: 0.02, random });
  for (const [qc, pc] of [[2, 3], [1, 6]] as const) {
    const gc = await gradCacheStep(enc, doraFactors, q, p, { temperature: 0.02, qChunkSize: qc, pChunkSize: pc, random });
    assert.ok(Math.abs(gc.loss - plain.loss) <= 1e-5 * Math.abs(plain.loss), `chunks ${qc}/${pc}: loss ${gc.loss} vs ${plain.loss}`);
    const worst = Math.max(...gc.grads.map((g, j) => relL2(g, plain.grads[j]!)));
    assert.ok(worst <= 2e-6, `chunks ${qc}/${pc}: worst relative gradient error ${worst}`);
  }
  // The masks matter, and move with the step (the same batch at step 4 draws others).
  const none = await plainStep(doraEnc, doraFactors, q, p, { temperature: 0.02 });
  const next = await plainStep(enc, doraFactors, q, p, { temperature: 0.02, random: { seed: 7, step: 4 } });
  assert.ok(Math.abs(plain.loss - none.loss) > 1e-2 && Math.abs(plain.loss - next.loss) > 1e-3, `losses: step 3 ${plain.loss}, step 4 ${next.loss}, no dropout ${none.loss}`);
  // Dropout 0 is the path without dropout, bit for bit; without `random` (evaluation) nothing is dropped.
  const zero = await plainStep(dropEnc(0, true), doraFactors, q, p, { temperature: 0.02, random });
  assert.equal(zero.loss, none.loss);
  zero.grads.forEach((g, j) => assert.deepEqual(g, none.grads[j], `dropout 0: gradient of ${zero.paths[j]}`));
  const rows = sliceQwen2VLBatch(q, cfg, 0, 3);
  assert.deepEqual(await enc.reps(doraFactors, rows).data(), await doraEnc.reps(doraFactors, rows).data());
});

test('LoRA dropout: a run resumed after step 1 (weights, AdamW state, scheduler step) ends bit-identical to an unbroken one', async () => {
  const { cfg, doraFactors, dropEnc } = await setup;
  const ref = await readStepJson<Train3>('train3.json');
  const batch = goldenBatch(goldenCase(ref.case));
  const enc = dropEnc(0.1, true);
  const opts = {
    ...ADAMW_DEFAULTS, weightDecay: 0.1, learningRate: 1e-2, schedule: 'linear' as const, warmupSteps: 1, totalSteps: 3, maxGradNorm: 1,
    temperature: 0.02, gradCache: { qChunkSize: 1, pChunkSize: 3 }, seed: 11,
  };
  const steps = ref.rows.map(([[qa, qb], [pa, pb]]) => [sliceQwen2VLBatch(batch, cfg, qa, qb), sliceQwen2VLBatch(batch, cfg, pa, pb)] as const);
  const whole = await TrainStep.create(enc, doraFactors, opts);
  for (const [q, p] of steps) await whole.step(q, p);
  const first = await TrainStep.create(enc, doraFactors, opts);
  await first.step(steps[0]![0], steps[0]![1]);
  const resumed = await TrainStep.create(enc, first.params, opts);
  resumed.optimizer.adamw.loadState(first.optimizer.adamw.state());
  resumed.optimizer.schedulerStep = first.optimizer.schedulerStep;
  for (const [q, p] of steps.slice(1)) await resumed.step(q, p);
  whole.master.forEach((m, j) => assert.deepEqual(resumed.master[j]!.data, m.data, `${m.name} after the resumed run`));
});

test('LoRA dropout on a vision module (per image): deterministic for a site, moved by the step, absent without random', async () => {
  const { cfg, host } = await setup;
  const specs = qwen2VLParamSpecs(cfg);
  const module = 'visual.blocks.0.attn.qkv';
  const [out, inF] = specs.find((s) => s.path === `${module}.weight`)!.shape as [number, number];
  const wave = (n: number, k: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * k) * 0.2);
  const f: Qwen2VLLoraFactors = { [module]: { A: fromArray(wave(4 * inF, 0.7), [4, inF]), B: fromArray(wave(out * 4, 1.3), [out, 4]) } };
  const params = buildParams(host, cfg);
  const enc = qwen2VLTrainable(params, cfg, { scaling: 2, normalize: true, dropout: 0.5 });
  const plain = qwen2VLTrainable(params, cfg, { scaling: 2, normalize: true });
  const rows = sliceQwen2VLBatch(goldenBatch(goldenCase('a_mixed_left')), cfg, 3, 6); // text; 3 images; a tiny image
  const at = (step: number) => ({ seed: 1, step, side: 0 as const, firstRow: 0 });
  const a = (await enc.reps(f, rows, at(0)).data()) as Float32Array;
  assert.deepEqual(await enc.reps(f, rows, at(0)).data(), a);
  const b = (await enc.reps(f, rows, at(1)).data()) as Float32Array;
  const none = (await plain.reps(f, rows).data()) as Float32Array;
  assert.ok(maxAbsDiff(a, b) > 1e-4 && maxAbsDiff(a, none) > 1e-4, `step 0 vs 1: ${maxAbsDiff(a, b)}, vs no dropout ${maxAbsDiff(a, none)}`);
  assert.deepEqual(await enc.reps(f, rows).data(), none);
});

test('any backbone behind TrainableEncoder: a toy linear encoder steps, and a NaN loss stops the step before the weights change', async () => {
  // reps = rows of x·W (x: the batch as a [n, 2] matrix), W [2, 2] the one trainable leaf.
  const toy: TrainableEncoder<{ W: Tensor }, number[][]> = {
    rows: (b) => b.length,
    sliceRows: (b, s, e) => b.slice(s, e),
    reps: (p, b) => matmul(fromArray(b.flat(), [b.length, 2]), p.W),
  };
  const opts = { ...ADAMW_DEFAULTS, temperature: 1, learningRate: 0.1, schedule: 'constant' as const, warmupSteps: 0, totalSteps: 2, maxGradNorm: 1 };
  const train = await TrainStep.create(toy, { W: fromArray([1, 0, 0, 1], [2, 2]) }, opts);
  const ok = await train.step([[1, 0], [0, 1]], [[1, 0], [0, 1]]);
  // Identity W: scores = I, loss = log(e + 1) − 1 for both rows.
  assert.ok(Math.abs(ok.loss - (Math.log(Math.E + 1) - 1)) < 1e-6, `loss ${ok.loss}`);
  const before = Float32Array.from(train.master[0]!.data);
  assert.ok(before.some((x, i) => Math.abs(x - [1, 0, 0, 1][i]!) > 0.05), 'the first step (lr 0.1, constant) moved W');
  await assert.rejects(train.step([[NaN, 0], [0, 1]], [[1, 0], [0, 1]]), (e: unknown) => e instanceof Vlm2VecError && /step 1: the loss is NaN; the weights were not updated/.test(e.message));
  assert.deepEqual(train.master[0]!.data, before);
  assert.equal(train.optimizer.schedulerStep, 1);
});
