// Static SVG charts for the HTML report: Vega-Lite specs compiled to Vega and rendered headless
// in Node (`renderer: 'none'` + toSVG), so report.html needs no script and no network.

import { compile, type TopLevelSpec } from 'vega-lite';
import * as vega from 'vega';

/** One bar: a model's score (0–100) on a task or group. */
export interface Bar {
  /** x category (task or group name). */
  x: string;
  /** Series (model / run name). */
  series: string;
  score: number;
}

export interface ChartOptions {
  title: string;
  /** x categories in display order (bars of missing categories are simply absent). */
  order: readonly string[];
  /** Series in legend order (runs first, then baselines). */
  series: readonly string[];
  yTitle?: string;
}

/**
 * A grouped bar chart (x = category, bars side by side per series) as an SVG string.
 *
 * @example
 * const svg = await barChartSvg([{ x: 'K700', series: 'ours', score: 38.2 }], { title: 'video/CLS', order: ['K700'], series: ['ours'] });
 */
export async function barChartSvg(bars: readonly Bar[], opts: ChartOptions): Promise<string> {
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: opts.title,
    data: { values: bars.map((b) => ({ ...b, score: Math.round(b.score * 100) / 100 })) },
    mark: { type: 'bar', tooltip: true },
    // A fixed width (~14 px per bar, clamped) keeps every chart readable on one screen.
    width: Math.min(1200, Math.max(320, opts.order.length * Math.max(1, opts.series.length) * 14)),
    height: 220,
    encoding: {
      x: { field: 'x', type: 'nominal', sort: [...opts.order], title: null, axis: { labelAngle: -40, labelLimit: 180 } },
      xOffset: { field: 'series', type: 'nominal', sort: [...opts.series] },
      y: { field: 'score', type: 'quantitative', title: opts.yTitle ?? 'score', scale: { domain: [0, 100] } },
      color: { field: 'series', type: 'nominal', sort: [...opts.series], title: 'model', legend: { orient: 'bottom', columns: 2, labelLimit: 0 } },
    },
    config: { font: 'sans-serif', view: { stroke: null } },
  };
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
