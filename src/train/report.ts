// A training run in reports: the loss, learning-rate and gradient-norm curves (and the MMEB scores
// of --eval_tasks) over the steps of trainer_state.json's log_history, as static SVG (Vega-Lite
// rendered in Node, like the MMEB report: no script, no network). Two pages use it:
// OUT/train_report.html, written by the loop, and `vlm2vec report OUT` (mmeb/report/index.ts),
// which adds a "Training" section beside any MMEB results.
//
// A run still going, or killed, has no OUT/trainer_state.json yet (the loop writes it at the end):
// its curves then come from OUT/train_log.jsonl (one line per step; a step run again after a
// resume counts once, the later line) and its scores from the newest checkpoint's trainer_state.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { Vlm2VecError } from '../errors.ts';
import { specSvg } from '../mmeb/report/charts.ts';
import { escapeHtml } from '../mmeb/report/html.ts';
import { readTrainerState, type LogEntry } from './checkpoint-trainer-state.ts';

/** The curves the page draws: log_history field → chart title. */
export const TRAIN_CURVES = { loss: 'loss (InfoNCE)', learning_rate: 'learning rate', grad_norm: 'gradient norm (before clipping)' } as const;

// File names the loop writes (loop.ts re-exports the first two; kept here so reading a run does
// not load the training code).
const TRAINER_STATE = 'trainer_state.json';
const TRAIN_LOG = 'train_log.jsonl';

/**
 * A line chart of one log_history field over the steps (entries without it are left out).
 *
 * @example trainCurveSpec(state.log_history, 'loss').data // { values: [{ step: 1, value: 2.3 }, …] }
 */
export function trainCurveSpec(log: readonly LogEntry[], field: string): TopLevelSpec & { data: { values: { step: number; value: number }[] } } {
  const values = log.filter((e) => typeof e[field] === 'number' && Number.isFinite(e[field])).map((e) => ({ step: e.step, value: e[field]! }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: (TRAIN_CURVES as Record<string, string>)[field] ?? `${field.slice('eval_'.length)} (MMEB score ×100, evaluated during training)`,
    data: { values },
    mark: { type: 'line', point: values.length <= 50 },
    width: 560,
    height: 200,
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'step' },
      y: { field: 'value', type: 'quantitative', title: field, scale: { zero: field !== 'loss' } },
      tooltip: [{ field: 'step' }, { field: 'value', format: '.4g' }],
    },
    config: { font: 'sans-serif', view: { stroke: null } },
  };
}

/** The `eval_<group>` fields of a log, in first-seen order. */
export function evalFields(log: readonly LogEntry[]): string[] {
  return [...new Set(log.flatMap((e) => Object.keys(e).filter((k) => k.startsWith('eval_'))))];
}

/** The charts of a log as `<figure>`s: the three curves, then one per MMEB group scored. */
export async function trainCurveFigures(log: readonly LogEntry[]): Promise<string[]> {
  const out: string[] = [];
  for (const field of [...Object.keys(TRAIN_CURVES), ...evalFields(log)]) {
    const spec = trainCurveSpec(log, field);
    out.push(`<figure class="chart" data-field="${field}" data-points="${spec.data.values.length}">${await specSvg(spec)}</figure>`);
  }
  return out;
}

/** What the page says about the run. */
export interface TrainReportInfo {
  model: string;
  outputDir: string;
  globalStep: number;
  maxSteps: number;
}

const CSS = 'body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:1400px}figure{margin:0 0 1rem}figure svg{max-width:100%;height:auto}code{background:#f3f3f3;padding:0 3px}';

/**
 * The self-contained HTML page of a training run.
 *
 * @example await writeFileAtomic('runs/a/train_report.html', await trainReportHtml(state.log_history, { model, outputDir: 'runs/a', globalStep: 50, maxSteps: 5000 }));
 */
