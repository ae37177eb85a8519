// Runs a backbone's registry training hook (`loadTrainModel`, the path `vlm2vec train` takes)
// through three TrainSteps as tools/reference/train_step_v1.py ran PyTorch + peft (or full
// fine-tuning) on it, and compares per-step loss, lr, pre-clip grad norm and the trained
// weights with the goldens under test/fixtures/train/v1/<model>/.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalEmbedder } from '../../embed/local.ts';
import { parseTrainArgs } from '../../train/args.ts';
import { runTraining } from '../../train/loop.ts';
import { HfTokenizer } from '../../io/text/tokenizer.ts';
import { readJsonFile } from '../../io/weights/hf-configs.ts';
import { adapterTensors, loadAdapter } from '../../io/weights/peft.ts';
import { SafetensorsFile } from '../../io/weights/safetensors.ts';
import { ADAMW_DEFAULTS, decays } from '../../train/optim.ts';
import { TrainStep, type TrainStepInfo } from '../../train/step.ts';
import type { EncoderInput, ImageProcessorSettings } from '../encoder.ts';
import { modelRecord, parseModelConfig } from '../registry.ts';
import type { TrainWeightsInit } from './train-model.ts';

export const V1_TRAIN_FIXTURES = join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'train', 'v1');

export type V1Kind = 'lora' | 'dora' | 'full';

export interface V1Run {
  lr: number; loss_per_step: number[]; loss_per_step_float64: number[]; lr_per_step: number[]; grad_norm_per_step: number[]; grad_norm_per_step_float64: number[]; float32_vs_float64_max_abs: number; key_bias_float32_vs_float64_max_abs: number; trainable: number;
}
export interface V1Steps {
  temperature: number; warmup_steps: number; max_grad_norm: number; weight_decay: number; schedule: 'linear';
  steps: { queries: string[]; targets: string[] }[]; input_ids: [number[][], number[][]][]; runs: Record<V1Kind, V1Run>;
}

/** Every tensor of a golden file (float32 ones, and `embed_tokens.ids` as numbers). */
async function readGolden(file: string): Promise<{ tensors: Map<string, Float32Array>; ids: number[] }> {
  const f = await SafetensorsFile.open(file);
  try {
    const tensors = new Map<string, Float32Array>();
    let ids: number[] = [];
    for (const n of f.names()) {
      const t = await f.read(n);
      if (t.data instanceof Float32Array) tensors.set(n, t.data);
      else if (n === 'embed_tokens.ids') ids = Array.from(t.data as BigInt64Array, Number);
    }
    return { tensors, ids };
  } finally {
    await f.close();
  }
}

export interface V1GoldenRun {
  ref: V1Steps;
  run: V1Run;
  infos: TrainStepInfo[];
  /** Our batches' input ids per step, [queries, targets]. */
  ids: [number[][], number[][]][];
  /** Largest |Δ| of the trained weights from torch's float64 run (CLIP's key biases apart), and how many tensors were compared. */
  err64: number;
  /** Values (CLIP's key biases apart) further than WEIGHT_TOL_FACTOR × torch float32's distance from the float64 run. */
  outliers: string[];
  /** Largest |Δ| of CLIP's k_proj biases (exact gradient 0: only float noise moves them). */
  keyBiasErr: number;
  compared: number;
}

function rowsOf(ids: BigInt64Array, shape: readonly [number, number]): number[][] {
  return Array.from({ length: shape[0] }, (_, r) => Array.from(ids.subarray(r * shape[1], (r + 1) * shape[1]), Number));
}

/**
 * Three steps of `kind` on `model` (its registry record's loadTrainModel), items from `item(key)`.
 *
 * @example const r = await runV1Golden('phi3v', TINY, 'dora', { gradCache: true, processor: { numCrops: 4 }, item });
 */
