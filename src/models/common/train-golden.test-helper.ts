// Runs a backbone's registry training hook (`loadTrainModel`, the path `vlm2vec train` takes)
// through three TrainSteps as tools/reference/train_step_v1.py ran PyTorch + peft (or full
// fine-tuning) on it, and compares per-step loss, lr, pre-clip grad norm and the trained
// weights with the goldens under test/fixtures/train/v1/<model>/. The dropout kinds hold our
// LoRA dropout masks (nn/dropout.ts) fed to peft: the language model's per batch row, the CLIP
// tower's per image (common/train-adapter.ts partDropout), keyed by the whole batch (`*_dropout`)
// or by GradCache's chunks of one row (`*_dropout_gc`).

import { after, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalEmbedder } from '../../embed/local.ts';
import { parseTrainArgs } from '../../train/args.ts';
import { runTraining } from '../../train/loop.ts';
import { HfTokenizer } from '../../io/text/tokenizer.ts';
import { readJsonFile } from '../../io/weights/hf-configs.ts';
import { adapterTensors, loadAdapter } from '../../io/weights/peft.ts';
import { SafetensorsFile } from '../../io/weights/safetensors.ts';
import { rowKeyedDropout } from '../../nn/dropout.ts';
import { ADAMW_DEFAULTS, decays } from '../../train/optim.ts';
import { TrainStep, type TrainStepInfo } from '../../train/step.ts';
import type { EncoderInput, ImageProcessorSettings } from '../encoder.ts';
import { modelRecord, parseModelConfig } from '../registry.ts';
import { partDropout } from './train-adapter.ts';
import type { TrainWeightsInit } from './train-model.ts';

export const V1_TRAIN_FIXTURES = join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'train', 'v1');

export type V1Kind = 'lora' | 'dora' | 'full' | 'lora_dropout' | 'dora_dropout' | 'lora_dropout_gc' | 'dora_dropout_gc' | 'full_pad';

export interface V1Run {
  lr: number; loss_per_step: number[]; loss_per_step_float64: number[]; lr_per_step: number[]; grad_norm_per_step: number[]; grad_norm_per_step_float64: number[]; float32_vs_float64_max_abs: number; key_bias_float32_vs_float64_max_abs: number; trainable: number;
}
export interface V1Steps {
  temperature: number; warmup_steps: number; max_grad_norm: number; weight_decay: number; schedule: 'linear';
  steps: { queries: string[]; targets: string[] }[]; input_ids: [number[][], number[][]][]; runs: Partial<Record<V1Kind, V1Run>>;
  dropout: { p: number; seed: number; gc_chunk_rows: number };
  /** Masks train_step_v1.py's dropout module drew: images as [tower rows, chunk's first row, part]; none for a language-model module. */
  mask_samples: { module: string; p: number; seed: number; step: number; side: 0 | 1; images: [number, number, number][]; shape: number[]; keep: number[] }[];
}

