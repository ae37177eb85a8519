// Score aggregation (docs/mmeb.md §8): per-task headline metric (hit@1 for
// image/video, ndcg_linear@5 for visdoc), unweighted means per meta-task, modality, V1 split, and
// `all` = mean over tasks (not over modality means). Scale 0–100, unrounded. A group with missing
// tasks is computed over the tasks present and reported as partial (n/expected + the missing
// names) — never silently; a group with no task at all has no score.
// Inputs: result folders (`OUT/<modality>/<Task>_score.json`) or published score JSONs.

import { readFileSync, existsSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { Vlm2VecError } from '../../errors.ts';
import { writeFileAtomic } from '../../util/fs.ts';
import { MINI_TASKS, MODALITIES, TASKS, type BenchmarkName } from '../tasks/registry.ts';
import { npMean } from './pyorder.ts';
import type { TaskDef } from '../tasks/types.ts';

/** The summary groups of issue 2 item 4, in display order. */
export const GROUPS = [
  'all', 'image', 'video', 'visdoc',
  'image/CLS', 'image/QA', 'image/RET', 'image/VG',
  'video/CLS', 'video/QA', 'video/RET', 'video/MRET',
  'visdoc/VDRv1', 'visdoc/VDRv2', 'visdoc/VR', 'visdoc/OOD',
  'v1/IND', 'v1/OOD', 'v1/overall',
] as const;
export type GroupName = (typeof GROUPS)[number];

/** Groups that make sense for each benchmark. */
export const BENCHMARK_GROUPS: Readonly<Record<BenchmarkName, readonly GroupName[]>> = {
  'mmeb-v2': GROUPS,
  'mmeb-v1': ['image', 'image/CLS', 'image/QA', 'image/RET', 'image/VG', 'v1/IND', 'v1/OOD', 'v1/overall'],
  mini: ['all', 'image', 'video', 'visdoc', 'image/CLS', 'image/RET', 'video/RET', 'visdoc/VDRv1'],
};

/** Member tasks of a group, from the registry. */
export function groupMembers(group: GroupName, tasks: readonly TaskDef[] = TASKS): TaskDef[] {
  if (group === 'all') return [...tasks];
  if (group === 'v1/overall') return tasks.filter((t) => t.v1 !== undefined);
  const [a, b] = group.split('/') as [string, string | undefined];
  if (a === 'v1') return tasks.filter((t) => t.v1 === b);
  if (b === undefined) return tasks.filter((t) => t.modality === a);
  return tasks.filter((t) => t.modality === a && t.meta === b);
}

/** Per-task score records of one model run, keyed by task name (raw 0–1 metric dicts). */
export interface ModelScores {
  model: string;
  /** File or folder the scores came from. */
  source: string;
  /** Task name → metric dict (at least the headline metric). */
  tasks: Record<string, Record<string, number>>;
}

export interface GroupResult {
  /** Mean headline score ×100 over the tasks present, or null when none is present. */
  score: number | null;
  n: number;
  expected: number;
  missing: string[];
}

export interface Summary {
  model: string;
  source: string;
  benchmark: BenchmarkName;
  /** Group → score on 0–100, only for groups with at least one task (partial ones included). */
  scores: Partial<Record<GroupName, number>>;
  /** Groups computed over fewer tasks than expected. */
  partial: Partial<Record<GroupName, { n: number; expected: number; missing: string[] }>>;
  /** Task → headline ×100, for the benchmark's tasks present. */
  tasks: Record<string, number>;
  /** Task names present in the input that are not part of the benchmark (e.g. MomentSeeker_1k8). */
  extra_tasks: string[];
}

/** Headline value (0–1) of a task in a run, or undefined when absent/non-numeric (§8.1 drops those). */
export function headline(scores: ModelScores, task: TaskDef): number | undefined {
  const v = scores.tasks[task.name]?.[task.metric];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/**
 * Aggregate one run into the summary groups.
 *
 * @example
 * const s = summarize(readPublishedScores('test/fixtures/published-scores/v2.0.0/VLM2Vec-V2.0-Qwen2VL-2B.json'));
 * s.scores.all; // 58.02…
 */
export function summarize(run: ModelScores, benchmark: BenchmarkName = 'mmeb-v2', tasks: readonly TaskDef[] = benchmark === 'mini' ? MINI_TASKS : TASKS): Summary {
  const groups = BENCHMARK_GROUPS[benchmark];
  const summary: Summary = { model: run.model, source: run.source, benchmark, scores: {}, partial: {}, tasks: {}, extra_tasks: [] };
  const scope = benchmark === 'mmeb-v1' ? tasks.filter((t) => t.v1 !== undefined) : tasks;
  for (const t of scope) {
    const v = headline(run, t);
    if (v !== undefined) summary.tasks[t.name] = v * 100;
  }
  const known = new Set(scope.map((t) => t.name));
  summary.extra_tasks = Object.keys(run.tasks).filter((n) => !known.has(n));
  for (const g of groups) {
    const r = groupScore(run, g, tasks);
    if (r.score !== null) summary.scores[g] = r.score;
    if (r.n < r.expected) summary.partial[g] = { n: r.n, expected: r.expected, missing: r.missing };
  }
  return summary;
}

/** One group's mean over the member tasks present. */
export function groupScore(run: ModelScores, group: GroupName, tasks: readonly TaskDef[] = TASKS): GroupResult {
  const members = groupMembers(group, tasks);
  const values: number[] = [];
  const missing: string[] = [];
  for (const t of members) {
    const v = headline(run, t);
    if (v === undefined) missing.push(t.name);
    else values.push(v * 100); // scaled first: matches the published §13 tables' rounding
  }
  return { score: values.length ? npMean(values) : null, n: values.length, expected: members.length, missing };
}

/** HEAD's temporary `-fixed` key renaming (§8.1) undone, so keys match the registry. */
const KEY_ALIASES: Readonly<Record<string, string>> = {
  'MMLongBench-page-fixed': 'MMLongBench-page',
  'ViDoSeek-page-fixed': 'ViDoSeek-page',
};

function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Vlm2VecError('report', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Vlm2VecError('report', `${path} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function metricDict(x: unknown, where: string): Record<string, number> {
  if (!isObject(x)) throw new Vlm2VecError('report', `${where}: expected an object of metrics`);
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(x)) {
    // The reference leaves "FILE_N/A"-style strings for missing tasks; they are dropped (§8.1).
    if (typeof v === 'number') out[k] = v;
  }
  return out;
}

/**
 * Read a published/report score JSON (`{"metadata": {"model_name"}, "metrics": {modality: {task: {...}}}}`).
 * `-fixed` keys are mapped back to the registry names; non-object task entries are dropped.
 */
export function readPublishedScores(path: string): ModelScores {
  const doc = readJson(path);
  if (!isObject(doc) || !isObject(doc.metrics)) {
    throw new Vlm2VecError('report', `${path}: expected {"metadata": {...}, "metrics": {"image"|"video"|"visdoc": {...}}}`);
  }
  const meta = isObject(doc.metadata) ? doc.metadata : {};
  const model = typeof meta.model_name === 'string' ? meta.model_name : basename(path, '.json');
  const tasks: Record<string, Record<string, number>> = {};
  for (const [modality, byTask] of Object.entries(doc.metrics)) {
    if (!isObject(byTask)) throw new Vlm2VecError('report', `${path}: metrics.${modality} must be an object of tasks`);
    for (const [name, dict] of Object.entries(byTask)) {
      if (!isObject(dict)) continue;
      tasks[KEY_ALIASES[name] ?? name] = metricDict(dict, `${path}: metrics.${modality}.${name}`);
    }
  }
  return { model, source: path, tasks };
}

/**
 * Read a result folder: `OUT/<modality>/<Task>_score.json` for every registry task (and extras
 * present on disk). Missing files are simply absent (reported as partial groups).
 */
export function readResultFolder(dir: string, tasks: readonly TaskDef[] = TASKS): ModelScores {
  const out: Record<string, Record<string, number>> = {};
  for (const modality of MODALITIES) {
    for (const t of tasks.filter((x) => x.modality === modality)) {
      const f = join(dir, modality, `${t.name}_score.json`);
      if (!existsSync(f)) continue;
      out[t.name] = metricDict(readJson(f), f);
      if (out[t.name]?.[t.metric] === undefined) {
        throw new Vlm2VecError('report', `${f}: missing the headline metric '${t.metric}' of task ${t.name}`);
      }
    }
  }
  return { model: basename(resolve(dir)), source: dir, tasks: out };
}

/** Read a result folder or a published JSON, by what the path is. */
export function readScores(path: string): ModelScores {
  if (!existsSync(path)) throw new Vlm2VecError('report', `no such result folder or score file: ${path}`);
  if (statSync(path).isDirectory()) {
    const hasModality = MODALITIES.some((m) => existsSync(join(path, m)));
    if (!hasModality) {
      throw new Vlm2VecError('report', `${path}: not a result folder (expected ${MODALITIES.map((m) => `${m}/`).join(', ')} with <Task>_score.json files)`);
    }
    return readResultFolder(path);
  }
  return readPublishedScores(path);
}

/** The `OUT/summary.json` document. */
export function summaryDocument(summary: Summary): Record<string, unknown> {
  return {
    scores: summary.scores,
    partial: summary.partial,
    tasks: summary.tasks,
    model: summary.model,
    benchmark: summary.benchmark,
    scale: '0-100, unrounded; headline metric hit@1 (image, video), ndcg_linear@5 (visdoc)',
    ...(summary.extra_tasks.length ? { extra_tasks: summary.extra_tasks } : {}),
  };
}

/**
 * Write `OUT/summary.json` atomically.
 *
 * @example
 * await writeSummary('out/', summarize(readResultFolder('out/')));
 */
export async function writeSummary(outDir: string, summary: Summary): Promise<string> {
  const path = join(outDir, 'summary.json');
  await writeFileAtomic(path, `${JSON.stringify(summaryDocument(summary), null, 2)}\n`);
  return path;
}