export async function runV1Golden(name: string, modelDir: string, kind: V1Kind, opts: {
  gradCache: boolean; processor: ImageProcessorSettings; item: (key: string) => Promise<EncoderInput>; tweak?: { noClip?: boolean; scheduleShift?: number };
}): Promise<V1GoldenRun> {
  const dir = join(V1_TRAIN_FIXTURES, name);
  const ref = (await readJsonFile('test', join(dir, 'steps.json'))) as V1Steps;
  const run = ref.runs[kind];
  const configJson = (await readJsonFile('test', join(modelDir, 'config.json'))) as Record<string, unknown>;
  const config = parseModelConfig(configJson, { strict: false });
  const record = modelRecord(config.modelType);
  const tokenizer = await HfTokenizer.fromFolder(modelDir, { paddingSide: record.paddingSide, padTokenId: record.padTokenId });
  let init: TrainWeightsInit;
  if (kind === 'full') init = { kind: 'full', freezeVision: false };
  else {
    const ad = await loadAdapter(join(dir, `adapter-${kind}`));
    init = { kind: 'adapter', config: ad.config, tensors: adapterTensors(ad) };
  }
  const tm = await record.loadTrainModel!({ dir: modelDir, config, configJson, tokenizer, processor: opts.processor, normalize: true, init });
  const train = await TrainStep.create(tm.encoder, tm.params, {
    ...ADAMW_DEFAULTS, weightDecay: ref.weight_decay, learningRate: run.lr, schedule: ref.schedule, warmupSteps: ref.warmup_steps,
    totalSteps: ref.steps.length, maxGradNorm: opts.tweak?.noClip ? 0 : ref.max_grad_norm, temperature: ref.temperature,
    gradCache: opts.gradCache ? { qChunkSize: 1, pChunkSize: 1 } : undefined, seed: 42,
    decay: (path) => decays(path, tm.role(path)),
  });
  train.optimizer.schedulerStep = opts.tweak?.scheduleShift ?? 0;
  const infos: TrainStepInfo[] = [];
  const ids: [number[][], number[][]][] = [];
  for (const s of ref.steps) {
    const side = async (keys: string[]) => tm.batch(await Promise.all(keys.map(async (k) => tm.prepare(await opts.item(k)))));
    const q = await side(s.queries);
    const p = await side(s.targets);
    const shaped = (b: unknown) => b as { inputIds: BigInt64Array; shape: readonly [number, number] };
    ids.push([rowsOf(shaped(q).inputIds, shaped(q).shape), rowsOf(shaped(p).inputIds, shaped(p).shape)]);
    infos.push(await train.step(q, p));
  }
  const want = await readGolden(join(dir, `${kind}.safetensors`));
  // What a checkpoint would save (adapter tensors, or the model's), against every golden tensor.
  const saved = tm.weights(train.master).tensors;
  const tol = WEIGHT_TOL_FACTOR * run.float32_vs_float64_max_abs;
  const outliers: string[] = [];
  let err64 = 0;
  let keyBiasErr = 0;
  let compared = 0;
  for (const [name, w] of want.tensors) {
    if (!name.startsWith('f64.')) continue;
    const key = name.slice('f64.'.length);
    const t = saved.get(key);
    if (!t) throw new Error(`${key}: in the golden, not in what we save`);
    let got = t.data;
    if (key.endsWith('embed_tokens.weight')) {
      const d = w.length / want.ids.length;
      got = new Float32Array(want.ids.length * d);
      want.ids.forEach((id, r) => got.set(t.data.subarray(id * d, (id + 1) * d), r * d));
    }
    if (got.length !== w.length) throw new Error(`${key}: ${got.length} values, golden ${w.length}`);
    const keyBias = key.endsWith('self_attn.k_proj.bias');
    for (let i = 0; i < w.length; i++) {
      const e = Math.abs(got[i]! - w[i]!);
      if (keyBias) keyBiasErr = Math.max(keyBiasErr, e);
      else {
        err64 = Math.max(err64, e);
        if (e > tol) outliers.push(`${key}[${i}] ${got[i]} vs ${w[i]}`);
      }
    }
    compared++;
  }
  return { ref, run, infos, ids, err64, keyBiasErr, outliers, compared };
}

/**
 * The tests of one backbone: three steps of LoRA, DoRA and full fine-tuning, GradCache off and on
 * (chunks of 1): the batches' input ids equal the reference processor's; per-step loss and pre-clip
 * grad norm against torch's float64 run, each within 1e-5 (loss) / 3e-5 (norm) relative or twice
 * torch float32's own distance from it, whichever is larger (the reference's float noise grows
 * with the steps); lr exact; the trained values we would save within WEIGHT_TOL_FACTOR × torch
 * float32's largest distance from float64, with the exceptions described there. A tweaked run
 * (no clipping, schedule a step ahead) must miss that tolerance by far.
 */
