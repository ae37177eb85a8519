// `vlm2vec train`'s command line: the reference's own flag names and HfArgumentParser's syntax
// (TIGER-AI-Lab/VLM2Vec src/arguments.py: ModelArguments, DataArguments and its TrainingArguments
// subclass over transformers' TrainingArguments), so the reference's
// experiments/public/train/train_v2-qwen2vl-2B.sh line runs with `torchrun … train.py` replaced by
// `vlm2vec train`. Syntax as argparse reads a dataclass field:
//   --flag value | --flag=value; a bool field also bare (`--lora` = True) or with a value that
//   transformers' string_to_bool reads (yes/true/t/y/1, no/false/f/n/0, any case).
// Defaults are the reference's (its dataclass defaults override transformers' where it redeclares
// a field: logging_steps 1, num_train_epochs 1, output_dir, resume_from 'none'); the rest are
// transformers' TrainingArguments defaults. Flags that only matter on GPUs or clusters (bf16,
// deepspeed, report_to, …) are accepted with a one-line warning; any other unknown flag is an
// error with a did-you-mean. `--config FILE` (YAML or JSON) holds the same keys; the command
// line wins over it.
//
// One deliberate difference, said in --help: the reference's `--lora` trains DoRA (peft
// LoraConfig(use_dora=True, init_lora_weights="gaussian"), src/model/model.py); so does ours by
// default, and `--lora_type lora` asks for plain LoRA.

import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { Vlm2VecError } from '../errors.ts';
import { closestName } from '../util/text.ts';
import type { ResumeFrom } from './checkpoint.ts';
import { LR_SCHEDULER_TYPES, type LrSchedulerType } from './optim.ts';
import type { BenchmarkName } from '../mmeb/tasks/registry.ts';

type Kind = 'str' | 'int' | 'float' | 'bool' | 'list';

interface FlagSpec {
  kind: Kind;
  /** The default (undefined: the reference's None). */
  def?: string | number | boolean | readonly string[];
  /** Allowed values of a string flag. */
  choices?: readonly string[];
  help: string;
  required?: boolean;
}

/** The reference's default LoRA targets (ModelArguments.lora_target_modules). */
export const REFERENCE_LORA_TARGETS = ['qkv_proj', 'o_proj', 'gate_up_proj', 'down_proj', 'k_proj', 'q_proj', 'out_proj', 'v_proj'] as const;

