// The optimizer side of a step (optim.ts) against HF's Trainer as tools/reference/train_step.py
// runs it (optim.safetensors / optim.json): torch AdamW with two parameter groups, transformers'
// get_scheduler (linear, cosine, constant, constant_with_warmup; warmup as a count and as a
// ratio), clip_grad_norm_, in the Trainer's order; 5 steps whose gradient norms straddle
// max_grad_norm. Tolerance: the parameters after every step within 5e-7 absolute of torch's
// float32 run: torch's own float32 and float64 runs differ by up to 2.0e-7 there (optim.json),
// so an implementation at another precision passes too; ours rounds every op to float32 in
// torch's order and is observed bit-identical on 3 cases, ≤ 3.0e-8 on cosine. A schedule one step
// off or a missing clip moves the parameters by more than 1000× the tolerance, shown below. And the decay groups against Trainer.get_decay_parameter_names
// (decay.json) on every tiny-a parameter and on a peft DoRA's trainable parameters.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readJsonFile } from '../io/weights/hf-configs.ts';
import { parseQwen2VLConfig } from '../models/qwen2-vl/config.ts';
import { canonicalTensorName, qwen2VLParamSpecs } from '../models/qwen2-vl/weights.ts';
import { maxAbsDiff, need, readStepJson, readStepTensors } from './fixtures.test-helper.ts';
import { adamwSimdAvailable } from './adamw-simd.ts';
import { AdamW, ADAMW_DEFAULTS, clipGradNorm, decays, lrLambda, OptimizerLoop, warmupStepsOf, type LrSchedulerType } from './optim.ts';

interface OptimCase {
  name: string;
  schedule: LrSchedulerType;
  lr: number;
  warmup_steps?: number;
  warmup_ratio?: number;
  weight_decay: number;
  max_grad_norm: number;
  warmup: number;
  total_steps: number;
  lr_per_step: number[];
  grad_norm_per_step: number[];
  float32_vs_float64_max_abs: number;
}
const NAMES = ['w', 'bias', 'lora_A'] as const;
const TOL = 5e-7;

/** Runs our loop over the fixture's gradients; `tweak` breaks it on purpose. */
function run(t: Map<string, Float32Array>, c: OptimCase, tweak: { scheduleShift?: number; noClip?: boolean } = {}) {
  const params = NAMES.map((n) => ({ name: n, data: need(t, `init.${n}`).slice(), decay: decays(n, n === 'bias' ? 'bias' : n === 'lora_A' ? 'lora' : 'linear') }));
  const loop = new OptimizerLoop(params, {
    ...ADAMW_DEFAULTS, weightDecay: c.weight_decay, learningRate: c.lr, schedule: c.schedule,
    warmupSteps: warmupStepsOf(c.total_steps, { warmupSteps: c.warmup_steps, warmupRatio: c.warmup_ratio }),
    totalSteps: c.total_steps, maxGradNorm: tweak.noClip ? 0 : c.max_grad_norm,
  });
  loop.schedulerStep = tweak.scheduleShift ?? 0;
  const out = [];
  for (let s = 0; s < c.total_steps; s++) {
    const info = loop.step(NAMES.map((n) => need(t, `g.${s}.${n}`).slice()));
    const err = Math.max(...NAMES.map((n, j) => maxAbsDiff(params[j]!.data, need(t, `${c.name}.${s}.${n}`))));
    out.push({ ...info, err });
  }
  return out;
}

test('AdamW + HF schedules + clip_grad_norm_: parameters after each of 5 steps = torch (≤ 5e-7), lr and pre-clip norm as logged', async () => {
  const t = await readStepTensors('optim.safetensors');
  const meta = await readStepJson<{ cases: OptimCase[] }>('optim.json');
  assert.deepEqual(meta.cases.map((c) => c.name), ['linear', 'cosine', 'constant', 'constant_with_warmup']);
  for (const c of meta.cases) {
    assert.ok(c.float32_vs_float64_max_abs <= TOL, `${c.name}: the golden's own float noise ${c.float32_vs_float64_max_abs} fits the tolerance`);
    assert.equal(warmupStepsOf(c.total_steps, { warmupSteps: c.warmup_steps, warmupRatio: c.warmup_ratio }), c.warmup, `${c.name}: warmup steps`);
    const steps = run(t, c);
    steps.forEach((s, k) => {
      assert.ok(Math.abs(s.learningRate - c.lr_per_step[k]!) <= 1e-12, `${c.name} step ${k}: lr ${s.learningRate} vs ${c.lr_per_step[k]}`);
      assert.ok(Math.abs(s.gradNorm - c.grad_norm_per_step[k]!) <= 1e-6 * c.grad_norm_per_step[k]!, `${c.name} step ${k}: grad norm ${s.gradNorm} vs ${c.grad_norm_per_step[k]}`);
      assert.ok(s.err <= TOL, `${c.name} step ${k}: max |Δparam| ${s.err}`);
    });
    if (c.warmup >= 1) assert.equal(c.lr_per_step[0], 0, 'with warmup the first step has lr 0');
  }
  assert.ok(meta.cases[0]!.grad_norm_per_step.some((n) => n > 1) && meta.cases[0]!.grad_norm_per_step.some((n) => n < 1), 'norms on both sides of max_grad_norm');
});

