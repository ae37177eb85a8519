// Static SVG charts for the HTML report: Vega-Lite specs compiled to Vega and rendered headless
// in Node (`renderer: 'none'` + toSVG), so report.html needs no script and no network.

import { compile, type TopLevelSpec } from 'vega-lite';
import * as vega from 'vega';
import { shortLabels } from './format.ts';

export { shortLabels };

/** One bar: a model's score (0–100) on a task or group. */
export interface Bar {
  /** x category (task or group name). */
  x: string;
  /** Series (model / run name). */
  series: string;
  score: number;
  /** The value averages fewer tasks than the group has (drawn lighter). */
  partial?: boolean;
}

export interface ChartOptions {
  title: string;
  /** x categories in display order (bars of missing categories are simply absent). */
  order: readonly string[];
  /**
   * Every series of the report in legend order (runs first, then baselines): the colour domain.
   * Each chart gets the same list, so a model keeps its colour in every chart even where some
   * models have no bar (a scale built from one chart's own series would shift the colours).
   */
  series: readonly string[];
  yTitle?: string;
}

/** Longest x-axis label in characters; longer names are cut in the middle so they stay distinct (see {@link shortLabels}). */
export const MAX_LABEL = 24;

/**
 * The Vega-Lite spec of a grouped bar chart (x = category, bars side by side per series).
 *
 * @example
 * const spec = barChartSpec([{ x: 'K700', series: 'ours', score: 38.2 }], { title: 'video/CLS', order: ['K700'], series: ['ours', 'theirs'] });
 */
export function barChartSpec(bars: readonly Bar[], opts: ChartOptions): TopLevelSpec {
  const labels = shortLabels(opts.order, MAX_LABEL);
  const labelOf = new Map(opts.order.map((x, i) => [x, labels[i]!]));
  const present = new Set(bars.map((b) => b.series));
  const slots = opts.series.filter((s) => present.has(s)).length;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: opts.title,
    data: {
      values: bars.map((b) => ({
        x: b.x, label: labelOf.get(b.x) ?? b.x, series: b.series, score: Math.round(b.score * 100) / 100, partial: b.partial === true,
      })),
    },
    mark: { type: 'bar' },
    // A fixed width (~14 px per bar, clamped) keeps every chart readable on one screen.
    width: Math.min(1200, Math.max(320, opts.order.length * Math.max(1, slots) * 14)),
    height: 220,
    encoding: {
      // Labels are already short and unique: Vega's own truncation (labelLimit) would make
      // long names sharing a prefix read the same.
      x: { field: 'label', type: 'nominal', sort: labels, title: null, axis: { labelAngle: -40, labelLimit: 0 } },
      xOffset: { field: 'series', type: 'nominal', sort: [...opts.series] },
      y: { field: 'score', type: 'quantitative', title: opts.yTitle ?? 'score (0–100)', scale: { domain: [0, 100] } },
      color: {
        field: 'series', type: 'nominal', title: 'model',
        scale: { domain: [...opts.series], scheme: opts.series.length > 10 ? 'category20' : 'tableau10' },
        legend: { orient: 'bottom', columns: 1, labelLimit: 0 },
      },
      opacity: { condition: { test: 'datum.partial', value: 0.45 }, value: 1 },
      tooltip: [
        { field: 'x', title: 'task / group' },
        { field: 'series', title: 'model' },
        { field: 'score', title: 'score', format: '.2f' },
        { field: 'partial', title: 'partial mean' },
      ],
    },
    config: { font: 'sans-serif', view: { stroke: null } },
  };
}

/** Renders a Vega-Lite spec to an SVG string in Node. */
export async function specSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * A grouped bar chart as an SVG string.
 *
 * @example
 * const svg = await barChartSvg([{ x: 'K700', series: 'ours', score: 38.2 }], { title: 'video/CLS', order: ['K700'], series: ['ours'] });
 */
export async function barChartSvg(bars: readonly Bar[], opts: ChartOptions): Promise<string> {
  return specSvg(barChartSpec(bars, opts));
}