/** Every flag `vlm2vec train` reads, by the reference's name, with its default. */
export const TRAIN_FLAGS = {
  // ModelArguments
  model_name: { kind: 'str', required: true, help: 'base model: a local folder or a hub id (Qwen/Qwen2-VL-2B-Instruct)' },
  checkpoint_path: { kind: 'str', help: 'a PEFT adapter folder (or full checkpoint) to continue from; it keeps its own config (r, alpha, targets, use_dora)' },
  pooling: { kind: 'str', def: 'last', choices: ['last', 'eos'], help: 'pooling of the last token (eos = last, as the reference treats it)' },
  normalize: { kind: 'bool', def: false, help: 'L2-normalize the reps before the loss' },
  temperature: { kind: 'float', def: 0.02, help: 'InfoNCE temperature' },
  lora: { kind: 'bool', def: false, help: 'train an adapter (DoRA, as the reference\'s --lora; see --lora_type) instead of the full model' },
  lora_type: { kind: 'str', def: 'dora', choices: ['dora', 'lora'], help: 'ours: dora (the reference\'s --lora: use_dora, gaussian init) or plain lora' },
  lora_r: { kind: 'int', def: 16, help: 'adapter rank' },
  lora_alpha: { kind: 'int', def: 64, help: 'adapter alpha (scaling alpha / r)' },
  lora_dropout: { kind: 'float', def: 0.1, help: 'adapter dropout (written to adapter_config.json; the forward here has no dropout)' },
  lora_target_modules: { kind: 'list', def: REFERENCE_LORA_TARGETS, help: 'comma-separated module names peft matches by suffix' },
  // DataArguments
  dataset_config: { kind: 'str', required: true, help: 'the reference\'s dataset_config YAML (sources, parsers, weights)' },
  data_basedir: { kind: 'str', help: 'base folder of image_dir (and of dataset repos unless --data)' },
  data: { kind: 'str', help: 'ours: dataset repos are DIR/<org>/<repo>, as eval finds them (default: --data_basedir)' },
  num_sample_per_subset: { kind: 'int', help: 'first N rows of each source that does not set its own' },
  image_resolution: { kind: 'str', help: 'only used by the reference with --resize_use_processor False (ignored, with a warning)' },
  resize_use_processor: { kind: 'bool', def: true, help: 'resize in the image processor (the only mode here)' },
  resize_min_pixels: { kind: 'int', def: 4 * 28 * 28, help: 'image processor min_pixels' },
  resize_max_pixels: { kind: 'int', def: 1280 * 28 * 28, help: 'image processor max_pixels' },
  max_len: { kind: 'int', help: 'truncate token sequences to this length (none: no truncation)' },
  num_hardneg: { kind: 'int', def: 0, help: 'hard negatives per example, appended as extra targets' },
  // TrainingArguments (the reference's subclass, then transformers')
  output_dir: { kind: 'str', required: true, help: 'where checkpoints, logs and the final model go' },
  per_device_train_batch_size: { kind: 'int', def: 8, help: 'pairs per step' },
  grad_cache: { kind: 'bool', def: false, help: 'GradCache: the same gradient, one chunk of activations at a time' },
  gc_q_chunk_size: { kind: 'int', def: 2, help: 'GradCache query chunk' },
  gc_p_chunk_size: { kind: 'int', def: 2, help: 'GradCache target chunk' },
  interleave_batch_size: { kind: 'float', def: 0, help: 'consecutive examples from one source (deprecated alias of the next)' },
  homogeneous_batch_size_per_device: { kind: 'float', def: 0, help: 'consecutive examples from one source; ≤ 1: a fraction of the batch; 0: drawn per example' },
  interleave_stopping_strategy: { kind: 'str', def: 'all_exhausted', choices: ['all_exhausted', 'first_exhausted'], help: 'when the mixture ends' },
  learning_rate: { kind: 'float', def: 5e-5, help: 'peak learning rate' },
  lr_scheduler_type: { kind: 'str', def: 'linear', choices: LR_SCHEDULER_TYPES, help: 'schedule' },
  warmup_steps: { kind: 'float', def: 0, help: 'warmup steps (a value in (0, 1): a fraction of the total)' },
  warmup_ratio: { kind: 'float', def: 0, help: 'warmup as a fraction of the total steps' },
  max_steps: { kind: 'int', def: -1, help: 'optimizer steps (-1: num_train_epochs passes)' },
  num_train_epochs: { kind: 'float', def: 1, help: 'passes over the mixture when max_steps is -1' },
  weight_decay: { kind: 'float', def: 0, help: 'AdamW decoupled weight decay (not on biases and norms)' },
  adam_beta1: { kind: 'float', def: 0.9, help: 'AdamW beta1' },
  adam_beta2: { kind: 'float', def: 0.999, help: 'AdamW beta2' },
  adam_epsilon: { kind: 'float', def: 1e-8, help: 'AdamW epsilon' },
  max_grad_norm: { kind: 'float', def: 1, help: 'clip the total gradient norm (0: no clipping)' },
  seed: { kind: 'int', def: 42, help: 'seed of the mixture and of new adapter weights' },
  save_steps: { kind: 'float', def: 500, help: 'save OUT/checkpoint-<step>/ every N steps (a value < 1: a fraction of the total)' },
  save_total_limit: { kind: 'int', help: 'keep at most N checkpoints' },
  logging_steps: { kind: 'float', def: 1, help: 'log every N steps' },
  resume_from: { kind: 'str', def: 'none', help: 'auto (the newest complete checkpoint), none, or a step' },
  image_encoder_freeze: { kind: 'bool', def: false, help: 'full fine-tuning: keep the vision tower frozen' },
  // Ours: MMEB evaluation during training, through the eval harness.
  eval_tasks: { kind: 'list', help: 'ours: MMEB tasks to evaluate during training (names, modalities, globs, as eval --tasks)' },
  eval_data: { kind: 'str', help: 'ours: the MMEB data folder (as eval --data)' },
  eval_steps: { kind: 'int', help: 'ours: evaluate every N steps (default: --save_steps)' },
  eval_benchmark: { kind: 'str', def: 'mmeb-v2', choices: ['mmeb-v2', 'mmeb-v1', 'mini'], help: 'ours: the benchmark the tasks are taken from' },
} as const satisfies Record<string, FlagSpec>;

export type TrainFlagName = keyof typeof TRAIN_FLAGS;

/**
 * Flags of the reference's scripts that do not apply here, each with why (a one-line warning).
 * `bool`: takes an optional value like a bool field; else it takes its values (one or more).
 */
