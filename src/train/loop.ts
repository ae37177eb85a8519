// The training run of `vlm2vec train`, as the reference's train.py + MMEBTrainer run it on one
// process: the base model (and a `--checkpoint_path` adapter, with its own config) set up through
// the registry's `loadTrainModel` (models/common/train-model.ts), the dataset_config's sources
// parsed and mixed (data/), one TrainStep per batch (step.ts: InfoNCE, GradCache, clip, AdamW,
// schedule), a log entry every `logging_steps`, `OUT/checkpoint-<step>/` every `save_steps`
// (checkpoint.ts), and the final weights in OUT/.
//
// Resume (`--resume_from auto | <step>`) restores what decides the rest of the run: the trained
// weights (float32, as saved), AdamW's moments and step count, the scheduler step, the sampler
// position (epoch, batch) and the log history. Nothing else is random while training (LoRA
// dropout masks are a function of the seed and the step, nn/dropout.ts; the mixture is a
// function of the seed), so a resumed run
// computes exactly the steps an uninterrupted one would, and ends with the same bits (loop.test.ts).
//
// Logged values follow HF's Trainer (transformers 5.18 `_maybe_log_save_evaluate`): `loss` is the
// mean over the steps since the last log, `grad_norm` the last step's norm before clipping,
// `learning_rate` the lr that step used (read before `lr_scheduler.step()`), `epoch` the fraction
// of passes done.

import { appendFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Vlm2VecError } from '../errors.ts';
import { LocalEmbedder } from '../embed/local.ts';
import { resolveLocalModel } from '../embed/local-resolve.ts';
import type { PromptStyle } from '../embed/prompt.ts';
import { loadImageRGB } from '../io/media/image.ts';
import type { RgbImage } from '../io/media/image-types.ts';
import { HfTokenizer } from '../io/text/tokenizer.ts';
import { readJsonFile } from '../io/weights/hf-configs.ts';
import { saveModelFolder } from '../io/weights/model-write.ts';
import { adapterTensors, isAdapterFolder, loadAdapter, loadAdapterConfig, type PeftAdapter } from '../io/weights/peft.ts';
import { saveAdapter } from '../io/weights/peft-write.ts';
import type { TrainedWeights, TrainModel, TrainWeightsInit } from '../models/common/train-model.ts';
import type { EncoderInput } from '../models/encoder.ts';
import { runEval } from '../mmeb/run/eval.ts';
import { modelRecord, parseModelConfig } from '../models/registry.ts';
import { ensureOutputDir, writeFileAtomic } from '../util/fs.ts';
import type { TrainArgs } from './args.ts';
import { checkAdapterBase, checkAdapterCoverage } from './checkpoint-match.ts';
import { findResumeCheckpoint, listCheckpoints, loadCheckpointState, loadCheckpointWeights, saveCheckpoint, TRAINER_STATE_FILE, type CheckpointEntry } from './checkpoint.ts';
import { newTrainerState, readTrainerState, writeTrainerState, type LogEntry, type TrainerState } from './checkpoint-trainer-state.ts';
import { readDatasetConfig } from './data/config.ts';
import { checkParsersImplemented, loadTrainSources, mixtureOptions } from './data/load.ts';
import { mixtureBatches, mixtureOrder, type SamplerPosition } from './data/mixture.ts';
import { ParquetImageReader } from './data/parquet-image.ts';
import type { ParsedSource, TrainExample, TrainItem } from './data/types.ts';
import { ADAMW_DEFAULTS, decays, warmupStepsOf } from './optim.ts';
import { trainReportHtml } from './report.ts';
import { TrainStep, type TrainStepInfo } from './step.ts';

/** The JSONL log beside the checkpoints: one line per optimizer step. */
export const TRAIN_LOG_FILE = 'train_log.jsonl';
/** The run's curves (report.ts), written when the run ends or stops. */
export const TRAIN_REPORT_FILE = 'train_report.html';

/** One step as the progress display and the JSONL log see it. */
export interface StepReport extends TrainStepInfo {
  step: number;
  maxSteps: number;
  epoch: number;
  /** The lr the next step will use. */
  nextLearningRate: number;
  /** Pairs per second over this step. */
  samplesPerSecond: number;
  /** Sources of the batch's examples (global_dataset_name), in batch order. */
  sources: string[];
}

