// `trainer_state.json` as HF's Trainer writes it (transformers 5.18 TrainerState.save_to_json:
// `json.dumps(dataclasses.asdict(state), indent=2, sort_keys=True) + "\n"`), so tools that read
// HF runs (and the reference trainer resuming from our checkpoint) read ours. Floats are written
// as Python writes them (`2.0`, `5e-05`, `NaN`), which JSON.stringify does not: the float fields
// are known (TrainerState's float fields and every log_history value but `step`).

import { readFile } from 'node:fs/promises';
import { Vlm2VecError } from '../errors.ts';
import { writeFileAtomic } from '../util/fs.ts';

/** One `log_history` entry of a training step: `{step, loss, learning_rate, grad_norm, epoch}`. */
export interface LogEntry {
  readonly step: number;
  readonly [metric: string]: number;
}

/** transformers' TrainerState fields (5.18), in its names. */
export interface TrainerState {
  epoch: number;
  global_step: number;
  max_steps: number;
  logging_steps: number;
  eval_steps: number;
  save_steps: number;
  train_batch_size: number | null;
  num_train_epochs: number;
  num_input_tokens_seen: number;
  total_flos: number;
  log_history: LogEntry[];
  best_metric: number | null;
  best_global_step: number | null;
  best_model_checkpoint: string | null;
  is_local_process_zero: boolean;
  is_world_process_zero: boolean;
  is_hyper_param_search: boolean;
  trial_name: string | null;
  trial_params: Record<string, string | number | boolean> | null;
  stateful_callbacks: Record<string, unknown>;
}

/** TrainerState's dataclass defaults, with the run's values over them. */
export function newTrainerState(init: Partial<TrainerState> = {}): TrainerState {
  return {
    epoch: 0, global_step: 0, max_steps: 0, logging_steps: 500, eval_steps: 500, save_steps: 500,
    train_batch_size: null, num_train_epochs: 0, num_input_tokens_seen: 0, total_flos: 0, log_history: [],
    best_metric: null, best_global_step: null, best_model_checkpoint: null, is_local_process_zero: true,
    is_world_process_zero: true, is_hyper_param_search: false, trial_name: null, trial_params: null, stateful_callbacks: {},
    ...init,
  };
}

const FLOAT_FIELDS = new Set(['epoch', 'total_flos', 'best_metric']);

/**
 * Python's `repr(float)`: the shortest round-trip digits (as JS), fixed notation for exponents
 * −4 … 15 with at least one decimal, scientific otherwise with a signed two-digit exponent.
 *
 * @example pyFloat(2) // '2.0'; pyFloat(5e-5) // '5e-05'; pyFloat(1e16) // '1e+16'
 */
export function pyFloat(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  const [mant, expS] = Math.abs(x).toExponential().split('e') as [string, string];
  const digits = mant.replace('.', '');
  const e = Number(expS);
  if (e < -4 || e >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return `${sign}${m}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  }
  if (e < 0) return `${sign}0.${'0'.repeat(-e - 1)}${digits}`;
  if (digits.length <= e + 1) return `${sign}${digits}${'0'.repeat(e + 1 - digits.length)}.0`;
  return `${sign}${digits.slice(0, e + 1)}.${digits.slice(e + 1)}`;
}

// json.dumps(indent=2, sort_keys=True): ", " → ",\n", ": " separators, empty containers as {} / [].
function dump(v: unknown, indent: string, isFloat: (key: string) => boolean, key: string): string {
  if (v === null) return 'null';
  if (typeof v === 'number') return isFloat(key) ? pyFloat(v) : Number.isInteger(v) ? String(v) : pyFloat(v);
  if (typeof v === 'string' || typeof v === 'boolean') return JSON.stringify(v);
  const inner = `${indent}  `;
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    return `[\n${v.map((x) => inner + dump(x, inner, isFloat, key)).join(',\n')}\n${indent}]`;
  }
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
  if (keys.length === 0) return '{}';
  return `{\n${keys.map((k) => `${inner}${JSON.stringify(k)}: ${dump(o[k], inner, isFloat, k)}`).join(',\n')}\n${indent}}`;
}

/** The file's text, byte for byte as transformers writes the same state. */
export function trainerStateJson(state: TrainerState): string {
  const top = dump({ ...state, log_history: [] }, '', (k) => FLOAT_FIELDS.has(k), '');
  // log_history values are floats except `step` (HF casts every logged metric with float()).
  const logs = state.log_history.length === 0 ? '[]' : `[\n${state.log_history.map((e) => `    ${dump(e, '    ', (k) => k !== 'step', '')}`).join(',\n')}\n  ]`;
  return `${top.replace('"log_history": []', `"log_history": ${logs}`)}\n`;
}

/** Writes `path` atomically. */
export async function writeTrainerState(path: string, state: TrainerState): Promise<void> {
  await writeFileAtomic(path, trainerStateJson(state));
}

// Python's json writes NaN / Infinity / -Infinity bare; turn them into marker strings (outside
// string literals only) so JSON.parse reads the file, then back into numbers.
const MARK = '\u0000py:';

function parsePythonJson(text: string, file: string): unknown {
  let out = '';
  let inStr = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (inStr) {
      out += ch;
      if (ch === '\\') out += text[++i] ?? '';
      else if (ch === '"') inStr = false;
      continue;
    }
    if (ch === '"') inStr = true;
    const word = ['-Infinity', 'Infinity', 'NaN'].find((w) => text.startsWith(w, i));
    if (word) {
      out += JSON.stringify(MARK + word);
      i += word.length - 1;
    } else out += ch;
  }
  try {
    return JSON.parse(out, (_k, v: unknown) => (typeof v === 'string' && v.startsWith(MARK) ? Number(v.slice(MARK.length)) : v));
  } catch (e) {
    throw new Vlm2VecError('checkpoint', `${file}: not valid JSON (${(e as Error).message})`, { cause: e });
  }
}

/** Reads a trainer_state.json (ours or HF's): the defaults under whatever fields the file has. */
export async function readTrainerState(path: string): Promise<TrainerState> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new Vlm2VecError('checkpoint', `${path}: cannot read (${(e as Error).message})`, { cause: e });
  }
  const json = parsePythonJson(text, path);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Vlm2VecError('checkpoint', `${path}: expected a JSON object`);
  const st = newTrainerState(json as Partial<TrainerState>);
  if (!Array.isArray(st.log_history) || !Number.isInteger(st.global_step)) {
    throw new Vlm2VecError('checkpoint', `${path}: log_history must be a list and global_step an integer`);
  }
  return st;
}
