// Plain-text and Markdown tables for summaries and leaderboards. Scores print with 2 decimals
// (the stored values stay unrounded); a partial group shows how many of its tasks it averages.

import type { GroupName, Summary } from '../aggregate.ts';

/** `58.02`, `62.50 (2/4)` for a partial group, `–` when the group has no task. */
export function cell(s: Summary, g: GroupName): string {
  const v = s.scores[g];
  if (v === undefined) return '–';
  const p = s.partial[g];
  return p ? `${v.toFixed(2)} (${p.n}/${p.expected})` : v.toFixed(2);
}

/** Left-aligned first column, right-aligned numbers, columns padded to their widest cell. */
export function textTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** GitHub-flavoured Markdown table (numbers right-aligned). */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [
    `| ${header.map(esc).join(' | ')} |`,
    `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

/** Rows = groups, columns = runs. */
export function groupRows(summaries: readonly Summary[], groups: readonly GroupName[]): string[][] {
  return groups.map((g) => [g, ...summaries.map((s) => cell(s, g))]);
}