/** Options of {@link runTraining}. */
export interface TrainRunOptions {
  /** Warnings (ignored flags, skipped incomplete checkpoints); default: stderr. */
  onWarning?: ((msg: string) => void) | undefined;
  /** Each finished step. */
  onStep?: ((r: StepReport) => void) | undefined;
  /** Set-up and saving milestones, one line each. */
  onEvent?: ((msg: string) => void) | undefined;
  /** Stop cleanly after this global step (the schedule still spans the whole run). */
  stopAfterStep?: number | undefined;
}

/** What a run did. */
export interface TrainRunResult {
  /** The last global step done. */
  globalStep: number;
  maxSteps: number;
  /** The step the run resumed from (0: a fresh start). */
  resumedFrom: number;
  /** Whether the final weights were written to OUT/ (false when stopped early). */
  finished: boolean;
  logHistory: LogEntry[];
}

interface Setup {
  model: TrainModel;
  promptStyle: string;
  adapterBase: string;
  resume: CheckpointEntry | undefined;
}

/** The base model and where its trainable weights start (resume > checkpoint_path > new). */
async function setUpModel(a: TrainArgs, warn: (m: string) => void, event: (m: string) => void): Promise<Setup> {
  const { checkpoint: resume, skipped } = await findResumeCheckpoint(a.output_dir, a.resume_from);
  for (const s of skipped) warn(`skipping ${s.dir}: ${s.problem}`);
  // A hub adapter for another hub model fails here, before that model is looked up or fetched.
  if (!resume && a.checkpoint_path !== undefined && (await isAdapterFolder(a.checkpoint_path))) {
    checkAdapterBase(a.checkpoint_path, (await loadAdapterConfig(a.checkpoint_path)).baseModelNameOrPath, a.model_name);
  }
  const resolved = await resolveLocalModel(a.model_name, { minPixels: a.resize_min_pixels, maxPixels: a.resize_max_pixels });
  if (resolved.adapterDir !== undefined) {
    throw new Vlm2VecError('train', `--model_name ${a.model_name} is a PEFT adapter folder; pass its base model as --model_name and the adapter as --checkpoint_path`);
  }
  const record = modelRecord(resolved.model.config.modelType);
  if (!record.loadTrainModel) throw new Vlm2VecError('train', `${record.name} (model_type ${resolved.model.config.modelType}) has no training support`);
  const tokenizer = await HfTokenizer.fromFolder(resolved.tokenizerDir!, { paddingSide: record.paddingSide, padTokenId: record.padTokenId });
  let dir = resolved.model.dir;
  let init: TrainWeightsInit;
  let continued: PeftAdapter | undefined;
  if (resume) {
    event(`resuming from ${resume.dir}`);
    const w = await loadCheckpointWeights(resume);
    if (w.kind === 'adapter') init = { kind: 'adapter', config: w.config, tensors: w.tensors };
    else {
      dir = resume.dir;
      init = { kind: 'full', freezeVision: a.image_encoder_freeze };
    }
  } else if (a.checkpoint_path !== undefined) {
    if (await isAdapterFolder(a.checkpoint_path)) {
      // The adapter keeps its own configuration (r, alpha, targets, use_dora): --lora* do not apply.
      const ad = await loadAdapter(a.checkpoint_path);
      continued = ad;
      if (!a.lora) warn(`--checkpoint_path ${a.checkpoint_path} is an adapter: training it (without --lora, the reference would fine-tune the full model)`);
      init = { kind: 'adapter', config: ad.config, tensors: adapterTensors(ad) };
      event(`continuing from the adapter ${a.checkpoint_path} (r ${ad.config.r}, alpha ${ad.config.loraAlpha}, ${ad.config.useDora ? 'DoRA' : 'LoRA'})`);
    } else {
      if (a.lora) throw new Vlm2VecError('train', `--checkpoint_path ${a.checkpoint_path} has no adapter_config.json; with --lora it must be a PEFT adapter folder`);
      dir = a.checkpoint_path;
      init = { kind: 'full', freezeVision: a.image_encoder_freeze };
    }
  } else if (a.lora) {
    init = {
      kind: 'new-adapter', seed: a.seed,
      config: {
        r: a.lora_r, loraAlpha: a.lora_alpha, loraDropout: a.lora_dropout, targetModules: a.lora_target_modules, useDora: a.lora_type === 'dora',
        useRslora: false, baseModelNameOrPath: a.model_name, revision: undefined, rankPattern: {}, alphaPattern: {},
        initLoraWeights: 'gaussian', taskType: null,
      },
    };
  } else {
    init = { kind: 'full', freezeVision: a.image_encoder_freeze };
  }
  const configJson = (await readJsonFile('config', join(dir, 'config.json'))) as Record<string, unknown>;
  const config = parseModelConfig(configJson, { file: join(dir, 'config.json'), strict: false });
  if (config.modelType !== resolved.model.config.modelType) {
    throw new Vlm2VecError('train', `${dir} is a ${config.modelType} model, --model_name ${a.model_name} a ${resolved.model.config.modelType}`);
  }
  const model = await record.loadTrainModel({ dir, config, configJson, tokenizer, processor: resolved.processor, normalize: a.normalize, init, maxLen: a.max_len });
  // After the loader's per-tensor checks (module exists, shapes fit), which name the tensor.
  if (continued) await checkAdapterCoverage(a.checkpoint_path!, continued, resolved.model.dir);
  return { model, promptStyle: record.promptStyle, adapterBase: a.model_name, resume };
}

