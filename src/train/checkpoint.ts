// Checkpoint folders of a training run, `OUT/checkpoint-<step>/`, as HF's Trainer names them:
//   adapter_model.safetensors + adapter_config.json   (PEFT; or model.safetensors + config.json …)
//   optimizer.safetensors   AdamW's exp_avg / exp_avg_sq per parameter (float32), step in metadata
//   training_state.json     scheduler, RNG and sampler position (whatever JSON those pieces keep)
//   trainer_state.json      HF's TrainerState (checkpoint-trainer-state.ts)
//   checkpoint.json         the completion marker: format, step and every file's byte size
// A save writes everything into `OUT/tmp-checkpoint-<step>/`, writes checkpoint.json last, fsyncs
// the files and the folder, renames the folder into place and fsyncs OUT. rename(2) is atomic, so
// a kill at any point leaves either no `checkpoint-<step>` or a complete one; the marker (checked
// against the files' sizes) also keeps resume away from folders we did not write whole (a
// reference-trainer checkpoint, a partial copy). Optimizer moments are our own safetensors, not
// torch's optimizer.pt: the issue needs resume here, not in PyTorch.

import { open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Vlm2VecError } from '../errors.ts';
import { Checkpoint } from '../io/weights/checkpoint.ts';
import { saveModelFolder } from '../io/weights/model-write.ts';
import { adapterTensors, loadAdapter, type AdapterConfig } from '../io/weights/peft.ts';
import { saveAdapter, type AdapterWriteConfig, type Float32Tensor, type PeftKeyLayout } from '../io/weights/peft-write.ts';
import { SafetensorsFile } from '../io/weights/safetensors.ts';
import { writeSafetensors, type TensorToWrite } from '../io/weights/safetensors-write.ts';
import { ensureOutputDir } from '../util/fs.ts';
import { trainerStateJson, type TrainerState } from './checkpoint-trainer-state.ts';

export const CHECKPOINT_MARKER = 'checkpoint.json';
export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const TRAINING_STATE_FILE = 'training_state.json';
export const TRAINER_STATE_FILE = 'trainer_state.json';
const MARKER_FORMAT = 'vlm2vec-checkpoint/1';
const OPTIMIZER_FORMAT = 'vlm2vec-adamw/1';
const DIR_RE = /^checkpoint-(\d+)$/;

/** JSON data (what the scheduler, RNG and sampler hand over as their state). */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

/** The trained weights: a PEFT adapter, or the full model. */
export type CheckpointWeights =
  | { readonly kind: 'adapter'; readonly config: AdapterWriteConfig; readonly tensors: ReadonlyMap<string, Float32Tensor>; readonly layout?: PeftKeyLayout }
  | { readonly kind: 'model'; readonly config: Readonly<Record<string, unknown>>; readonly tensors: ReadonlyMap<string, Float32Tensor>; readonly processorFrom?: string };

/** AdamW's state: steps taken and both moments per trainable parameter (by name, flat float32). */
export interface OptimizerState {
  readonly step: number;
  readonly moments: ReadonlyMap<string, { readonly expAvg: Float32Array; readonly expAvgSq: Float32Array }>;
}

/** Where the run is besides weights and optimizer. */
export interface TrainingState {
  /** Optimizer steps done (= the checkpoint's step). */
  readonly globalStep: number;
  readonly scheduler: JsonValue;
  readonly rng: JsonValue;
  readonly sampler: JsonValue;
  /** Running totals the end-of-training summary needs (the loss sum for `train_loss`). */
  readonly totals?: JsonValue;
}

export interface CheckpointContents {
  readonly weights: CheckpointWeights;
  readonly optimizer: OptimizerState;
  readonly training: TrainingState;
  readonly trainerState: TrainerState;
}

export interface SaveCheckpointOptions {
  /** HF `save_total_limit`: keep at most this many complete checkpoints (the newest always); ≤ 0 or undefined: all. */
  readonly saveTotalLimit?: number | undefined;
  /** Called as each phase starts (for progress, and for the kill tests). */
  readonly onPhase?: ((phase: SavePhase) => void) | undefined;
}

export type SavePhase = 'weights' | 'optimizer' | 'state' | 'marker' | 'sync' | 'rename' | 'rotate' | 'done';

export const checkpointDirName = (step: number): string => `checkpoint-${step}`;