export function v1GoldenTests(label: string, name: string, modelDir: string, processor: ImageProcessorSettings, item: (key: string) => Promise<EncoderInput>): void {
  for (const kind of ['lora', 'dora', 'full'] as const) {
    for (const gc of [false, true]) {
      test(`${label}: three steps, ${kind}, GradCache ${gc ? 'on' : 'off'}: ids, losses, lr, grad norms and saved weights = the reference`, async () => {
        const r = await runV1Golden(name, modelDir, kind, { gradCache: gc, processor, item });
        assert.deepEqual(r.ids, r.ref.input_ids, "the batches are the reference processor's");
        assert.equal(r.compared, r.run.trainable, 'every trainable tensor of the reference is compared with what we save');
        r.infos.forEach((s, k) => {
          const ref = r.run.loss_per_step_float64[k]!;
          const tolLoss = Math.max(1e-5 * Math.max(1, ref), 2 * Math.abs(r.run.loss_per_step[k]! - ref));
          assert.ok(Math.abs(s.loss - ref) <= tolLoss, `step ${k}: loss ${s.loss} vs ${ref} (tolerance ${tolLoss})`);
          assert.equal(s.learningRate, r.run.lr_per_step[k], `step ${k}: lr`);
          const refNorm = r.run.grad_norm_per_step_float64[k]!;
          const tolNorm = Math.max(3e-5 * refNorm, 2 * Math.abs(r.run.grad_norm_per_step[k]! - refNorm));
          assert.ok(Math.abs(s.gradNorm - refNorm) <= tolNorm, `step ${k}: grad norm ${s.gradNorm} vs ${refNorm} (tolerance ${tolNorm})`);
        });
        assert.equal(r.infos[0]!.learningRate, 0, 'warmup: the first step has lr 0');
        // Every saved value within WEIGHT_TOL_FACTOR × torch float32's distance from float64, but
        // for at most MAX_OUTLIERS values, each within 3 × Σ lr (what AdamW's noise-driven steps
        // can reach), and CLIP's key biases, whose exact gradient is 0 (softmax ignores a per-query
        // constant), so that float noise alone moves them, in either float32 run: the same bound.
        const lrSum = r.run.lr_per_step.reduce((a, x) => a + x, 0);
        assert.ok(r.outliers.length <= MAX_OUTLIERS, `${r.outliers.length} values beyond ${WEIGHT_TOL_FACTOR * r.run.float32_vs_float64_max_abs}: ${r.outliers.slice(0, 4).join('; ')}`);
        assert.ok(r.err64 <= 3 * lrSum, `saved weights max |Δ| ${r.err64} > ${3 * lrSum}`);
        assert.ok(r.keyBiasErr <= 3 * lrSum, `key biases |Δ| ${r.keyBiasErr} > ${3 * lrSum}`);
      });
    }
  }
  test(`${label}: the weight tolerance catches a missing clip and a schedule one step ahead (LoRA, DoRA, full)`, async () => {
    for (const kind of ['lora', 'dora', 'full'] as const) {
      for (const tweak of [{ noClip: true }, { scheduleShift: 1 }]) {
        const r = await runV1Golden(name, modelDir, kind, { gradCache: false, processor, item, tweak });
        assert.ok(r.outliers.length > 100 * MAX_OUTLIERS, `${kind} ${JSON.stringify(tweak)}: only ${r.outliers.length} values beyond the tolerance`);
      }
    }
  });
}

/**
 * Trained weights are held to this many times torch float32's own largest distance from its
 * float64 run, but for MAX_OUTLIERS values. AdamW divides each element's moment by its root mean
 * square, so where an element's gradient sums to nearly zero, float noise in it becomes an update
 * of up to the lr; which elements those are and how far they move differs between any two float32
 * runs (torch's own distance varies 2× between similar runs: docs/training.md). Observed outliers:
 * LLaVA-NeXT LoRA 1 value at 3.4× (its tensor's other values ≤ 1×), Phi-3-V full fine-tuning 1 of
 * the patch embedding's 18,816 values at 4.9×; every other value ≤ 2×. A missing clip or a schedule
 * a step ahead puts hundreds of values beyond it.
 */