export async function trainReportHtml(log: readonly LogEntry[], info: TrainReportInfo): Promise<string> {
  const parts = [
    `<h1>Training run: ${escapeHtml(info.model)}</h1>`,
    `<p>Output <code>${escapeHtml(info.outputDir)}</code>, step ${info.globalStep} of ${info.maxSteps}; ${log.length} log entries (trainer_state.json log_history).</p>`,
    ...(await trainCurveFigures(log)),
  ];
  return trainPageHtml('Training run', parts);
}

/** A self-contained page around HTML parts, in the training report's style. */
export function trainPageHtml(title: string, parts: readonly string[]): string {
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title><style>${CSS}</style></head>\n<body>\n${parts.join('\n')}\n</body></html>\n`;
}

/** A training output folder as `vlm2vec report` reads it. */
export interface TrainingRun {
  dir: string;
  /** Where the curves come from. */
  from: 'trainer_state.json' | 'train_log.jsonl';
  log: LogEntry[];
  globalStep: number;
  /** Unknown while a run reads only from its JSONL log and has no checkpoint yet. */
  maxSteps: number | undefined;
  /** The adapter's base model (adapter_config.json), when the folder holds an adapter. */
  base: string | undefined;
  /** HF's end-of-training entry (train_runtime, train_loss, …), once the run finished. */
  summary: LogEntry | undefined;
}

/** True for a folder `vlm2vec train` wrote (its trainer_state.json or train_log.jsonl is there). */
export function isTrainingDir(path: string): boolean {
  try {
    return statSync(path).isDirectory() && (existsSync(join(path, TRAINER_STATE)) || existsSync(join(path, TRAIN_LOG)));
  } catch {
    return false;
  }
}

function readJsonl(file: string): LogEntry[] {
  const bySteps = new Map<number, LogEntry>();
  const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
  for (const [i, line] of lines.entries()) {
    if (line.trim() === '') continue;
    let e: Record<string, unknown>;
    try {
      e = JSON.parse(line) as Record<string, unknown>;
    } catch {
      // The last line of a killed run may be cut; any other bad line is a real problem.
      if (i === lines.length - 1) continue;
      throw new Vlm2VecError('report', `${file} line ${i + 1}: not JSON`);
    }
    if (typeof e['step'] !== 'number') throw new Vlm2VecError('report', `${file} line ${i + 1}: no numeric 'step'`);
    const entry: Record<string, number> = { step: e['step'] };
    for (const k of ['loss', 'learning_rate', 'grad_norm', 'epoch']) if (typeof e[k] === 'number') entry[k] = e[k];
    bySteps.set(e['step'], entry as LogEntry);
  }
  return [...bySteps.values()].sort((a, b) => a.step - b.step);
}

/** The newest `checkpoint-<N>` folder that has a trainer_state.json. */
function newestCheckpointState(dir: string): string | undefined {
  const steps = readdirSync(dir).map((n) => /^checkpoint-(\d+)$/.exec(n)).filter((m) => m !== null).map((m) => Number(m[1])).sort((a, b) => b - a);
  for (const s of steps) {
    const f = join(dir, `checkpoint-${s}`, TRAINER_STATE);
    if (existsSync(f)) return f;
  }
  return undefined;
}

/**
 * Reads a training output folder: OUT/trainer_state.json when the run finished or stopped
 * cleanly, else OUT/train_log.jsonl (a run going on or killed) with the evaluations of its newest
 * checkpoint.
 *
 * @example const run = await readTrainingRun('runs/a'); run.log.at(-1) // { step: 80, loss: 0.31, … }
 */
export async function readTrainingRun(dir: string): Promise<TrainingRun> {
  let base: string | undefined;
  const adapterConfig = join(dir, 'adapter_config.json');
  if (existsSync(adapterConfig)) {
    const b = (JSON.parse(readFileSync(adapterConfig, 'utf8')) as { base_model_name_or_path?: unknown }).base_model_name_or_path;
    if (typeof b === 'string') base = b;
  }
  if (existsSync(join(dir, TRAINER_STATE))) {
    const st = await readTrainerState(join(dir, TRAINER_STATE));
    const summary = st.log_history.find((e) => 'train_runtime' in e);
    return { dir, from: TRAINER_STATE, log: st.log_history, globalStep: st.global_step, maxSteps: st.max_steps, base, summary };
  }
  const log = readJsonl(join(dir, TRAIN_LOG));
  const ck = newestCheckpointState(dir);
  const st = ck === undefined ? undefined : await readTrainerState(ck);
  const evals = (st?.log_history ?? []).filter((e) => evalFields([e]).length > 0);
  return {
    dir, from: TRAIN_LOG, log: [...log, ...evals].sort((a, b) => a.step - b.step), globalStep: log.at(-1)?.step ?? 0,
    maxSteps: st?.max_steps, base, summary: undefined,
  };
}

const fmt = (x: number | undefined): string => (x === undefined ? '–' : Math.abs(x) >= 1e-3 || x === 0 ? x.toFixed(4) : x.toExponential(2));

/** One paragraph of facts about a run (the same in every format). */
function runFacts(run: TrainingRun): string[] {
  const losses = run.log.filter((e) => typeof e['loss'] === 'number');
  const facts = [
    `step ${run.globalStep}${run.maxSteps === undefined ? '' : ` of ${run.maxSteps}`}${run.base ? `, adapter on ${run.base}` : ''} (from ${run.from})`,
  ];
  if (losses.length > 0) facts.push(`loss ${fmt(losses[0]!['loss'])} at step ${losses[0]!.step} → ${fmt(losses.at(-1)!['loss'])} at step ${losses.at(-1)!.step}`);
  const s = run.summary;
  if (s) facts.push(`finished: train_loss ${fmt(s['train_loss'])}, ${s['train_runtime']} s, ${s['train_steps_per_second'] ?? '–'} steps/s`);
  return facts;
}

/** Each evaluation during training: its step and every `eval_<group>` score. */
function evalRows(run: TrainingRun): { step: number; scores: (number | undefined)[] }[] {
  const fields = evalFields(run.log);
  return run.log.filter((e) => evalFields([e]).length > 0).map((e) => ({ step: e.step, scores: fields.map((f) => e[f]) }));
}

/** The run as an HTML section (heading, facts, curves) for a larger page. */
export async function trainingSectionHtml(run: TrainingRun): Promise<string> {
  return [
    `<h2>Training: <code>${escapeHtml(run.dir)}</code></h2>`,
    `<p>${runFacts(run).map(escapeHtml).join('; ')}.</p>`,
    ...(await trainCurveFigures(run.log)),
  ].join('\n');
}

/** The run in Markdown: the facts and a table of the evaluations during training. */
export function trainingSectionMarkdown(run: TrainingRun): string {
  const lines = [`## Training: \`${run.dir}\``, '', `${runFacts(run).join('; ')}.`, ''];
  const rows = evalRows(run);
  if (rows.length > 0) {
    const fields = evalFields(run.log).map((f) => f.slice('eval_'.length));
    lines.push(`| step | ${fields.join(' | ')} |`, `|---:|${fields.map(() => '---:').join('|')}|`);
    for (const r of rows) lines.push(`| ${r.step} | ${r.scores.map((v) => (v === undefined ? '–' : v.toFixed(2))).join(' | ')} |`);
    lines.push('');
  }
  lines.push('The loss, learning-rate and gradient-norm curves are in the HTML report (`--format html`).', '');
  return lines.join('\n');
}

/** The run as plain text for the terminal table. */
export function trainingSectionText(run: TrainingRun): string {
  const lines = [`training run ${run.dir}: ${runFacts(run).join('; ')}`];
  const fields = evalFields(run.log);
  for (const r of evalRows(run)) lines.push(`  step ${r.step}: ${fields.map((f, i) => `${f.slice('eval_'.length)} ${r.scores[i] === undefined ? '–' : r.scores[i]!.toFixed(2)}`).join(', ')}`);
  return `${lines.join('\n')}\n`;
}