test('the tolerance catches a schedule one step ahead (lr_lambda(1) first) and a missing clip', async () => {
  const t = await readStepTensors('optim.safetensors');
  const meta = await readStepJson<{ cases: OptimCase[] }>('optim.json');
  for (const c of meta.cases.filter((x) => x.schedule !== 'constant')) {
    const shifted = Math.max(...run(t, c, { scheduleShift: 1 }).map((s) => s.err));
    assert.ok(shifted > 1e3 * TOL, `${c.name}: a shifted schedule is off by ${shifted}`);
  }
  for (const c of meta.cases) {
    const unclipped = Math.max(...run(t, c, { noClip: true }).map((s) => s.err));
    assert.ok(unclipped > 1e3 * TOL, `${c.name}: no clipping is off by ${unclipped}`);
  }
});

test('schedules by hand: lr_lambda values at the warmup edge and the end; warmup from a ratio rounds up', () => {
  const lin = lrLambda('linear', { warmupSteps: 100, totalSteps: 5000 });
  assert.deepEqual([lin(0), lin(50), lin(100), lin(2550), lin(5000), lin(6000)], [0, 0.5, 1, 0.5, 0, 0]);
  const cos = lrLambda('cosine', { warmupSteps: 0, totalSteps: 10 });
  assert.ok(Math.abs(cos(5) - 0.5) < 1e-15 && cos(0) === 1 && Math.abs(cos(10)) < 1e-15);
  assert.deepEqual([0, 1, 2, 9].map(lrLambda('constant_with_warmup', { warmupSteps: 2, totalSteps: 10 })), [0, 0.5, 1, 1]);
  assert.equal(lrLambda('constant', { warmupSteps: 5, totalSteps: 10 })(0), 1);
  assert.deepEqual([warmupStepsOf(1000, { warmupRatio: 0.031 }), warmupStepsOf(1000, { warmupSteps: 0.0305 }), warmupStepsOf(1000, { warmupSteps: 100, warmupRatio: 0.5 })], [31, 31, 100]);
  assert.throws(() => lrLambda('polynomial' as LrSchedulerType, { warmupSteps: 0, totalSteps: 1 }), /'polynomial' is not supported/);
});

test('clipGradNorm: returns the pre-clip norm, scales by max/(norm+1e-6) only when above, leaves a NaN norm to the caller', () => {
  const g = [Float32Array.from([3, 0]), Float32Array.from([0, 4])];
  assert.equal(clipGradNorm(g, 1), 5);
  assert.deepEqual([...g[0]!, ...g[1]!].map((x) => Math.round(x * 1e6) / 1e6), [0.6, 0, 0, 0.8]);
  const small = [Float32Array.from([0.3, 0.4])];
  assert.equal(Math.round(clipGradNorm(small, 1) * 1e6) / 1e6, 0.5);
  assert.deepEqual([...small[0]!], [Math.fround(0.3), Math.fround(0.4)]);
  const bad = [Float32Array.from([NaN, 1])];
  assert.ok(Number.isNaN(clipGradNorm(bad, 1)) && bad[0]![1] === 1);
});

test('weight-decay groups = Trainer.get_decay_parameter_names: every tiny-a parameter, and a DoRA adapter (factors and magnitudes decay)', async () => {
  const ref = await readStepJson<{ full: Record<string, boolean>; dora: Record<string, boolean> }>('decay.json');
  const dir = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'model', 'tiny-a');
  const cfg = parseQwen2VLConfig(await readJsonFile('qwen2_vl', join(dir, 'config.json')), { strict: false });
  const specs = qwen2VLParamSpecs(cfg);
  const hf = new Map(Object.entries(ref.full).map(([n, d]) => [canonicalTensorName(n), d]));
  const ours = specs.filter((s) => hf.has(s.path));
  assert.equal(ours.length, hf.size, `every HF parameter has a spec (${[...hf.keys()].filter((n) => !specs.some((s) => s.path === n)).join(', ')})`);
  for (const s of ours) assert.equal(decays(s.path, s.role), hf.get(s.path), s.path);
  assert.ok([...hf.values()].filter((d) => !d).length >= 20, 'biases and norms on both towers are excluded');
  const dora = Object.entries(ref.dora);
  assert.ok(dora.length > 0 && dora.some(([n]) => n.includes('lora_magnitude_vector')));
  for (const [name, want] of dora) {
    const path = canonicalTensorName(name.replace(/^base_model\.model\./, '').replace('.default.', '.'));
    assert.equal(decays(path, 'lora'), want, path);
  }
});

