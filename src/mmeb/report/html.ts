// report.html: one self-contained page (inline CSS, inline SVG charts, no script, no network):
// a summary chart, the summary table, and per meta-task a chart plus its task table.

import type { TopLevelSpec } from 'vega-lite';
import { barChartSpec, specSvg, type Bar } from './charts.ts';
import { cell } from './format.ts';
import { baselineNote, headlineGroups, metaGroups, partialRun, SCALE_NOTE, summaryGroups, taskCell, tasksOf, type ReportData } from './model.ts';
import type { GroupName, Summary } from '../score/aggregate.ts';

const CSS = `body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:1400px}
table{border-collapse:collapse;margin:.5rem 0 1.5rem;font-size:13px}th,td{border:1px solid #ccc;padding:3px 8px}
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f3f3f3}tr.mean td{font-weight:600}
figure{margin:0 0 1rem}figure svg{max-width:100%;height:auto}code{background:#f3f3f3;padding:0 3px}`;

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

function table(header: readonly string[], rows: readonly { cells: readonly string[]; cls?: string }[]): string {
  const th = header.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const trs = rows.map((r) => `<tr${r.cls ? ` class="${r.cls}"` : ''}>${r.cells
    .map((c, i) => `<td${i > 0 ? ' class="n"' : ''}>${escapeHtml(c)}</td>`).join('')}</tr>`);
  return `<table><thead><tr>${th}</tr></thead><tbody>${trs.join('')}</tbody></table>`;
}

function groupBars(cols: readonly Summary[], groups: readonly GroupName[], label: (s: Summary) => string): Bar[] {
  return cols.flatMap((s) => groups.flatMap((g) => {
    const v = s.scores[g];
    return v === undefined ? [] : [{ x: g, series: label(s), score: v, partial: s.partial[g] !== undefined }];
  }));
}

/** One chart of the report: the summary or a meta-task group. */
export interface ReportChart {
  group: string;
  bars: Bar[];
  spec: TopLevelSpec;
}

/**
 * The report's charts as Vega-Lite specs (every chart shares one colour domain: all columns of
 * the report, runs first).
 *
 * @example
 * reportCharts(buildReport(['out/'])).map((c) => c.group); // ['summary', 'image/CLS', …]
 */
export function reportCharts(data: ReportData): ReportChart[] {
  const cols = [...data.runs, ...data.baselines];
  const series = cols.map(data.label);
  const heads = headlineGroups(data.benchmark);
  const summary = groupBars(cols, heads, data.label);
  const charts: ReportChart[] = [{
    group: 'summary', bars: summary,
    spec: barChartSpec(summary, { title: 'Overall (lighter bar: mean over the tasks present only)', order: heads, series }),
  }];
  for (const g of metaGroups(data.benchmark)) {
    const tasks = tasksOf(g);
    const bars: Bar[] = cols.flatMap((s) => tasks.flatMap((t) => {
      const v = s.tasks[t.name];
      return v === undefined ? [] : [{ x: t.name, series: data.label(s), score: v }];
    }));
    charts.push({ group: g, bars, spec: barChartSpec(bars, { title: `${g} (${tasks[0]?.metric ?? ''} ×100)`, order: tasks.map((t) => t.name), series }) });
  }
  return charts;
}

const figure = async (c: ReportChart): Promise<string> =>
  `<figure class="chart" data-group="${escapeHtml(c.group)}" data-bars="${c.bars.length}">${await specSvg(c.spec)}</figure>`;

/**
 * Render the self-contained HTML report (charts are rendered to SVG here, in Node).
 *
 * @example
 * await writeFileAtomic('report.html', await reportHtml(buildReport(['out/'])));
 */
export async function reportHtml(data: ReportData): Promise<string> {
  const cols = [...data.runs, ...data.baselines];
  const series = cols.map(data.label);
  const charts = reportCharts(data);
  const parts: string[] = [];
  parts.push(`<h1>MMEB report (${escapeHtml(data.benchmark)})</h1>`);
  parts.push(`<ul>${data.runs.map((r) => {
    const p = partialRun(r);
    const note = p ? ` — <b>partial</b>: ${p.n} of the ${p.expected} ${escapeHtml(data.benchmark)} tasks` : '';
    return `<li><b>${escapeHtml(r.model)}</b> — <code>${escapeHtml(r.source)}</code>${note}</li>`;
  }).join('')}</ul>`);
  parts.push(`<p>${escapeHtml(SCALE_NOTE)} Groups are unweighted means over their tasks; “(n/N)” marks a group missing tasks, averaged over those present (drawn lighter in the summary chart); “(partial: n/N tasks)” marks a run missing tasks.</p>`);
  parts.push('<h2>Summary</h2>');
  parts.push(await figure(charts[0]!));
  parts.push(table(['group', ...series], summaryGroups(data.benchmark).map((g) => ({ cells: [g, ...cols.map((s) => cell(s, g))] }))));
  for (const c of charts.slice(1)) {
    const g = c.group as GroupName;
    const tasks = tasksOf(g);
    parts.push(`<h2>${escapeHtml(g)}</h2>`);
    parts.push(await figure(c));
    const rows: { cells: string[]; cls?: string }[] = tasks.map((t) => ({ cells: [t.name, ...cols.map((s) => taskCell(s, t.name))] }));
    rows.push({ cells: [`${g} mean`, ...cols.map((s) => cell(s, g))], cls: 'mean' });
    parts.push(table(['task', ...series], rows));
  }
  parts.push(`<p>${escapeHtml(baselineNote(data))}</p>`);
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>MMEB report</title><style>${CSS}</style></head>\n<body>\n${parts.join('\n')}\n</body></html>\n`;
}