export const IGNORED_FLAGS: Readonly<Record<string, { bool: boolean; why: string }>> = {
  bf16: { bool: true, why: 'training here keeps float32 master weights on the CPU (bf16 is a GPU matter)' },
  fp16: { bool: true, why: 'training here keeps float32 master weights on the CPU' },
  tf32: { bool: true, why: 'a GPU matmul mode' },
  gradient_checkpointing: { bool: true, why: 'use --grad_cache to bound activation memory' },
  deepspeed: { bool: false, why: 'single process here; continue on the reference\'s trainer for multi-GPU runs' },
  report_to: { bool: false, why: 'the run logs to OUT/train_log.jsonl and OUT/trainer_state.json' },
  run_name: { bool: false, why: 'used by wandb only' },
  project_name: { bool: false, why: 'used by wandb only' },
  logging_dir: { bool: false, why: 'logs go to OUT/' },
  dataloader_num_workers: { bool: false, why: 'batches are built in-process' },
  save_safetensors: { bool: true, why: 'checkpoints are always safetensors' },
  remove_unused_columns: { bool: true, why: 'no HF Dataset columns here' },
  overwrite_output_dir: { bool: true, why: 'use --resume_from to continue; checkpoints of the same step are replaced' },
  do_train: { bool: true, why: 'vlm2vec train always trains' },
  local_rank: { bool: false, why: 'single process' },
  ddp_timeout: { bool: false, why: 'single process' },
  ddp_find_unused_parameters: { bool: true, why: 'single process' },
  torch_compile: { bool: true, why: 'no torch here' },
};

/** The parsed command line, typed. */
export interface TrainArgs {
  model_name: string;
  checkpoint_path: string | undefined;
  pooling: 'last' | 'eos';
  normalize: boolean;
  temperature: number;
  lora: boolean;
  lora_type: 'dora' | 'lora';
  lora_r: number;
  lora_alpha: number;
  lora_dropout: number;
  lora_target_modules: string[];
  dataset_config: string;
  data_basedir: string | undefined;
  data: string | undefined;
  num_sample_per_subset: number | undefined;
  image_resolution: string | undefined;
  resize_use_processor: boolean;
  resize_min_pixels: number;
  resize_max_pixels: number;
  max_len: number | undefined;
  num_hardneg: number;
  output_dir: string;
  per_device_train_batch_size: number;
  grad_cache: boolean;
  gc_q_chunk_size: number;
  gc_p_chunk_size: number;
  interleave_batch_size: number;
  homogeneous_batch_size_per_device: number;
  interleave_stopping_strategy: 'all_exhausted' | 'first_exhausted';
  learning_rate: number;
  lr_scheduler_type: LrSchedulerType;
  warmup_steps: number;
  warmup_ratio: number;
  max_steps: number;
  num_train_epochs: number;
  weight_decay: number;
  adam_beta1: number;
  adam_beta2: number;
  adam_epsilon: number;
  max_grad_norm: number;
  seed: number;
  save_steps: number;
  save_total_limit: number | undefined;
  logging_steps: number;
  resume_from: ResumeFrom;
  image_encoder_freeze: boolean;
  eval_tasks: string[] | undefined;
  eval_data: string | undefined;
  eval_steps: number | undefined;
  eval_benchmark: BenchmarkName;
}

/** What {@link parseTrainArgs} returns: the arguments and the warnings to print. */
export interface ParsedTrainArgs {
  args: TrainArgs;
  warnings: string[];
}

const fail = (msg: string): never => {
  throw new Vlm2VecError('train-args', msg);
};

/** transformers' string_to_bool. */
function toBool(name: string, v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  const s = String(v).toLowerCase();
  if (['yes', 'true', 't', 'y', '1'].includes(s)) return true;
  if (['no', 'false', 'f', 'n', '0'].includes(s)) return false;
  return fail(`--${name} expects a boolean (True/False, yes/no, 1/0), got '${String(v)}'`);
}

function toNumber(name: string, v: unknown, int: boolean): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (!Number.isFinite(n) || (int && !Number.isInteger(n))) fail(`--${name} expects ${int ? 'an integer' : 'a number'}, got '${String(v)}'`);
  return n;
}