test('resume: 2 steps, state and weights copied out, a new loop restored from them and 3 more steps = 5 uninterrupted steps, bit for bit', async () => {
  const t = await readStepTensors('optim.safetensors');
  const c = (await readStepJson<{ cases: OptimCase[] }>('optim.json')).cases[0]!; // linear with warmup, decay, clipping
  const opts = { ...ADAMW_DEFAULTS, weightDecay: c.weight_decay, learningRate: c.lr, schedule: c.schedule, warmupSteps: c.warmup, totalSteps: c.total_steps, maxGradNorm: c.max_grad_norm };
  const fresh = () => NAMES.map((n) => ({ name: n, data: need(t, `init.${n}`).slice(), decay: n !== 'bias' }));
  const grads = (s: number) => NAMES.map((n) => need(t, `g.${s}.${n}`).slice());
  const whole = fresh();
  const a = new OptimizerLoop(whole, opts);
  for (let s = 0; s < 5; s++) a.step(grads(s));

  const first = fresh();
  const b = new OptimizerLoop(first, opts);
  for (let s = 0; s < 2; s++) b.step(grads(s));
  const saved = { weights: first.map((p) => p.data.slice()), adamw: b.adamw.state(), schedulerStep: b.schedulerStep };
  b.step(grads(2)); // the state copy must not follow the live loop
  const resumed = NAMES.map((n, j) => ({ name: n, data: saved.weights[j]!, decay: n !== 'bias' }));
  const r = new OptimizerLoop(resumed, opts);
  r.adamw.loadState(saved.adamw);
  r.schedulerStep = saved.schedulerStep;
  for (let s = 2; s < 5; s++) r.step(grads(s));
  resumed.forEach((p, j) => assert.deepEqual(p.data, whole[j]!.data, p.name));
  assert.ok(maxAbsDiff(whole[0]!.data, need(t, 'linear.4.w')) <= TOL, 'and the uninterrupted run is the golden one');

  const bad = new OptimizerLoop(fresh(), opts);
  const m = new Map(saved.adamw.moments);
  m.delete('bias');
  assert.throws(() => bad.adamw.loadState({ step: 2, moments: m }), /no moments for bias/);
  m.set('bias', { expAvg: new Float32Array(2), expAvgSq: new Float32Array(2) });
  assert.throws(() => bad.adamw.loadState({ step: 2, moments: m }), /bias: saved moments have 2 \/ 2 values, the parameter 6/);
  assert.throws(() => bad.adamw.loadState({ step: 2, moments: new Map([...saved.adamw.moments, ['lm_head.weight', saved.adamw.moments.get('w')!]]) }), /does not train: lm_head.weight/);
});

test('the WebAssembly SIMD element loop gives the scalar loop\'s bits: edge values, tails of 1–3, several chunks of its memory, 3 steps', () => {
  assert.ok(adamwSimdAvailable(), 'the kernel compiles on Node 20');
  // Lengths: a tail only, tails of 1–3 after SIMD lanes, and more than two 2^18-value chunks.
  const lengths = [3, 5, 6, 7, 600_001];
  const edge = [0, -0, 1e-45, -1e-45, 1.17e-38, 3e38, -3e38, 1e-30, 1, -1, 0.5, 1e-8];
  const make = (seed: number) => lengths.map((n, j) => ({
    name: `p${j}`, decay: j % 2 === 0,
    data: Float32Array.from({ length: n }, (_, i) => (i < edge.length ? edge[i]! : Math.sin(i * 0.37 + seed) * 2)),
  }));
  const grads = (step: number) => lengths.map((n) => Float32Array.from({ length: n }, (_, i) => (i < edge.length ? edge[(i + step) % edge.length]! : Math.cos(i * 1.7 + step) * 1e-3)));
  const simd = new AdamW(make(1), { ...ADAMW_DEFAULTS, weightDecay: 0.1 });
  const scalar = new AdamW(make(1), { ...ADAMW_DEFAULTS, weightDecay: 0.1 });
  scalar.simd = false;
  for (let step = 0; step < 3; step++) {
    simd.step(grads(step), 1e-3);
    scalar.step(grads(step), 1e-3);
  }
  const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);
  simd.params.forEach((p, j) => {
    assert.deepEqual(bits(p.data), bits(scalar.params[j]!.data), `${p.name}: weights`);
    assert.deepEqual(bits(simd.expAvg[j]!), bits(scalar.expAvg[j]!), `${p.name}: exp_avg`);
    assert.deepEqual(bits(simd.expAvgSq[j]!), bits(scalar.expAvgSq[j]!), `${p.name}: exp_avg_sq`);
  });
  assert.ok(simd.params[4]!.data.some((x, i) => x !== make(1)[4]!.data[i]), 'the weights moved');
});