export const WEIGHT_TOL_FACTOR = 4;
export const MAX_OUTLIERS = 2;

/**
 * `vlm2vec train` end to end on a backbone (runTraining, the CLI's loop): two DoRA steps on the
 * reference's default targets over the MMEB-train fixture subsets (prompts with the backbone's
 * image token), GradCache on. The final adapter is a PEFT folder in the 4.x layout that
 * LocalEmbedder (what `embed` runs) loads and merges; its embedding of an item equals the
 * trainable forward's with the trained factors, and differs from the base model's.
 */
export function v1TrainRunTest(label: string, modelDir: string): void {
  test(`${label}: vlm2vec train --lora (DoRA, default targets, GradCache) runs, and its adapter loads in embed with the trained forward's embeddings`, async () => {
    const root = join(import.meta.dirname, '..', '..', '..');
    const data = join(root, 'test', 'fixtures', 'train', 'data');
    const out = mkdtempSync(join(tmpdir(), 'train-v1-'));
    after(() => rmSync(out, { recursive: true, force: true }));
    const { args } = parseTrainArgs([
      '--model_name', modelDir, '--lora', '--lora_r', '4', '--lora_alpha', '8', '--lora_dropout', '0.1',
      '--dataset_config', join(data, 'mix.yaml'), '--data_basedir', join(data, 'basedir'), '--data', join(data, 'hub'),
      '--output_dir', out, '--per_device_train_batch_size', '2', '--interleave_batch_size', '2', '--normalize', 'True',
      '--learning_rate', '1e-2', '--warmup_steps', '1', '--save_steps', '2', '--max_steps', '2',
      '--grad_cache', 'True', '--gc_q_chunk_size', '1', '--gc_p_chunk_size', '1',
    ]);
    const steps: { loss: number }[] = [];
    const r = await runTraining(args, { onWarning: () => undefined, onStep: (st) => steps.push(st) });
    assert.equal(r.globalStep, 2);
    assert.ok(steps.every((st) => Number.isFinite(st.loss) && st.loss > 0), JSON.stringify(steps));
    const adapterCfg = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8')) as { use_dora: boolean };
    assert.equal(adapterCfg.use_dora, true);
    const names = (await SafetensorsFile.open(join(out, 'adapter_model.safetensors')).then(async (f) => { const n = f.names(); await f.close(); return n; }));
    assert.ok(names.every((n) => n.startsWith('base_model.model.') && !n.includes('.default.')), names[0]);
    assert.ok(names.some((n) => /self_attn\.(q_proj|out_proj)\.lora_A/.test(n) && /vision/.test(n)), 'the CLIP tower is adapted');

    const item = { text: 'A dog running on the beach at sunset.', images: [] };
    const trained = await LocalEmbedder.load(out);
    const base = await LocalEmbedder.load(modelDir);
    const [e] = await trained.embed([item]);
    const [e0] = await base.embed([item]);
    await trained.close();
    await base.close();
    // The same factors through the training forward (no random: evaluation).
    const configJson = (await readJsonFile('test', join(modelDir, 'config.json'))) as Record<string, unknown>;
    const config = parseModelConfig(configJson, { strict: false });
    const record = modelRecord(config.modelType);
    const tokenizer = await HfTokenizer.fromFolder(modelDir, { paddingSide: record.paddingSide, padTokenId: record.padTokenId });
    const ad = await loadAdapter(out);
    const tm = await record.loadTrainModel!({ dir: modelDir, config, configJson, tokenizer, processor: {}, normalize: true, init: { kind: 'adapter', config: ad.config, tensors: adapterTensors(ad) } });
    const want = (await tm.encoder.reps(tm.params, tm.batch([tm.prepare({ ...item, frames: [] })])).data()) as Float32Array;
    let d = 0;
    let moved = 0;
    for (let i = 0; i < want.length; i++) {
      d = Math.max(d, Math.abs(e![i]! - want[i]!));
      moved = Math.max(moved, Math.abs(e![i]! - e0![i]!));
    }
    assert.ok(d <= 1e-5, `embed with the saved adapter vs the training forward: max |Δ| ${d}`);
    assert.ok(moved > 1e-3, `the trained adapter changes the embedding (max |Δ| ${moved} from the base)`);
  });
}