function convert(name: TrainFlagName, v: unknown): unknown {
  const spec: FlagSpec = TRAIN_FLAGS[name];
  switch (spec.kind) {
    case 'bool':
      return toBool(name, v);
    case 'int':
      return toNumber(name, v, true);
    case 'float':
      return toNumber(name, v, false);
    case 'list': {
      const items = Array.isArray(v) ? v.map(String) : String(v).split(',');
      const out = items.map((s) => s.trim()).filter((s) => s !== '');
      if (out.length === 0) fail(`--${name} expects a comma-separated list, got '${String(v)}'`);
      return out;
    }
    case 'str': {
      if (typeof v !== 'string' && typeof v !== 'number') fail(`--${name} expects a string, got ${JSON.stringify(v)}`);
      const s = String(v);
      if (spec.choices && !spec.choices.includes(s)) {
        const near = closestName(s, spec.choices);
        fail(`--${name} must be one of ${spec.choices.join(', ')}, got '${s}'${near ? ` (did you mean '${near}'?)` : ''}`);
      }
      return s;
    }
  }
}

const isFlag = (tok: string | undefined): boolean => tok !== undefined && tok.startsWith('--');

function unknown(name: string, where: string): never {
  const known = [...Object.keys(TRAIN_FLAGS), ...Object.keys(IGNORED_FLAGS), 'config'];
  const near = closestName(name, known);
  return fail(`unknown ${where} '${name}'${near ? ` (did you mean '${near}'?)` : ''}; 'vlm2vec train --help' lists the flags`);
}

/**
 * Reads HfArgumentParser-style tokens into raw values by flag name (strings, or true for a bare
 * bool), the ignored flags into warnings, and `--config`.
 */
function scan(argv: readonly string[], warnings: string[]): { raw: Map<string, unknown>; config: string | undefined } {
  const raw = new Map<string, unknown>();
  let config: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const tok = argv[i]!;
    if (!isFlag(tok)) fail(`unexpected argument '${tok}' (flags are --name value, as the reference's train.py takes them)`);
    const eq = tok.indexOf('=');
    const name = tok.slice(2, eq > 0 ? eq : undefined);
    const inline = eq > 0 ? tok.slice(eq + 1) : undefined;
    const takeValue = (): string => {
      if (inline !== undefined) return inline;
      const next = argv[i + 1];
      if (next === undefined || isFlag(next)) return fail(`--${name} expects a value`);
      i++;
      return next;
    };
    if (name === 'config') {
      config = takeValue();
      continue;
    }
    const ignored = IGNORED_FLAGS[name];
    if (ignored) {
      // A bool takes an optional value; others all their values (report_to takes a list).
      if (inline === undefined) {
        if (ignored.bool) {
          if (argv[i + 1] !== undefined && !isFlag(argv[i + 1])) i++;
        } else {
          while (argv[i + 1] !== undefined && !isFlag(argv[i + 1])) i++;
        }
      }
      warnings.push(`--${name} is ignored: ${ignored.why}`);
      continue;
    }
    if (!Object.hasOwn(TRAIN_FLAGS, name)) unknown(name, 'flag');
    if (raw.has(name)) fail(`--${name} is given twice`);
    const spec: FlagSpec = TRAIN_FLAGS[name as TrainFlagName];
    if (spec.kind === 'bool' && inline === undefined && (argv[i + 1] === undefined || isFlag(argv[i + 1]))) raw.set(name, true);
    else raw.set(name, takeValue());
  }
  return { raw, config };
}

/** The keys of a `--config` file (YAML or JSON: a mapping of flag names to values). */
export function readTrainConfigFile(file: string): Map<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return fail(`cannot read --config ${file}: ${(e as Error).message}`);
  }
  // JSON is YAML 1.2; YAML 1.1 as PyYAML would read a reference config.
  const doc = parseDocument(text, { version: '1.1', uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) fail(`--config ${file}: invalid YAML/JSON: ${doc.errors[0]!.message}`);
  const root: unknown = doc.toJS();
  if (root === null || typeof root !== 'object' || Array.isArray(root)) fail(`--config ${file}: expected a mapping of flag names to values`);
  const out = new Map<string, unknown>();
  for (const [k, v] of Object.entries(root as Record<string, unknown>)) {
    const name = k.replace(/^--/, '');
    if (Object.hasOwn(IGNORED_FLAGS, name)) continue;
    if (!Object.hasOwn(TRAIN_FLAGS, name)) unknown(name, `key in ${file}:`);
    if (v !== null) out.set(name, v);
  }
  return out;
}

/**
 * Parses `vlm2vec train`'s arguments (the tokens after `train`).
 *
 * @example
 * const { args, warnings } = parseTrainArgs(['--model_name', 'Qwen/Qwen2-VL-2B-Instruct', '--lora', '--bf16', '--dataset_config', 'mix.yaml', '--output_dir', 'out']);
 * args.lora; // true (DoRA: args.lora_type === 'dora');  warnings: ['--bf16 is ignored: …']
 */
