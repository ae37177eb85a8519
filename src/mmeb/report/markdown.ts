// report.md: the summary groups and every task of our runs beside the published baselines.

import { cell, markdownTable } from './format.ts';
import { baselineNote, metaGroups, SCALE_NOTE, summaryGroups, taskCell, tasksOf, type ReportData } from './model.ts';

/**
 * Render the Markdown report.
 *
 * @example
 * writeFileAtomicSync('report.md', reportMarkdown(buildReport(['out/'])));
 */
export function reportMarkdown(data: ReportData): string {
  const cols = [...data.runs, ...data.baselines];
  const header = cols.map(data.label);
  const out: string[] = [];
  out.push(`# MMEB report (${data.benchmark})`, '');
  out.push('Runs:', ...data.runs.map((r) => `- **${r.model}** — \`${r.source}\``), '');
  out.push(`${SCALE_NOTE} Groups are unweighted means over their tasks ("(n/N)" = group missing tasks, averaged over ` +
    'those present; "(partial: n/N tasks)" = a run missing tasks).', '');
  out.push('## Summary', '');
  out.push(markdownTable(['group', ...header], summaryGroups(data.benchmark).map((g) => [g, ...cols.map((s) => cell(s, g))])), '');
  for (const g of metaGroups(data.benchmark)) {
    const tasks = tasksOf(g);
    out.push(`## ${g}`, '');
    const rows = tasks.map((t) => [t.name, t.metric, ...cols.map((s) => taskCell(s, t.name))]);
    rows.push([`**${g}**`, 'mean', ...cols.map((s) => cell(s, g))]);
    out.push(markdownTable(['task', 'metric', ...header], rows), '');
  }
  const extras = data.runs.filter((r) => r.extra_tasks.length);
  if (extras.length) {
    out.push('## Not averaged', '', ...extras.map((r) => `- ${r.model}: ${r.extra_tasks.join(', ')} (not part of ${data.benchmark})`), '');
  }
  out.push(baselineNote(data), '');
  return out.join('\n');
}