async function fsyncPath(p: string): Promise<void> {
  const fh = await open(p, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(() => true, () => false);
}

/**
 * Writes `OUT/checkpoint-<step>/` atomically (see the file header), then deletes the oldest
 * complete checkpoints beyond `saveTotalLimit`. Returns the checkpoint folder.
 *
 * @example await saveCheckpoint('runs/a', 50, { weights, optimizer, training, trainerState }, { saveTotalLimit: 2 });
 */
export async function saveCheckpoint(out: string, step: number, contents: CheckpointContents, options: SaveCheckpointOptions = {}): Promise<string> {
  if (!Number.isInteger(step) || step < 0) throw new Vlm2VecError('checkpoint', `step must be a non-negative integer, got ${step}`);
  for (const [what, at] of [['training state', contents.training.globalStep], ['optimizer', contents.optimizer.step]] as const) {
    if (at !== step) throw new Vlm2VecError('checkpoint', `${what} is at step ${at}, the checkpoint is step ${step}`);
  }
  const phase = options.onPhase ?? (() => undefined);
  ensureOutputDir(out, { what: 'output folder (--output_dir)', area: 'checkpoint' });
  const name = checkpointDirName(step);
  const final = join(out, name);
  const tmp = join(out, `tmp-${name}`);
  // Temp folders of saves that were killed (one run writes OUT at a time, so none is in use).
  for (const d of await readdir(out)) if (d.startsWith('tmp-checkpoint-')) await rm(join(out, d), { recursive: true, force: true });
  try {
    phase('weights');
    const w = contents.weights;
    if (w.kind === 'adapter') await saveAdapter(tmp, w.config, w.tensors, { layout: w.layout });
    else await saveModelFolder(tmp, w.tensors, w.config, { processorFrom: w.processorFrom });
    phase('optimizer');
    await writeOptimizerState(join(tmp, OPTIMIZER_FILE), contents.optimizer);
    phase('state');
    const { globalStep, scheduler, rng, sampler, totals } = contents.training;
    const training = { format: 'vlm2vec-training-state/1', global_step: globalStep, scheduler, rng, sampler, ...(totals === undefined ? {} : { totals }) };
    await writeSynced(join(tmp, TRAINING_STATE_FILE), `${JSON.stringify(training, null, 2)}\n`);
    await writeSynced(join(tmp, TRAINER_STATE_FILE), trainerStateJson(contents.trainerState));
    phase('marker');
    const files: Record<string, number> = {};
    for (const f of (await readdir(tmp)).sort()) files[f] = (await stat(join(tmp, f))).size;
    await writeSynced(join(tmp, CHECKPOINT_MARKER), `${JSON.stringify({ format: MARKER_FORMAT, step, weights: w.kind, files }, null, 2)}\n`);
    phase('sync');
    for (const f of Object.keys(files)) await fsyncPath(join(tmp, f));
    await fsyncPath(tmp);
    phase('rename');
    // A folder of the same step (a resumed run saving it again): out of the way first, then deleted.
    const old = join(out, `tmp-${name}-old`);
    if (await exists(final)) {
      await rm(old, { recursive: true, force: true });
      await rename(final, old);
    }
    await rename(tmp, final);
    await fsyncPath(out);
    await rm(old, { recursive: true, force: true });
  } catch (e) {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    if (e instanceof Vlm2VecError) throw e;
    throw new Vlm2VecError('checkpoint', `cannot save ${final}: ${(e as Error).message}`, { cause: e });
  }
  phase('rotate');
  await rotateCheckpoints(out, options.saveTotalLimit);
  phase('done');
  return final;
}

async function writeSynced(path: string, text: string): Promise<void> {
  const fh = await open(path, 'w');
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes AdamW's state as safetensors: `<param>.exp_avg`, `<param>.exp_avg_sq` (F32), step in the metadata. */
export async function writeOptimizerState(path: string, state: OptimizerState): Promise<void> {
  const tensors = new Map<string, TensorToWrite>();
  for (const [name, m] of state.moments) {
    if (m.expAvg.length !== m.expAvgSq.length) throw new Vlm2VecError('checkpoint', `${name}: exp_avg has ${m.expAvg.length} values, exp_avg_sq ${m.expAvgSq.length}`);
    tensors.set(`${name}.exp_avg`, { dtype: 'F32', shape: [m.expAvg.length], data: m.expAvg });
    tensors.set(`${name}.exp_avg_sq`, { dtype: 'F32', shape: [m.expAvgSq.length], data: m.expAvgSq });
  }
  await writeSafetensors(path, tensors, { format: OPTIMIZER_FORMAT, step: String(state.step) });
}

/** Reads {@link writeOptimizerState}'s file back (the same bits). */
export async function readOptimizerState(path: string): Promise<OptimizerState> {
  const st = await SafetensorsFile.open(path);
  try {
    const meta = st.metadata;
    const step = Number(meta.step);
    if (meta.format !== OPTIMIZER_FORMAT || !Number.isInteger(step) || step < 0) {
      throw new Vlm2VecError('checkpoint', `${path}: not an optimizer state of ours (metadata format '${meta.format}', step '${meta.step}'; expected ${OPTIMIZER_FORMAT})`);
    }
    const moments = new Map<string, { expAvg: Float32Array; expAvgSq: Float32Array }>();
    for (const n of st.names()) {
      const m = /^(.+)\.exp_avg(_sq)?$/.exec(n);
      if (!m) throw new Vlm2VecError('checkpoint', `${path}: unexpected tensor '${n}' (expected <param>.exp_avg / .exp_avg_sq)`);
      const param = m[1] as string;
      if (moments.has(param)) continue;
      const a = await st.readFloat32(`${param}.exp_avg`);
      if (!st.has(`${param}.exp_avg_sq`)) throw new Vlm2VecError('checkpoint', `${path}: ${param} has exp_avg but no exp_avg_sq`);
      moments.set(param, { expAvg: a, expAvgSq: await st.readFloat32(`${param}.exp_avg_sq`, [a.length]) });
    }
    return { step, moments };
  } finally {
    await st.close();
  }
}

/** One `checkpoint-<step>` folder and whether resume may trust it. */
export interface CheckpointEntry {
  readonly step: number;
  readonly dir: string;
  readonly complete: boolean;
  /** Why it is not complete. */
  readonly problem?: string | undefined;
  readonly weights?: 'adapter' | 'model' | undefined;
}

/** Whether `dir` is a complete checkpoint of ours for `step`: its marker parses and names every file with its size. */
export async function inspectCheckpoint(dir: string, step: number): Promise<CheckpointEntry> {
  const bad = (problem: string): CheckpointEntry => ({ step, dir, complete: false, problem });
  let marker: { format?: unknown; step?: unknown; weights?: unknown; files?: unknown };
  try {
    marker = JSON.parse(await readFile(join(dir, CHECKPOINT_MARKER), 'utf8')) as typeof marker;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return bad(code === 'ENOENT' ? `no ${CHECKPOINT_MARKER} (not written whole by vlm2vec train)` : `${CHECKPOINT_MARKER} unreadable (${(e as Error).message})`);
  }
  if (marker.format !== MARKER_FORMAT || marker.step !== step || typeof marker.files !== 'object' || marker.files === null) {
    return bad(`${CHECKPOINT_MARKER} is not a ${MARKER_FORMAT} marker for step ${step}`);
  }
  for (const [f, size] of Object.entries(marker.files as Record<string, unknown>)) {
    const s = await stat(join(dir, f)).catch(() => undefined);
    if (!s) return bad(`${f} is missing`);
    if (s.size !== size) return bad(`${f} has ${s.size} bytes, the marker says ${String(size)}`);
  }
  const weights = marker.weights === 'adapter' || marker.weights === 'model' ? marker.weights : undefined;
  if (!weights) return bad(`${CHECKPOINT_MARKER} names no weights kind`);
  return { step, dir, complete: true, weights };
}

/** Every `checkpoint-<step>` folder under `out`, oldest step first, each inspected. */
export async function listCheckpoints(out: string): Promise<CheckpointEntry[]> {
  const names = await readdir(out, { withFileTypes: true }).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return [];
    throw new Vlm2VecError('checkpoint', `cannot list ${out}: ${e.message}`, { cause: e });
  });
  const found = names.filter((d) => d.isDirectory() && DIR_RE.test(d.name)).map((d) => ({ name: d.name, step: Number(DIR_RE.exec(d.name)![1]) }));
  found.sort((a, b) => a.step - b.step);
  return Promise.all(found.map((f) => inspectCheckpoint(join(out, f.name), f.step)));
}

