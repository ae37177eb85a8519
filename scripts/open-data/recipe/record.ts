// Record a recipe run for the docs and the tests: its loss log (without the per-row source lists),
// a loss-curve SVG, and the mini scores of the model beside chance, the goals and the
// bag-of-pixels baseline (docs/open-data/shipped-model.json, which test/open-data/shipped-model.test.ts
// checks the shipped model against).
//
// Usage: node --import tsx scripts/open-data/recipe/record.ts --run RUN_DIR --model-eval EVAL_OUT
//          --baseline-eval BASELINE_OUT --out docs/open-data [--wall "47 min"]
//   EVAL_OUT / BASELINE_OUT: what `vlm2vec eval --benchmark mini --data assets/mini` and
//   scripts/open-data/baseline.ts wrote.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Vlm2VecError } from '../../../src/errors.ts';
import { miniTasks } from '../../../src/mmeb/tasks/registry-mini.ts';

/** Chance of each mini task (docs/open-data.md, "The mini benchmark") and the goal stated before training. */
export const MINI_CHANCE_AND_GOALS: Record<string, { chance: number; goal?: number }> = {
  'Mini-FashionMNIST': { chance: 0.1, goal: 0.8 },
  'Mini-Emoji_t2i': { chance: 1 / 188, goal: 10 / 188 },
  'Mini-Emoji_i2t': { chance: 1 / 188, goal: 10 / 188 },
  'Mini-OpenClipart_t2i': { chance: 1 / 136, goal: 10 / 136 },
  // nDCG@5 (linear gain) of a random ranking with one relevant page among 67.
  'Mini-DocPages': { chance: (1 + 1 / Math.log2(3) + 1 / 2 + 1 / Math.log2(5) + 1 / Math.log2(6)) / 67, goal: 3 * (1 + 1 / Math.log2(3) + 1 / 2 + 1 / Math.log2(5) + 1 / Math.log2(6)) / 67 },
  'Mini-Video_t2v': { chance: 0.2 },
};

function scoresOf(dir: string, modality: string, task: string): Record<string, number> {
  return JSON.parse(readFileSync(join(dir, modality, `${task}_score.json`), 'utf8')) as Record<string, number>;
}

/** A small SVG line chart of the loss per step (log scale would hide the tail; linear, clipped at the 98th percentile). */
export function lossSvg(points: { step: number; loss: number }[], title: string): string {
  const W = 640, H = 320, L = 48, R = 12, T = 28, B = 36;
  const maxStep = Math.max(...points.map((p) => p.step));
  const sorted = points.map((p) => p.loss).sort((a, b) => a - b);
  const top = Math.ceil(sorted[Math.floor(0.98 * (sorted.length - 1))]!);
  const x = (s: number): number => L + ((s - 1) / Math.max(1, maxStep - 1)) * (W - L - R);
  const y = (v: number): number => T + (1 - Math.min(v, top) / top) * (H - T - B);
  const path = points.map((p, i) => `${i ? 'L' : 'M'}${x(p.step).toFixed(1)},${y(p.loss).toFixed(1)}`).join('');
  // A 10-step moving average, the curve to read.
  const avg = points.map((p, i) => {
    const w = points.slice(Math.max(0, i - 9), i + 1);
    return { step: p.step, loss: w.reduce((s, q) => s + q.loss, 0) / w.length };
  });
  const avgPath = avg.map((p, i) => `${i ? 'L' : 'M'}${x(p.step).toFixed(1)},${y(p.loss).toFixed(1)}`).join('');
  const ticks = Array.from({ length: 5 }, (_, i) => (top * i) / 4);
  const steps = Array.from({ length: 5 }, (_, i) => Math.round(1 + ((maxStep - 1) * i) / 4));
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${L}" y="16" font-size="13">${title}</text>`,
    ...ticks.map((v) => `<line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/><text x="${L - 6}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(1)}</text>`),
    ...steps.map((s) => `<text x="${x(s)}" y="${H - B + 16}" text-anchor="middle">${s}</text>`),
    `<text x="${(L + W - R) / 2}" y="${H - 6}" text-anchor="middle">step</text>`,
    `<path d="${path}" fill="none" stroke="#9ab" stroke-width="1"/>`,
    `<path d="${avgPath}" fill="none" stroke="#c33" stroke-width="2"/>`,
    `<text x="${W - R}" y="16" text-anchor="end"><tspan fill="#9ab">loss per step</tspan> · <tspan fill="#c33">10-step mean</tspan></text>`,
    '</svg>',
  ].join('\n');
}

if (process.argv[1] === import.meta.filename) {
  const { values } = parseArgs({
    options: { run: { type: 'string' }, 'model-eval': { type: 'string' }, 'baseline-eval': { type: 'string' }, out: { type: 'string' }, wall: { type: 'string' } },
  });
  if (!values.run || !values['model-eval'] || !values['baseline-eval'] || !values.out) {
    throw new Vlm2VecError('record', 'usage: record.ts --run RUN_DIR --model-eval EVAL_OUT --baseline-eval BASELINE_OUT --out DIR [--wall TEXT]');
  }
  mkdirSync(values.out, { recursive: true });
  const log = readFileSync(join(values.run, 'train_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const steps = log.filter((r) => typeof r['step'] === 'number' && typeof r['loss'] === 'number');
  writeFileSync(join(values.out, 'shipped-model-train-log.jsonl'), `${log.map((r) => {
    const { sources, ...rest } = r;
    return JSON.stringify(Array.isArray(sources) ? { ...rest, batch_sources: Object.fromEntries([...new Set(sources as string[])].sort().map((s) => [s, (sources as string[]).filter((x) => x === s).length])) } : rest);
  }).join('\n')}\n`);
  const points = steps.map((r) => ({ step: r['step'] as number, loss: r['loss'] as number }));
  writeFileSync(join(values.out, 'shipped-model-loss.svg'), `${lossSvg(points, 'the shipped model\'s training loss (InfoNCE, batch 32, temperature 0.05)')}\n`);
  const scores: Record<string, unknown> = {};
  for (const t of miniTasks()) {
    const metric = t.metric;
    const cg = MINI_CHANCE_AND_GOALS[t.name]!;
    scores[t.name] = {
      metric, model: scoresOf(values['model-eval'], t.modality, t.name)[metric], chance: cg.chance,
      baseline: scoresOf(values['baseline-eval'], t.modality, t.name)[metric], ...(cg.goal !== undefined ? { goal: cg.goal } : {}),
    };
  }
  const last = points.at(-1)!;
  writeFileSync(join(values.out, 'shipped-model.json'), `${JSON.stringify({
    model: 'assets/model', data: 'assets/mini', recipe: 'scripts/open-data/recipe', steps: last.step, wall: values.wall ?? null,
    final_loss_10_step_mean: points.slice(-10).reduce((s, p) => s + p.loss, 0) / Math.min(10, points.length), scores,
  }, null, 1)}\n`);
  process.stderr.write(`recorded ${points.length} steps and ${Object.keys(scores).length} task scores in ${values.out}\n`);
}
