// OUT/train_report.html: the run's loss, learning-rate and gradient-norm curves (and the MMEB
// scores of --eval_tasks) over the steps of trainer_state.json's log_history, as static SVG (Vega-Lite rendered in Node, like the MMEB
// report: one self-contained page, no script, no network).

import type { TopLevelSpec } from 'vega-lite';
import { specSvg } from '../mmeb/report/charts.ts';
import { escapeHtml } from '../mmeb/report/html.ts';
import type { LogEntry } from './checkpoint-trainer-state.ts';

/** The curves the page draws: log_history field → chart title. */
export const TRAIN_CURVES = { loss: 'loss (InfoNCE)', learning_rate: 'learning rate', grad_norm: 'gradient norm (before clipping)' } as const;

/**
 * A line chart of one log_history field over the steps (entries without it are left out).
 *
 * @example trainCurveSpec(state.log_history, 'loss').data // { values: [{ step: 1, value: 2.3 }, …] }
 */
export function trainCurveSpec(log: readonly LogEntry[], field: string): TopLevelSpec & { data: { values: { step: number; value: number }[] } } {
  const values = log.filter((e) => typeof e[field] === 'number' && Number.isFinite(e[field])).map((e) => ({ step: e.step, value: e[field]! }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: (TRAIN_CURVES as Record<string, string>)[field] ?? `${field.slice('eval_'.length)} (MMEB score ×100, evaluated during training)`,
    data: { values },
    mark: { type: 'line', point: values.length <= 50 },
    width: 560,
    height: 200,
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'step' },
      y: { field: 'value', type: 'quantitative', title: field, scale: { zero: field !== 'loss' } },
      tooltip: [{ field: 'step' }, { field: 'value', format: '.4g' }],
    },
    config: { font: 'sans-serif', view: { stroke: null } },
  };
}

/** What the page says about the run. */
export interface TrainReportInfo {
  model: string;
  outputDir: string;
  globalStep: number;
  maxSteps: number;
}

const CSS = 'body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:1400px}figure{margin:0 0 1rem}figure svg{max-width:100%;height:auto}code{background:#f3f3f3;padding:0 3px}';

/**
 * The self-contained HTML page of a training run.
 *
 * @example await writeFileAtomic('runs/a/train_report.html', await trainReportHtml(state.log_history, { model, outputDir: 'runs/a', globalStep: 50, maxSteps: 5000 }));
 */
export async function trainReportHtml(log: readonly LogEntry[], info: TrainReportInfo): Promise<string> {
  const parts = [
    `<h1>Training run: ${escapeHtml(info.model)}</h1>`,
    `<p>Output <code>${escapeHtml(info.outputDir)}</code>, step ${info.globalStep} of ${info.maxSteps}; ${log.length} log entries (trainer_state.json log_history).</p>`,
  ];
  // Then one chart per MMEB group scored during training (`eval_<group>` entries).
  const evals = [...new Set(log.flatMap((e) => Object.keys(e).filter((k) => k.startsWith('eval_'))))];
  for (const field of [...Object.keys(TRAIN_CURVES), ...evals]) {
    const spec = trainCurveSpec(log, field);
    parts.push(`<figure class="chart" data-field="${field}" data-points="${spec.data.values.length}">${await specSvg(spec)}</figure>`);
  }
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>Training run</title><style>${CSS}</style></head>\n<body>\n${parts.join('\n')}\n</body></html>\n`;
}