/**
 * HF's `_rotate_checkpoints` by step: deletes the oldest complete checkpoints until at most
 * `limit` remain; the newest is never deleted. Folders we did not complete are left alone.
 * Returns the deleted folders.
 */
export async function rotateCheckpoints(out: string, limit: number | undefined): Promise<string[]> {
  if (limit === undefined || limit <= 0) return [];
  const complete = (await listCheckpoints(out)).filter((c) => c.complete);
  const doomed = complete.slice(0, Math.max(0, complete.length - Math.max(limit, 1)));
  for (const c of doomed) await rm(c.dir, { recursive: true, force: true });
  return doomed.map((c) => c.dir);
}

/** `--resume_from`: 'auto' (newest complete checkpoint), 'none', or a step number. */
export type ResumeFrom = 'auto' | 'none' | number;

export interface ResumeChoice {
  /** The checkpoint to resume from; undefined when there is none (or 'none'). */
  readonly checkpoint: CheckpointEntry | undefined;
  /** `checkpoint-<step>` folders skipped as incomplete (newer than the chosen one or not), for a warning. */
  readonly skipped: readonly CheckpointEntry[];
}

/**
 * Picks the checkpoint to resume from. 'auto' takes the newest complete one and reports the
 * incomplete ones it skipped; a step must exist and be complete, else a Vlm2VecError says which
 * steps are available.
 *
 * @example const { checkpoint } = await findResumeCheckpoint('runs/a', 'auto'); // checkpoint?.dir = 'runs/a/checkpoint-150'
 */
