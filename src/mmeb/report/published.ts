// Published baselines: the headline metric of every task for the 8 models in the reference's
// score files (v2.0.0, v2.0.1, v2.1 page-fixed), generated into published-data.json by
// tools/published-table.ts from test/fixtures/published-scores (TIGER-AI-Lab/VLM2Vec
// experiments/public/all_scores/, HEAD 6e1e1d4). Group figures are computed with the same
// aggregation as our own results (aggregate.ts), so the leaderboard and reports agree with
// docs/mmeb.md §13.

import { readFileSync } from 'node:fs';
import { Vlm2VecError } from '../../errors.ts';
import { summarize, BENCHMARK_GROUPS, type GroupName, type ModelScores, type Summary } from '../score/aggregate.ts';
import { TASKS, type BenchmarkName } from '../tasks/registry.ts';
import type { TaskDef } from '../tasks/types.ts';

export const PUBLISHED_VERSIONS = ['v2.0.0', 'v2.0.1', 'v2.1'] as const;
export type PublishedVersion = (typeof PUBLISHED_VERSIONS)[number];
/** Default baseline version: the latest complete set (78 tasks; v2.1 lacks the two -doc tasks). */
export const DEFAULT_PUBLISHED_VERSION: PublishedVersion = 'v2.0.1';

interface PublishedData {
  source: string;
  versions: Record<string, { folder: string; models: Record<string, { date: string; tasks: Record<string, number> }> }>;
}

let data: PublishedData | undefined;
function load(): PublishedData {
  data ??= JSON.parse(readFileSync(new URL('./published-data.json', import.meta.url), 'utf8')) as PublishedData;
  return data;
}

/** Where the built-in figures come from (printed under tables). */
export function publishedSource(version: PublishedVersion): string {
  const v = load().versions[version];
  return `${load().source}; folder ${v?.folder ?? version}`;
}

export function isPublishedVersion(v: string): v is PublishedVersion {
  return (PUBLISHED_VERSIONS as readonly string[]).includes(v);
}

/**
 * The published runs of one version, as {@link ModelScores} (task → {headline metric: value}).
 *
 * @example
 * publishedRuns('v2.0.0').map((r) => r.model); // ['LamRA-Ret-Qwen2.5VL-7b', 'LamRA-Ret', ...]
 */
export function publishedRuns(version: PublishedVersion, tasks: readonly TaskDef[] = TASKS): ModelScores[] {
  if (!isPublishedVersion(version)) {
    throw new Vlm2VecError('leaderboard', `unknown published version '${String(version)}': expected one of ${PUBLISHED_VERSIONS.join(', ')}`);
  }
  const v = load().versions[version];
  if (!v) throw new Vlm2VecError('leaderboard', `published-data.json has no version ${version}`);
  const metricOf = new Map(tasks.map((t) => [t.name, t.metric]));
  return Object.entries(v.models).map(([model, m]) => {
    const byTask: Record<string, Record<string, number>> = {};
    for (const [task, value] of Object.entries(m.tasks)) byTask[task] = { [metricOf.get(task) ?? 'hit@1']: value };
    return { model, source: `published ${version} (${m.date})`, tasks: byTask };
  });
}

/** Summaries of every published model of a version, sorted by the benchmark's headline group. */
export function leaderboard(benchmark: BenchmarkName = 'mmeb-v2', version: PublishedVersion = DEFAULT_PUBLISHED_VERSION): Summary[] {
  const key: GroupName = benchmark === 'mmeb-v1' ? 'v1/overall' : 'all';
  return publishedRuns(version)
    .map((r) => summarize(r, benchmark))
    .sort((a, b) => (b.scores[key] ?? -1) - (a.scores[key] ?? -1));
}

/** Columns of the leaderboard table per benchmark. */
export function leaderboardColumns(benchmark: BenchmarkName): readonly GroupName[] {
  return benchmark === 'mmeb-v1'
    ? ['image/CLS', 'image/QA', 'image/RET', 'image/VG', 'v1/IND', 'v1/OOD', 'v1/overall']
    : BENCHMARK_GROUPS['mmeb-v2'].filter((g) => !g.startsWith('v1/'));
}