/** Python's `round(x, digits)` for the summary's speeds (ties are too rare in timings to matter). */
const pyRound = (x: number, digits: number): number => Number(x.toFixed(digits));

/**
 * HF Trainer's last log_history entry (transformers 5.18 `_finalize_training`; the reference's own
 * `_inner_training_loop` in TIGER-AI-Lab/VLM2Vec src/trainer.py logs the same): `speed_metrics("train", start_time,
 * num_samples=max_steps × batch, num_steps=max_steps)` (the reference's IterableDataset has no
 * length, so HF counts samples from max_steps), `total_flos`, `train_loss`, then `epoch` and
 * `step` as `log()` adds them.
 *
 * - `total_flos` is 0, as the reference writes it: HF's `floating_point_ops` counts only models
 *   with `num_parameters` and an `input_ids` input, and the reference's MMEBModel (an nn.Module
 *   fed `{qry, tgt}`) has neither.
 * - `train_loss` is the mean of every step's loss. HF divides only this session's sum by
 *   `global_step`, which understates it after a resume; we carry the sum through checkpoints
 *   instead, so a resumed run reports what an uninterrupted one does.
 * - The speeds, as HF's, divide the whole run's samples and steps by this session's runtime, so
 *   after a resume they overstate the speed.
 */
export function trainSummary(r: { runtimeMs: number; maxSteps: number; batchSize: number; lossSum: number; globalStep: number; epoch: number }): LogEntry {
  const runtime = r.runtimeMs / 1000;
  const speeds = runtime === 0 ? {} : {
    train_samples_per_second: pyRound((r.maxSteps * r.batchSize) / runtime, 3),
    train_steps_per_second: pyRound(r.maxSteps / runtime, 3),
  };
  return {
    train_runtime: pyRound(runtime, 4), ...speeds, total_flos: 0, train_loss: r.lossSum / Math.max(r.globalStep, 0.001),
    epoch: r.epoch, step: r.globalStep,
  };
}

/**
 * A checkpoint without the loss sum (from before it was kept): the sum its log entries imply,
 * exact when `logging_steps` divides the checkpoint's step (each entry is a mean over that many).
 */
function lossSumFromLog(log: readonly LogEntry[], every: number): number {
  let sum = 0;
  for (const e of log) if (typeof e['loss'] === 'number') sum += e['loss'] * every;
  return sum;
}

/** Writes trained weights as a PEFT adapter folder (naming its base) or a full model folder. */
async function writeWeights(dir: string, w: TrainedWeights, base: string): Promise<void> {
  if (w.kind === 'adapter') await saveAdapter(dir, { ...w.config, baseModelNameOrPath: w.config.baseModelNameOrPath ?? base }, w.tensors, { layout: w.layout });
  else await saveModelFolder(dir, w.tensors, w.config, { processorFrom: w.processorFrom });
}

/** Decodes an item's media and lets the model prepare it. */
async function prepareItem(model: TrainModel, item: TrainItem, parquet: ParquetImageReader, at: string) {
  const load = async (src: string | Uint8Array, what: string): Promise<RgbImage> => {
    try {
      return await loadImageRGB(src);
    } catch (e) {
      throw new Vlm2VecError('train-data', `${at}: cannot decode ${what}: ${(e as Error).message}`, { cause: e });
    }
  };
  const images = await Promise.all(item.images.map((im) => ('path' in im ? load(im.path, im.path) : parquet.read(im).then((b) => load(b, `${im.name} (${im.file} row ${im.row})`)))));
  const frames = await Promise.all((item.video ?? []).map((p) => load(p, p)));
  const input: EncoderInput = { text: item.text, images, frames };
  return model.prepare(input);
}

