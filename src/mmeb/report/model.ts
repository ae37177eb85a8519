// What a report shows: our runs' summaries, the published baselines of one version, and the
// per-task / per-group rows both the Markdown and the HTML renderers print.

import { BENCHMARK_GROUPS, groupMembers, readScores, summarize, type GroupName, type Summary } from '../score/aggregate.ts';
import { META_TASKS, MODALITIES, TASKS, type BenchmarkName } from '../tasks/registry.ts';
import { leaderboard, publishedSource, DEFAULT_PUBLISHED_VERSION, type PublishedVersion } from './published.ts';
import { Vlm2VecError } from '../../errors.ts';
import type { TaskDef } from '../tasks/types.ts';

export interface ReportOptions {
  benchmark?: BenchmarkName;
  /** Published version used as baselines (default v2.0.1). */
  baselineVersion?: PublishedVersion;
  /** Baseline model names to show; `[]` = none; undefined = all published models. */
  baselines?: readonly string[];
}

export interface ReportData {
  benchmark: BenchmarkName;
  runs: Summary[];
  baselines: Summary[];
  baselineVersion: PublishedVersion;
  baselineSource: string;
  /**
   * Column / legend label per summary: runs by model name, baselines marked with the version,
   * and a run missing benchmark tasks marked `(partial: n/N tasks)`, in every table and chart.
   */
  label: (s: Summary) => string;
}

/** How many of the benchmark's tasks a summary has, when it lacks some (else undefined). */
export function partialRun(s: Summary): { n: number; expected: number } | undefined {
  const p = s.partial[s.benchmark === 'mmeb-v1' ? 'v1/overall' : 'all'];
  return p ? { n: p.n, expected: p.expected } : undefined;
}

/**
 * Read result folders / score JSONs and pick the baselines.
 *
 * @example
 * const data = buildReport(['out/'], { baselineVersion: 'v2.0.1' });
 */
export function buildReport(paths: readonly string[], opts: ReportOptions = {}): ReportData {
  if (paths.length === 0) throw new Vlm2VecError('report', 'no RESULT given: pass result folders or published score JSON files');
  const benchmark = opts.benchmark ?? 'mmeb-v2';
  const version = opts.baselineVersion ?? DEFAULT_PUBLISHED_VERSION;
  const runs = paths.map((p) => summarize(readScores(p), benchmark));
  const all = leaderboard(benchmark, version);
  const wanted = opts.baselines;
  if (wanted) {
    const unknown = wanted.filter((w) => !all.some((s) => s.model === w));
    if (unknown.length) {
      throw new Vlm2VecError('report', `unknown baseline model(s) ${unknown.join(', ')}: published ${version} has ${all.map((s) => s.model).join(', ')}`);
    }
  }
  const baselines = wanted ? all.filter((s) => wanted.includes(s.model)) : all;
  const runSet = new Set(runs);
  const seen = new Map<string, number>();
  const labels = new Map<Summary, string>();
  for (const s of [...runs, ...baselines]) {
    const base = runSet.has(s) ? s.model : `${s.model} (pub ${version})`;
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    const p = partialRun(s);
    labels.set(s, `${n > 1 ? `${base} #${n}` : base}${p ? ` (partial: ${p.n}/${p.expected} tasks)` : ''}`);
  }
  return {
    benchmark, runs, baselines, baselineVersion: version, baselineSource: publishedSource(version),
    label: (s) => labels.get(s) ?? s.model,
  };
}

/** What every figure of a report is (tables, charts and footers say it the same way). */
export const SCALE_NOTE = 'Every figure is the headline metric ×100 (0–100): hit@1 for image and video tasks, ndcg_linear@5 for visdoc tasks.';

/** The footer naming the baselines' version and provenance (the figures above are ×100 like ours). */
export function baselineNote(data: ReportData): string {
  return `Baselines: the published ${data.baselineVersion} scores, as ×100 figures like ours. Source: ${data.baselineSource}.`;
}

/** The meta-task groups of a benchmark (one chart and one per-task table each). */
export function metaGroups(benchmark: BenchmarkName): GroupName[] {
  const mods = benchmark === 'mmeb-v1' ? (['image'] as const) : MODALITIES;
  return mods.flatMap((m) => META_TASKS[m].map((x) => `${m}/${x}` as GroupName));
}

/** Headline groups of the summary chart. */
export function headlineGroups(benchmark: BenchmarkName): GroupName[] {
  return benchmark === 'mmeb-v1' ? ['v1/IND', 'v1/OOD', 'v1/overall'] : ['all', 'image', 'video', 'visdoc'];
}

export function summaryGroups(benchmark: BenchmarkName): readonly GroupName[] {
  return BENCHMARK_GROUPS[benchmark];
}

export function tasksOf(group: GroupName): TaskDef[] {
  return groupMembers(group, TASKS);
}

/** `80.80` or `–`. */
export function taskCell(s: Summary, task: string): string {
  const v = s.tasks[task];
  return v === undefined ? '–' : v.toFixed(2);
}
