// The `vlm2vec report` table output and the `vlm2vec leaderboard` table.

import { BENCHMARK_GROUPS, type Summary } from '../score/aggregate.ts';
import type { BenchmarkName } from '../tasks/registry.ts';
import { leaderboard, leaderboardColumns, publishedSource, type PublishedVersion } from './published.ts';
import { cell, fitTextTable, groupRows, textTable, wrapText } from './format.ts';

/**
 * Groups × runs as a text table, with the list of partial groups underneath. `label` names the
 * columns (default the model name; the report passes labels that tell equal names apart).
 *
 * @example
 * console.log(summaryText([summarize(readScores('out/'))]));
 */
export function summaryText(summaries: readonly Summary[], label: (s: Summary) => string = (s) => s.model): string {
  const bench: BenchmarkName = summaries[0]?.benchmark ?? 'mmeb-v2';
  const table = textTable(['group', ...summaries.map(label)], groupRows(summaries, BENCHMARK_GROUPS[bench]));
  const notes = summaries.flatMap((s) =>
    Object.entries(s.partial).map(([g, p]) => `  ${label(s)}: ${g} partial ${p.n}/${p.expected} (missing ${p.missing.slice(0, 6).join(', ')}${p.missing.length > 6 ? ', …' : ''})`));
  const lines = [table, '', 'Scale 0–100; headline metric hit@1 (image, video), ndcg_linear@5 (visdoc).'];
  if (notes.length) lines.push('Partial groups (averaged over the tasks present):', ...notes);
  return `${lines.join('\n')}\n`;
}

/** Options of {@link leaderboardText}. */
export interface LeaderboardTextOptions {
  /**
   * Line width to fit (default: unlimited, one wide table). Narrower tables are split into
   * stacked panels that repeat the model column, so every score is still printed.
   */
  width?: number | undefined;
}

/**
 * Published models × meta-task/modality columns, best first.
 *
 * @example process.stdout.write(leaderboardText('mmeb-v2', 'v2.0.1', { width: process.stdout.columns }));
 */
export function leaderboardText(benchmark: BenchmarkName, version: PublishedVersion, opts: LeaderboardTextOptions = {}): string {
  const width = opts.width ?? Infinity;
  const rows = leaderboard(benchmark, version);
  const cols = leaderboardColumns(benchmark);
  const table = fitTextTable(['model', ...cols], rows.map((s) => [s.model, ...cols.map((g) => cell(s, g))]), width);
  const notes = [
    `Source: ${publishedSource(version)}.`,
    'Every figure is a group\'s unweighted mean of the headline metric ×100 (hit@1 image/video, ndcg_linear@5 visdoc); ' +
      '"(n/N)" marks groups missing tasks in the published files.',
  ].map((t) => wrapText(t, width));
  return `${wrapText(`${benchmark} leaderboard, published scores ${version}`, width)}\n\n${table}\n\n${notes.join('\n')}\n`;
}
