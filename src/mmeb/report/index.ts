// Report API: build the data once, render as text / JSON / Markdown / HTML.

import { summaryDocument } from '../score/aggregate.ts';
import { reportHtml } from './html.ts';
import { reportMarkdown } from './markdown.ts';
import { buildReport, type ReportData, type ReportOptions } from './model.ts';
import { summaryText } from './text.ts';

export { buildReport, reportHtml, reportMarkdown, summaryText, type ReportData, type ReportOptions };
export { leaderboardText } from './text.ts';

export type ReportFormat = 'table' | 'json' | 'md' | 'html';

/**
 * Render result folders / published JSONs in one format.
 *
 * @example
 * process.stdout.write(await renderReport(['out/'], 'md'));
 */
export async function renderReport(paths: readonly string[], format: ReportFormat, opts: ReportOptions = {}): Promise<string> {
  const data: ReportData = buildReport(paths, opts);
  switch (format) {
    case 'table':
      return summaryText(data.runs, data.label);
    case 'json': {
      const docs = data.runs.map((r) => ({ ...summaryDocument(r), source: r.source }));
      return `${JSON.stringify(docs.length === 1 ? docs[0] : docs, null, 2)}\n`;
    }
    case 'md':
      return reportMarkdown(data);
    case 'html':
      return reportHtml(data);
    default: {
      const never: never = format;
      throw new Error(`unreachable format ${String(never)}`);
    }
  }
}
