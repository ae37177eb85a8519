// The `vlm2vec report` table output and the `vlm2vec leaderboard` table.

import { BENCHMARK_GROUPS, type Summary } from '../aggregate.ts';
import type { BenchmarkName } from '../registry.ts';
import { leaderboard, leaderboardColumns, publishedSource, type PublishedVersion } from '../published.ts';
import { cell, groupRows, textTable } from './format.ts';

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

/** Published models × meta-task/modality columns, best first. */
export function leaderboardText(benchmark: BenchmarkName, version: PublishedVersion): string {
  const rows = leaderboard(benchmark, version);
  const cols = leaderboardColumns(benchmark);
  const table = textTable(['model', ...cols], rows.map((s) => [s.model, ...cols.map((g) => cell(s, g))]));
  return `${benchmark} leaderboard, published scores ${version}\n\n${table}\n\nSource: ${publishedSource(version)}.\n` +
    'Groups are unweighted means of the headline metric ×100; "(n/N)" marks groups missing tasks in the published files.\n';
}