export async function findResumeCheckpoint(out: string, from: ResumeFrom): Promise<ResumeChoice> {
  if (from === 'none') return { checkpoint: undefined, skipped: [] };
  const all = await listCheckpoints(out);
  const skipped = all.filter((c) => !c.complete);
  const available = (): string => {
    const ok = all.filter((c) => c.complete).map((c) => c.step);
    return ok.length > 0 ? `complete checkpoints: ${ok.join(', ')}` : 'no complete checkpoint there';
  };
  if (from === 'auto') return { checkpoint: all.filter((c) => c.complete).pop(), skipped };
  if (!Number.isInteger(from) || from < 0) throw new Vlm2VecError('checkpoint', `resume_from must be 'auto', 'none' or a step number, got ${String(from)}`);
  const c = all.find((x) => x.step === from);
  if (!c) throw new Vlm2VecError('checkpoint', `resume_from ${from}: ${join(out, checkpointDirName(from))} does not exist (${available()})`);
  if (!c.complete) throw new Vlm2VecError('checkpoint', `resume_from ${from}: ${c.dir} is incomplete: ${c.problem} (${available()})`);
  return { checkpoint: c, skipped: skipped.filter((s) => s.step !== from) };
}

/** A checkpoint's optimizer and training state. */
export interface LoadedCheckpointState {
  readonly optimizer: OptimizerState;
  readonly training: TrainingState;
}

/** Reads the optimizer and training state of a complete checkpoint (see {@link findResumeCheckpoint}). */
export async function loadCheckpointState(entry: CheckpointEntry): Promise<LoadedCheckpointState> {
  if (!entry.complete) throw new Vlm2VecError('checkpoint', `${entry.dir} is incomplete: ${entry.problem}`);
  const optimizer = await readOptimizerState(join(entry.dir, OPTIMIZER_FILE));
  const file = join(entry.dir, TRAINING_STATE_FILE);
  let json: { format?: unknown; global_step?: unknown; scheduler?: JsonValue; rng?: JsonValue; sampler?: JsonValue; totals?: JsonValue };
  try {
    json = JSON.parse(await readFile(file, 'utf8')) as typeof json;
  } catch (e) {
    throw new Vlm2VecError('checkpoint', `${file}: unreadable (${(e as Error).message})`, { cause: e });
  }
  if (json.format !== 'vlm2vec-training-state/1' || json.global_step !== entry.step) {
    throw new Vlm2VecError('checkpoint', `${file}: expected format vlm2vec-training-state/1 at step ${entry.step}, found ${String(json.format)} at ${String(json.global_step)}`);
  }
  return { optimizer, training: { globalStep: entry.step, scheduler: json.scheduler ?? null, rng: json.rng ?? null, sampler: json.sampler ?? null, ...(json.totals === undefined ? {} : { totals: json.totals }) } };
}

/** The trained weights of a checkpoint, as float32 tensors keyed by checkpoint-layout names. */
export type LoadedWeights =
  | { readonly kind: 'adapter'; readonly config: AdapterConfig; readonly tensors: Map<string, Float32Tensor> }
  | { readonly kind: 'model'; readonly tensors: Map<string, Float32Tensor> };

/**
 * Reads the weights a resumed run continues from: the adapter's factors (and its own config:
 * r, alpha, targets, use_dora), or every tensor of a full-model checkpoint, widened to float32.
 *
 * @example const w = await loadCheckpointWeights(checkpoint); // w.kind === 'adapter' → w.tensors.get('model.layers.0.self_attn.q_proj.lora_A.weight')
 */
export async function loadCheckpointWeights(entry: CheckpointEntry): Promise<LoadedWeights> {
  if (!entry.complete) throw new Vlm2VecError('checkpoint', `${entry.dir} is incomplete: ${entry.problem}`);
  if (entry.weights === 'adapter') {
    const ad = await loadAdapter(entry.dir);
    return { kind: 'adapter', config: ad.config, tensors: adapterTensors(ad) };
  }
  const ck = await Checkpoint.open(entry.dir);
  try {
    const tensors = new Map<string, Float32Tensor>();
    for (const n of ck.names()) tensors.set(n, { shape: [...ck.info(n).shape], data: await ck.readFloat32(n) });
    return { kind: 'model', tensors };
  } finally {
    await ck.close();
  }
}