export function parseTrainArgs(argv: readonly string[]): ParsedTrainArgs {
  const warnings: string[] = [];
  const { raw, config } = scan(argv, warnings);
  const merged = config === undefined ? new Map<string, unknown>() : readTrainConfigFile(config);
  for (const [k, v] of raw) merged.set(k, v);
  const args: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(TRAIN_FLAGS) as [TrainFlagName, FlagSpec][]) {
    const v = merged.get(name);
    if (v === undefined) {
      if (spec.required) fail(`--${name} is required`);
      args[name] = Array.isArray(spec.def) ? [...spec.def] : spec.def;
    } else args[name] = convert(name, v);
  }
  const a = args as unknown as TrainArgs & { resume_from: unknown };
  a.resume_from = resumeFrom(String(a.resume_from));
  check(a, warnings);
  return { args: a, warnings };
}

function resumeFrom(v: string): ResumeFrom {
  if (v === 'auto' || v === 'none') return v;
  if (/^\d+$/.test(v)) return Number(v);
  return fail(`--resume_from must be auto, none or a checkpoint step, got '${v}'`);
}

function check(a: TrainArgs, warnings: string[]): void {
  const pos = (name: keyof TrainArgs, v: number, allowZero = false): void => {
    if (!(allowZero ? v >= 0 : v > 0)) fail(`--${name} must be ${allowZero ? '≥ 0' : '> 0'}, got ${v}`);
  };
  pos('temperature', a.temperature);
  pos('lora_r', a.lora_r);
  pos('lora_alpha', a.lora_alpha);
  pos('per_device_train_batch_size', a.per_device_train_batch_size);
  pos('learning_rate', a.learning_rate, true);
  pos('save_steps', a.save_steps);
  pos('logging_steps', a.logging_steps);
  pos('num_hardneg', a.num_hardneg, true);
  pos('resize_min_pixels', a.resize_min_pixels);
  if (a.resize_min_pixels > a.resize_max_pixels) fail(`--resize_min_pixels ${a.resize_min_pixels} exceeds --resize_max_pixels ${a.resize_max_pixels}`);
  if (!(a.lora_dropout >= 0 && a.lora_dropout < 1)) fail(`--lora_dropout must be in [0, 1), got ${a.lora_dropout}`);
  if (a.max_steps === 0 || a.max_steps < -1) fail(`--max_steps must be a positive step count or -1 (use --num_train_epochs), got ${a.max_steps}`);
  if (a.max_steps === -1 && !(a.num_train_epochs > 0)) fail(`--num_train_epochs must be > 0 when --max_steps is -1, got ${a.num_train_epochs}`);
  if (a.save_total_limit !== undefined && a.save_total_limit < 1) fail(`--save_total_limit must be ≥ 1, got ${a.save_total_limit}`);
  if (a.max_len !== undefined && a.max_len < 1) fail(`--max_len must be ≥ 1, got ${a.max_len}`);
  if (!a.resize_use_processor) fail('--resize_use_processor False (resizing by --image_resolution before the processor) is not supported here');
  if (a.image_resolution !== undefined) warnings.push('--image_resolution is ignored: the reference uses it only with --resize_use_processor False; images are resized by the processor within --resize_min_pixels / --resize_max_pixels');
  if (a.grad_cache) {
    for (const k of ['gc_q_chunk_size', 'gc_p_chunk_size'] as const) {
      const c = a[k];
      if (!(Number.isInteger(c) && c >= 1)) fail(`--${k} must be a positive integer, got ${c}`);
    }
    if (a.per_device_train_batch_size % a.gc_q_chunk_size !== 0) {
      fail(`--gc_q_chunk_size ${a.gc_q_chunk_size} does not divide --per_device_train_batch_size ${a.per_device_train_batch_size}`);
    }
    const targets = a.per_device_train_batch_size * (1 + a.num_hardneg);
    if (targets % a.gc_p_chunk_size !== 0) {
      fail(`--gc_p_chunk_size ${a.gc_p_chunk_size} does not divide the ${targets} targets of a batch (--per_device_train_batch_size ${a.per_device_train_batch_size} × (1 + --num_hardneg ${a.num_hardneg}))`);
    }
  }
  if ((a.eval_tasks === undefined) !== (a.eval_data === undefined)) fail('--eval_tasks and --eval_data go together (the tasks, and the MMEB data folder they are read from)');
  if (a.eval_steps !== undefined && a.eval_steps < 1) fail(`--eval_steps must be ≥ 1, got ${a.eval_steps}`);
  if (!a.lora && a.lora_type !== 'dora') warnings.push('--lora_type applies only with --lora (this run fine-tunes the full model)');
}