/** The kind whose adapter (and, without dropout, whose float noise) a kind shares: lora_dropout_gc → lora. */
const baseKind = (kind: V1Kind): 'lora' | 'dora' | 'full' => kind.split('_')[0] as 'lora' | 'dora' | 'full';

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
  /** The weight tolerance: WEIGHT_TOL_FACTOR × torch float32's distance from float64 (see weightNoise). */
  tol: number;
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
  gradCache: boolean; processor: ImageProcessorSettings; item: (key: string) => Promise<EncoderInput>; tweak?: { noClip?: boolean; scheduleShift?: number; seed?: number };
}): Promise<V1GoldenRun> {
  const dir = join(V1_TRAIN_FIXTURES, name);
  const ref = (await readJsonFile('test', join(dir, 'steps.json'))) as V1Steps;
  const run = ref.runs[kind];
  if (run === undefined) throw new Error(`${name}: steps.json has no run ${kind}`);
  const configJson = (await readJsonFile('test', join(modelDir, 'config.json'))) as Record<string, unknown>;
  const config = parseModelConfig(configJson, { strict: false });
  const record = modelRecord(config.modelType);
  const tokenizer = await HfTokenizer.fromFolder(modelDir, { paddingSide: record.paddingSide, padTokenId: record.padTokenId });
  let init: TrainWeightsInit;
  if (baseKind(kind) === 'full') init = { kind: 'full', freezeVision: false };
  else {
    // The dropout kinds continue from the same adapters with the reference's lora_dropout.
    const ad = await loadAdapter(join(dir, `adapter-${baseKind(kind)}`));
    init = { kind: 'adapter', config: kind.includes('_dropout') ? { ...ad.config, loraDropout: ref.dropout.p } : ad.config, tensors: adapterTensors(ad) };
  }
  const tm = await record.loadTrainModel!({ dir: modelDir, config, configJson, tokenizer, processor: opts.processor, normalize: true, init });
  const train = await TrainStep.create(tm.encoder, tm.params, {
    ...ADAMW_DEFAULTS, weightDecay: ref.weight_decay, learningRate: run.lr, schedule: ref.schedule, warmupSteps: ref.warmup_steps,
    totalSteps: ref.steps.length, maxGradNorm: opts.tweak?.noClip ? 0 : ref.max_grad_norm, temperature: ref.temperature,
    gradCache: opts.gradCache ? { qChunkSize: 1, pChunkSize: 1 } : undefined, seed: opts.tweak?.seed ?? ref.dropout.seed,
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
  const tol = WEIGHT_TOL_FACTOR * weightNoise(ref, kind);
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
  return { ref, tol, run, infos, ids, err64, keyBiasErr, outliers, compared };
}

/**
 * Torch float32's largest distance from float64 over a run's trained weights; a dropout run takes
 * the larger of its own and its adapter's run without dropout, as src/train/step.test.ts explains
 * (that distance is itself noisy: a dropout run's own is 0.6–3.5× its adapter's without dropout here).
 */
function weightNoise(ref: V1Steps, kind: V1Kind): number {
  return Math.max(ref.runs[kind]!.float32_vs_float64_max_abs, ref.runs[baseKind(kind)]!.float32_vs_float64_max_abs);
}

/** The per-step and weight assertions every golden run passes (see v1GoldenTests). */
function assertV1Run(r: V1GoldenRun, t: TestContext): void {
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
  assert.ok(r.outliers.length <= MAX_OUTLIERS, `${r.outliers.length} values beyond ${r.tol}: ${r.outliers.slice(0, 4).join('; ')}`);
  assert.ok(r.err64 <= 3 * lrSum, `saved weights max |Δ| ${r.err64} > ${3 * lrSum}`);
  assert.ok(r.keyBiasErr <= 3 * lrSum, `key biases |Δ| ${r.keyBiasErr} > ${3 * lrSum}`);
  t.diagnostic(`saved weights max |Δ| ${r.err64.toExponential(2)} from torch float64, ${r.outliers.length} value(s) beyond the tolerance ${r.tol.toExponential(2)}`);
}

/**
 * The tests of one backbone: three steps of LoRA, DoRA and full fine-tuning, GradCache off and on
 * (chunks of 1), and of LoRA and DoRA with dropout 0.1 (our masks, which peft was given: keyed by
 * the whole batch with GradCache off, by chunks of one row with it on): the batches' input ids
 * equal the reference processor's; per-step loss and pre-clip grad norm against torch's float64
 * run, each within 1e-5 (loss) / 3e-5 (norm) relative or twice torch float32's own distance from
 * it, whichever is larger (the reference's float noise grows with the steps); lr exact; the
 * trained values we would save within WEIGHT_TOL_FACTOR × torch float32's largest distance from
 * float64, with the exceptions described there. A tweaked run (no clipping, schedule a step ahead,
 * other dropout masks) must miss that tolerance by far.
 */
export function v1GoldenTests(label: string, name: string, modelDir: string, processor: ImageProcessorSettings, item: (key: string) => Promise<EncoderInput>): void {
  const cases: [V1Kind, boolean][] = [
    ...(['lora', 'dora', 'full'] as const).flatMap((k): [V1Kind, boolean][] => [[k, false], [k, true]]),
    ['lora_dropout', false], ['lora_dropout_gc', true], ['dora_dropout', false], ['dora_dropout_gc', true],
  ];
  for (const [kind, gc] of cases) {
    test(`${label}: three steps, ${kind}, GradCache ${gc ? 'on' : 'off'}: ids, losses, lr, grad norms and saved weights = the reference`, async (t) => {
      assertV1Run(await runV1Golden(name, modelDir, kind, { gradCache: gc, processor, item }), t);
    });
  }
  test(`${label}: the weight tolerance catches a missing clip and a schedule one step ahead (LoRA, DoRA, full)`, async () => {
    for (const kind of ['lora', 'dora', 'full'] as const) {
      for (const tweak of [{ noClip: true }, { scheduleShift: 1 }]) {
        const r = await runV1Golden(name, modelDir, kind, { gradCache: false, processor, item, tweak });
        assert.ok(r.outliers.length > 100 * MAX_OUTLIERS, `${kind} ${JSON.stringify(tweak)}: only ${r.outliers.length} values beyond the tolerance`);
      }
    }
  });
  test(`${label}: the dropout goldens catch other masks (seed 43, the whole batch's CLIP masks under GradCache's golden) and no dropout`, async () => {
    for (const kind of ['lora_dropout', 'dora_dropout'] as const) {
      const reseeded = await runV1Golden(name, modelDir, kind, { gradCache: false, processor, item, tweak: { seed: 43 } });
      assert.ok(reseeded.outliers.length > 100 * MAX_OUTLIERS, `${kind}, seed 43: only ${reseeded.outliers.length} values beyond the tolerance`);
      // GradCache's golden keys the CLIP masks by row chunk; the whole batch's masks miss it.
      const wholeBatch = await runV1Golden(name, modelDir, `${kind}_gc`, { gradCache: false, processor, item });
      assert.ok(wholeBatch.outliers.length > 100 * MAX_OUTLIERS, `${kind}_gc without GradCache: only ${wholeBatch.outliers.length} values beyond the tolerance`);
      const plain = await runV1Golden(name, modelDir, baseKind(kind), { gradCache: false, processor, item });
      assert.ok(Math.abs(plain.infos[0]!.loss - reseeded.ref.runs[kind]!.loss_per_step_float64[0]!) > 1e-2, `${kind}: the first loss without dropout ${plain.infos[0]!.loss} is that of the dropout run`);
    }
  });
  test(`${label}: the reference's dropout module drew our masks (CLIP per image, whole batch and row chunks; language model per row)`, async () => {
    const ref = (await readJsonFile('test', join(V1_TRAIN_FIXTURES, name, 'steps.json'))) as V1Steps;
    assert.equal(ref.mask_samples.length, 3);
    for (const m of ref.mask_samples) {
      const site = { seed: m.seed, step: m.step, side: m.side, module: m.module };
      const cols = m.shape.at(-1)!;
      const tokens = m.shape.slice(1, -1).reduce((a, x) => a * x, 1);
      const parts = m.images.length === 0
        ? [rowKeyedDropout(m.p, site, 0).keepMask(m.shape)]
        : m.images.map(([rows, chunk, part]) => partDropout(m.p, { ...site, firstRow: chunk }, m.module, part).keepMask([rows, tokens, cols]));
      const got: number[] = [];
      for (const k of parts) got.push(...Array.from((await k.data()) as Uint8Array, Number));
      assert.deepEqual(got, m.keep, `${m.module} ${JSON.stringify(m.images)}`);
      const dropped = got.filter((x) => x === 0).length / got.length;
      assert.ok(dropped > 0.15 && dropped < 0.45, `p ${m.p}: ${dropped} dropped`);
    }
  });
}

/**
 * LLaVA-NeXT's padding row (issue 15): full fine-tuning of the tiny model with
 * text_config.pad_token_id set to a token the golden batches hold as a real token (config.json of
 * a temporary copy of `modelDir` patched as the reference script patched its copy), GradCache off
 * and on: torch's nn.Embedding(padding_idx) gives that row no gradient, so only weight decay moves
 * it. The same run from the unpatched model (its row trains) misses the golden at that row.
 */
export function v1PaddingRowTest(label: string, name: string, modelDir: string, processor: ImageProcessorSettings, item: (key: string) => Promise<EncoderInput>): void {
  const patched = async (): Promise<string> => {
    const ref = (await readJsonFile('test', join(V1_TRAIN_FIXTURES, name, 'steps.json'))) as V1Steps;
    const padId = (ref.runs.full_pad as V1Run & { pad_token_id: number }).pad_token_id;
    assert.ok(ref.input_ids.flat(3).includes(padId), `pad_token_id ${padId} is a real token of the batches`);
    const out = mkdtempSync(join(tmpdir(), 'v1-pad-'));
    after(() => rmSync(out, { recursive: true, force: true }));
    for (const f of readdirSync(modelDir)) if (statSync(join(modelDir, f)).isFile()) copyFileSync(join(modelDir, f), join(out, f));
    const cfg = JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8')) as { text_config: Record<string, unknown> };
    cfg.text_config.pad_token_id = padId;
    writeFileSync(join(out, 'config.json'), JSON.stringify(cfg));
    return out;
  };
  for (const gc of [false, true]) {
    test(`${label}: full fine-tuning with text_config.pad_token_id a real token, GradCache ${gc ? 'on' : 'off'}: that row gets no gradient, as torch's padding_idx`, async (t) => {
      assertV1Run(await runV1Golden(name, await patched(), 'full_pad', { gradCache: gc, processor, item }), t);
    });
  }
  test(`${label}: the padding-row golden catches a run that trains the row`, async () => {
    const r = await runV1Golden(name, modelDir, 'full_pad', { gradCache: false, processor, item });
    assert.ok(r.outliers.length > MAX_OUTLIERS && r.outliers.every((o) => o.startsWith('language_model.model.embed_tokens.weight')), `${r.outliers.length} outliers: ${r.outliers.slice(0, 3).join('; ')}`);
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