/**
 * Runs `vlm2vec train` with parsed arguments: see the file header.
 *
 * @example
 * const { args } = parseTrainArgs(['--model_name', 'Qwen/Qwen2-VL-2B-Instruct', '--lora', '--dataset_config', 'mix.yaml', '--output_dir', 'runs/a', '--max_steps', '100']);
 * const r = await runTraining(args, { onStep: (s) => console.log(s.step, s.loss) }); // writes runs/a/checkpoint-N folders and runs/a/adapter_model.safetensors
 */
export async function runTraining(a: TrainArgs, opts: TrainRunOptions = {}): Promise<TrainRunResult> {
  const warn = opts.onWarning ?? ((m: string) => process.stderr.write(`warning: ${m}\n`));
  const event = opts.onEvent ?? (() => undefined);
  ensureOutputDir(a.output_dir, { what: 'output folder (--output_dir)', area: 'train' });
  await mkdir(a.output_dir, { recursive: true });

  // Data first: a bad config fails before the model loads.
  const sources = readDatasetConfig(a.dataset_config, a.data_basedir === undefined ? {} : { dataBasedir: a.data_basedir });
  checkParsersImplemented(sources);
  const { model, promptStyle, adapterBase, resume } = await setUpModel(a, warn, event);
  const parsed: ParsedSource[] = await loadTrainSources(sources, {
    dataDir: a.data ?? a.data_basedir ?? '.', style: promptStyle as PromptStyle, numHardneg: a.num_hardneg,
    ...(a.num_sample_per_subset === undefined ? {} : { numSamplePerSubset: a.num_sample_per_subset }),
  });
  for (const p of parsed) event(`${p.name}: ${p.examples.length} examples (${p.skipped} rows skipped)`);
  const mix = mixtureOptions(sources, parsed, {
    seed: a.seed, per_device_train_batch_size: a.per_device_train_batch_size, interleave_batch_size: a.interleave_batch_size,
    homogeneous_batch_size_per_device: a.homogeneous_batch_size_per_device, interleave_stopping_strategy: a.interleave_stopping_strategy,
  });
  const bs = a.per_device_train_batch_size;
  let perPass = 0;
  for (const _ of mixtureOrder(mix)) perPass++;
  const batchesPerEpoch = Math.floor(perPass / bs);
  if (batchesPerEpoch === 0) throw new Vlm2VecError('train', `the mixture yields ${perPass} examples per pass, fewer than one batch of ${bs}`);
  const maxSteps = a.max_steps > 0 ? a.max_steps : Math.ceil(a.num_train_epochs * batchesPerEpoch);
  const saveEvery = a.save_steps < 1 ? Math.ceil(a.save_steps * maxSteps) : Math.trunc(a.save_steps);
  const logEvery = a.logging_steps < 1 ? Math.ceil(a.logging_steps * maxSteps) : Math.trunc(a.logging_steps);
  const warmupSteps = warmupStepsOf(maxSteps, { warmupSteps: a.warmup_steps, warmupRatio: a.warmup_ratio });

  const train = await TrainStep.create(model.encoder, model.params, {
    ...ADAMW_DEFAULTS, beta1: a.adam_beta1, beta2: a.adam_beta2, eps: a.adam_epsilon, weightDecay: a.weight_decay,
    learningRate: a.learning_rate, schedule: a.lr_scheduler_type, warmupSteps, totalSteps: maxSteps, maxGradNorm: a.max_grad_norm,
    temperature: a.temperature, gradCache: a.grad_cache ? { qChunkSize: a.gc_q_chunk_size, pChunkSize: a.gc_p_chunk_size } : undefined,
    decay: (path) => decays(path, model.role(path)), seed: a.seed,
  });

  let position: SamplerPosition = { epoch: 0, batch: 0 };
  let state: TrainerState = newTrainerState({ max_steps: maxSteps, logging_steps: logEvery, save_steps: saveEvery, train_batch_size: bs, num_train_epochs: Math.ceil(maxSteps / batchesPerEpoch) });
  let globalStep = 0;
  // Σ step losses since step 1, for the summary's train_loss (carried through checkpoints).
  let lossSum = 0;
  if (resume) {
    const st = await loadCheckpointState(resume);
    const adamw = train.optimizer.adamw;
    for (const [j, p] of train.master.entries()) {
      const m = st.optimizer.moments.get(p.name);
      if (!m || m.expAvg.length !== p.data.length) throw new Vlm2VecError('train', `${resume.dir}: the optimizer state has no moments of ${p.name} with ${p.data.length} values`);
      adamw.expAvg[j]!.set(m.expAvg);
      adamw.expAvgSq[j]!.set(m.expAvgSq);
    }
    adamw.stepCount = st.optimizer.step;
    const sched = st.training.scheduler as { step?: unknown } | null;
    train.optimizer.schedulerStep = typeof sched?.step === 'number' ? sched.step : resume.step;
    position = st.training.sampler as unknown as SamplerPosition;
    globalStep = resume.step;
    state = { ...(await readTrainerState(join(resume.dir, TRAINER_STATE_FILE))), max_steps: maxSteps };
    const totals = st.training.totals as { loss_sum?: unknown } | null | undefined;
    lossSum = typeof totals?.loss_sum === 'number' ? totals.loss_sum : lossSumFromLog(state.log_history, logEvery);
  }
  const resumedFrom = globalStep;
  const parquet = new ParquetImageReader();
  const logFile = join(a.output_dir, TRAIN_LOG_FILE);
  let sinceLog: number[] = [];

  const save = async (): Promise<void> => {
    const moments = new Map(train.master.map((p, j) => [p.name, { expAvg: train.optimizer.adamw.expAvg[j]!, expAvgSq: train.optimizer.adamw.expAvgSq[j]! }]));
    const weights = model.weights(train.master);
    const w = weights.kind === 'adapter' ? { ...weights, config: { ...weights.config, baseModelNameOrPath: weights.config.baseModelNameOrPath ?? adapterBase } } : weights;
    const dir = await saveCheckpoint(a.output_dir, globalStep, {
      weights: w,
      optimizer: { step: train.optimizer.adamw.stepCount, moments },
      training: { globalStep, scheduler: { step: train.optimizer.schedulerStep }, rng: { seed: a.seed }, sampler: { ...position }, totals: { loss_sum: lossSum } },
      trainerState: state,
    }, { saveTotalLimit: a.save_total_limit });
    event(`saved ${dir}`);
  };

  const evalEvery = a.eval_steps ?? saveEvery;
  const evaluate = async (): Promise<void> => {
    if (a.eval_tasks === undefined || a.eval_data === undefined) return;
    const dir = join(a.output_dir, 'eval', `step-${globalStep}`);
    await rm(dir, { recursive: true, force: true });
    const modelDir = join(dir, 'model');
    const weights = model.weights(train.master);
    await writeWeights(modelDir, weights, adapterBase);
    const embedder = await LocalEmbedder.load(modelDir, { minPixels: a.resize_min_pixels, maxPixels: a.resize_max_pixels });
    let summary;
    try {
      const r = await runEval({
        embedder, benchmark: a.eval_benchmark, tasks: a.eval_tasks, dataDir: a.eval_data, outDir: join(dir, 'results'), cacheDir: null,
        concurrency: 1, modelLabel: `step-${globalStep}`, onWarning: warn,
      });
      for (const t of r.tasks) if (t.status === 'failed') warn(`evaluation at step ${globalStep}: ${t.task.name} failed: ${t.error}`);
      summary = r.summary;
    } finally {
      await embedder.close();
      // The evaluated adapter stays beside its scores (small); a full model would be gigabytes.
      if (weights.kind === 'model') await rm(modelDir, { recursive: true, force: true });
    }
    const entry: Record<string, number> = {};
    for (const [g, v] of Object.entries(summary.scores)) if (v !== undefined) entry[`eval_${g}`] = v;
    state.log_history.push({ ...entry, epoch: state.epoch, step: globalStep });
    event(`evaluated step ${globalStep}: ${Object.entries(entry).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')}`);
  };

  // HF's start_time: after the set-up, before the first step of this session.
  const startTime = performance.now();
  if (globalStep < maxSteps) {
    const stop = Math.min(maxSteps, opts.stopAfterStep ?? maxSteps);
    for (const { slots, next } of mixtureBatches(mix, bs, position)) {
      if (globalStep >= stop) break;
      const t0 = performance.now();
      const examples: TrainExample[] = slots.map((s) => parsed[s.source]!.examples[s.row]!);
      const where = (ex: TrainExample): string => `${ex.source} (${ex.file} row ${ex.row})`;
      const queries = [];
      const targets = [];
      // Targets grouped per query (positive, then its negatives), so every query of a batch needs
      // the same number of hard negatives; a source without any trains on in-batch negatives only.
      const k = examples[0]!.negs.length;
      for (const ex of examples) {
        if (ex.negs.length !== k) {
          throw new Vlm2VecError('train-data', `${where(ex)} has ${ex.negs.length} hard negatives and ${where(examples[0]!)} ${k}; the examples of a batch need the same number (--num_hardneg ${a.num_hardneg})`);
        }
        queries.push(await prepareItem(model, ex.query, parquet, `${where(ex)} query`));
        for (const [k, it] of [ex.pos, ...ex.negs].entries()) targets.push(await prepareItem(model, it, parquet, `${where(ex)} ${k === 0 ? 'positive' : `negative ${k}`}`));
      }
      let info: TrainStepInfo;
      try {
        info = await train.step(model.batch(queries), model.batch(targets));
      } catch (e) {
        if (!(e instanceof Vlm2VecError)) throw e;
        const srcs = [...new Set(examples.map((x) => x.source))].join(', ');
        const last = (await listCheckpoints(a.output_dir)).filter((c) => c.complete).pop();
        const kept = last ? `the last good checkpoint ${last.dir} is kept` : 'no checkpoint was saved yet';
        // TrainStep numbers its own (0-based) steps; the run's step is named here instead.
        const why = e.detail.replace(/^step \d+: /, '');
        throw new Vlm2VecError('train', `training step ${globalStep + 1} (batch from ${srcs}) failed: ${why}; ${kept}`, { cause: e });
      }
      globalStep++;
      position = next;
      // HF's `epoch + (step + 1) / steps_in_epoch`: the reference's mixture is an IterableDataset
      // without a length, for which steps_in_epoch is max_steps (TIGER-AI-Lab/VLM2Vec src/trainer.py and
      // transformers' Trainer); with only --num_train_epochs (no reference counterpart: the
      // reference requires max_steps), it is the pass length, as for a sized dataset.
      const epoch = position.epoch + position.batch / (a.max_steps > 0 ? maxSteps : batchesPerEpoch);
      const report: StepReport = {
        ...info, step: globalStep, maxSteps, epoch, nextLearningRate: train.optimizer.learningRate,
        samplesPerSecond: bs / ((performance.now() - t0) / 1000), sources: examples.map((x) => x.source),
      };
      await appendFile(logFile, `${JSON.stringify({ step: globalStep, loss: info.loss, learning_rate: info.learningRate, grad_norm: info.gradNorm, epoch, sources: report.sources })}\n`);
      sinceLog.push(info.loss);
      lossSum += info.loss;
      if (globalStep % logEvery === 0) {
        const loss = sinceLog.reduce((s, x) => s + x, 0) / sinceLog.length;
        state.log_history.push({ loss, grad_norm: info.gradNorm, learning_rate: info.learningRate, epoch, step: globalStep });
        sinceLog = [];
      }
      state.global_step = globalStep;
      state.epoch = epoch;
      opts.onStep?.(report);
      // Evaluation first, so the checkpoint's log_history holds its scores (as HF's order).
      if (globalStep % evalEvery === 0) await evaluate();
      // HF's DefaultFlowCallback also saves at the last step (with save_strategy "steps").
      if (globalStep % saveEvery === 0 || globalStep === maxSteps) await save();
    }
  }
  const finished = globalStep >= maxSteps;
  if (finished) {
    const w = model.weights(train.master);
    await writeWeights(a.output_dir, w, adapterBase);
    event(`saved the final ${w.kind === 'adapter' ? 'adapter' : 'model'} to ${a.output_dir}`);
    state.log_history.push(trainSummary({ runtimeMs: performance.now() - startTime, maxSteps, batchSize: bs, lossSum, globalStep, epoch: state.epoch }));
  }
  await writeTrainerState(join(a.output_dir, TRAINER_STATE_FILE), state);
  await writeFileAtomic(join(a.output_dir, TRAIN_REPORT_FILE), await trainReportHtml(state.log_history, { model: a.model_name, outputDir: a.output_dir, globalStep, maxSteps }));
  return { globalStep, maxSteps, resumedFrom, finished, logHistory: state.log_history };
}
