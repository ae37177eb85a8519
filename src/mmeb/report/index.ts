// Report API: build the data once, render as text / JSON / Markdown / HTML.

import { summaryDocument } from '../score/aggregate.ts';
import { reportHtml } from './html.ts';
import { reportMarkdown } from './markdown.ts';
import { buildReport, type ReportData, type ReportOptions } from './model.ts';
import { summaryText } from './text.ts';
import { isTrainingDir, readTrainingRun, trainingSectionHtml, trainingSectionMarkdown, trainingSectionText, trainPageHtml } from '../../train/report.ts';

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
  // Training output folders (`vlm2vec train`'s OUT) become a training section: src/train/report.ts.
  const training = paths.filter(isTrainingDir);
  if (training.length > 0) return renderWithTraining(paths.filter((p) => !training.includes(p)), training, format, opts);
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

/**
 * Results and training runs together: the MMEB report of the results (if any), then one section per
 * run (curves in HTML; facts and the scores of the evaluations during training elsewhere). JSON is
 * `{ results, training }` (`results` as without runs; each run's log_history in `training`).
 */
async function renderWithTraining(results: readonly string[], dirs: readonly string[], format: ReportFormat, opts: ReportOptions): Promise<string> {
  const runs = await Promise.all(dirs.map((d) => readTrainingRun(d)));
  const base = results.length > 0 ? await renderReport(results, format, opts) : undefined;
  switch (format) {
    case 'table':
      return `${base ?? ''}${base ? '\n' : ''}${runs.map(trainingSectionText).join('\n')}`;
    case 'json': {
      const training = runs.map((r) => ({ dir: r.dir, from: r.from, global_step: r.globalStep, max_steps: r.maxSteps ?? null, base_model: r.base ?? null, log_history: r.log }));
      return `${JSON.stringify({ results: base === undefined ? null : JSON.parse(base), training }, null, 2)}\n`;
    }
    case 'md':
      return `${base ?? '# Training report\n\n'}${base ? '\n' : ''}${runs.map(trainingSectionMarkdown).join('\n')}`;
    case 'html': {
      const sections = await Promise.all(runs.map(trainingSectionHtml));
      // A page of its own (the loop's train_report.html style) when there are no results.
      if (base === undefined) return trainPageHtml('Training report', ['<h1>Training report</h1>', ...sections]);
      return base.replace('</body>', `${sections.join('\n')}\n</body>`);
    }
    default: {
      const never: never = format;
      throw new Error(`unreachable format ${String(never)}`);
    }
  }
}
