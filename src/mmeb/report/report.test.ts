import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { chromium } from 'playwright-core';
import { buildReport, renderReport } from './index.ts';
import { shortLabels } from './charts.ts';
import { reportCharts } from './html.ts';
import { TASKS } from '../tasks/registry.ts';
import { registerReport } from '../../cli/report.ts';
import { registerLeaderboard } from '../../cli/leaderboard.ts';

const ROOT = new URL('../../../', import.meta.url).pathname;
const PUB = join(ROOT, 'test', 'fixtures', 'published-scores');
const V200 = join(PUB, 'v2.0.0', 'VLM2Vec-V2.0-Qwen2VL-2B.json');
const V201 = join(PUB, 'v2.0.1', 'VLM2Vec-V2.0-Qwen2VL-2B.json');
const CHROMIUM = '/usr/bin/chromium';

/** A result folder holding 3 of the 78 tasks (image only): a run stopped early. */
function partialRun(): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'vlm2vec-partial-')), 'my-run');
  for (const [task, v] of [['ImageNet-1K', 0.5], ['N24News', 0.25], ['OK-VQA', 0.4]] as const) {
    mkdirSync(join(dir, 'image'), { recursive: true });
    writeFileSync(join(dir, 'image', `${task}_score.json`), JSON.stringify({ 'hit@1': v }));
  }
  return dir;
}
const PARTIAL = 'my-run (partial: 3/78 tasks)';

async function runCli(args: string[]): Promise<string> {
  // Never patch process.stdout here: the test runner reports through it.
  const chunks: string[] = [];
  const io = { out: (t: string) => { chunks.push(t); }, err: () => {} };
  const program = new Command('vlm2vec').exitOverride();
  registerReport(program, io);
  registerLeaderboard(program, io);
  await program.parseAsync(['node', 'vlm2vec', ...args]);
  return chunks.join('');
}

test('vlm2vec report <v2.0.0 file> --format json: the headline figures', async () => {
  const doc = JSON.parse(await runCli(['report', V200, '--format', 'json'])) as { scores: Record<string, number> };
  const want: Record<string, number> = { image: 64.85, video: 34.58, visdoc: 65.36, all: 58.02, 'v1/IND': 68.81, 'v1/OOD': 59.91, 'v1/overall': 64.85 };
  for (const [g, v] of Object.entries(want)) assert.ok(Math.abs((doc.scores[g] ?? NaN) - v) <= 0.005, `${g}: ${doc.scores[g]} vs ${v}`);
  const d1 = JSON.parse(await runCli(['report', V201, '-f', 'json'])) as { scores: Record<string, number> };
  for (const [g, v] of Object.entries({ 'v1/IND': 68.82, 'v1/OOD': 60.05, 'v1/overall': 64.92 })) {
    assert.ok(Math.abs((d1.scores[g] ?? NaN) - v) <= 0.005, `${g}: ${d1.scores[g]} vs ${v}`);
  }
});

test('vlm2vec report table and leaderboard print the figures', async () => {
  const table = await runCli(['report', V200]);
  assert.match(table, /^all\s+58\.02$/m);
  assert.match(table, /^v1\/OOD\s+59\.91$/m);
  const board = await runCli(['leaderboard', '--version', 'v2.0.0']);
  assert.match(board, /^VLM2Vec-V2\.0-Qwen2VL-2B\s+58\.02\s+64\.85\s+34\.58\s+65\.36\s/m);
  assert.match(board, /Source: TIGER-AI-Lab\/VLM2Vec/);
  const v1 = await runCli(['leaderboard', '--benchmark', 'mmeb-v1', '--version', 'v2.0.1']);
  assert.match(v1, /^VLM2Vec-V2\.0-Qwen2VL-2B\s+62\.93\s+56\.42\s+69\.60\s+77\.13\s+68\.82\s+60\.05\s+64\.92$/m);
  const partial = await runCli(['leaderboard', '--version', 'v2.1']);
  assert.match(partial, /^VLM2Vec-V2\.0-Qwen2VL-2B\s+59\.01 \(76\/78\)/m);
  await assert.rejects(runCli(['report', V200, '--format', 'pdf']), /--format 'pdf': expected one of table, json, md, html/);
  await assert.rejects(runCli(['leaderboard', '--version', 'v9']), /--version 'v9'/);
});

test('leaderboard --json and a multi-run report table', async () => {
  const doc = JSON.parse(await runCli(['leaderboard', '--json', '--version', 'v2.0.0'])) as {
    version: string; models: { model: string; scores: Record<string, number>; tasks?: unknown }[];
  };
  assert.equal(doc.version, 'v2.0.0');
  assert.equal(doc.models.length, 8);
  assert.equal(doc.models[0]?.model, 'VLM2Vec-V2.0-Qwen2VL-2B');
  assert.ok(Math.abs((doc.models[0]?.scores['visdoc/VR'] ?? 0) - 79.38) <= 0.005);
  assert.equal(doc.models[0]?.tasks, undefined);
  const two = await runCli(['report', V200, V201]);
  assert.match(two, /^video\s+34\.58\s+34\.67$/m);
  assert.match(two, /^video\/MRET\s+36\.82\s+37\.55$/m);
  // Two runs of one model get distinct column names (as in report.md / report.html).
  assert.match(two, /^group\s+VLM2Vec-V2\.0-Qwen2VL-2B\s+VLM2Vec-V2\.0-Qwen2VL-2B #2$/m);
});

test('--out-dir writes report.md, report.html and summary.json', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vec-outdir-'));
  const table = await runCli(['report', V200, '--out-dir', dir, '--baselines', 'none']);
  assert.match(table, /^all\s+58\.02$/m);
  const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as { scores: Record<string, number> };
  assert.ok(Math.abs((summary.scores.all ?? 0) - 58.02) <= 0.005);
  assert.match(readFileSync(join(dir, 'report.md'), 'utf8'), /^\| all \| 58\.02 \|$/m);
  assert.match(readFileSync(join(dir, 'report.html'), 'utf8'), /^<!doctype html>/);
});

test('report.md lists every task beside the baselines', async () => {
  const md = await renderReport([V200], 'md', { baselines: ['gme-Qwen2-VL-2B-Instruct'] });
  assert.match(md, /^\| MomentSeeker \| hit@1 \| 40\.83 \| 37\.14 \|$/m); // v2.0.0 run (1800 q) vs v2.0.1 baseline
  assert.match(md, /^\| all \| 58\.02 \| 54\.19 \|$/m);
  assert.match(md, /Source: TIGER-AI-Lab\/VLM2Vec experiments\/public\/all_scores/);
  await assert.rejects(renderReport([V200], 'md', { baselines: ['nope'] }), /unknown baseline model\(s\) nope/);
});

// Expected bars per chart: tasks per meta-task (docs/mmeb.md §1) × (1 run + 8 published baselines).
const EXPECTED: Record<string, number> = {
  summary: 4, 'image/CLS': 10, 'image/QA': 10, 'image/RET': 12, 'image/VG': 4, 'video/CLS': 5, 'video/QA': 5,
  'video/RET': 5, 'video/MRET': 3, 'visdoc/VDRv1': 10, 'visdoc/VDRv2': 4, 'visdoc/VR': 6, 'visdoc/OOD': 4,
};

test('report.html renders its charts in headless Chromium', { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} not installed (apt-get install chromium)` }, async () => {
  const html = await renderReport([V200], 'html');
  assert.doesNotMatch(html, /<script/);
  const file = join(mkdtempSync(join(tmpdir(), 'vlm2vec-report-')), 'report.html');
  writeFileSync(file, html);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const requests: string[] = [];
    page.on('request', (r) => { if (!r.url().startsWith('file:')) requests.push(r.url()); });
    await page.goto(`file://${file}`);
    const charts = await page.$$eval('figure.chart', (figs) => figs.map((f) => {
      const svg = f.querySelector('svg');
      const box = svg?.getBoundingClientRect();
      const bars = [...f.querySelectorAll('g.mark-rect path')].map((p) => (p as unknown as { getBBox(): { width: number; height: number } }).getBBox());
      return {
        group: f.getAttribute('data-group') ?? '',
        w: box?.width ?? 0,
        h: box?.height ?? 0,
        bars: bars.length,
        emptyBars: bars.filter((b) => !(b.width > 0)).length,
        tallest: Math.max(0, ...bars.map((b) => b.height)),
        title: svg?.textContent?.slice(0, 40) ?? '',
      };
    }));
    assert.deepEqual(charts.map((c) => c.group), Object.keys(EXPECTED));
    for (const c of charts) {
      assert.ok(c.w > 100 && c.h > 100, `${c.group}: svg ${c.w}×${c.h}`);
      assert.equal(c.bars, (EXPECTED[c.group] ?? 0) * 9, `${c.group} bars`);
      assert.equal(c.emptyBars, 0, `${c.group}: zero-width bars`);
      assert.ok(c.tallest > 20, `${c.group}: bars have height`);
    }
    assert.deepEqual(requests, [], 'the report must be self-contained');

    // With a partial run (no video/visdoc bars), each model's bars and legend swatch have one
    // colour across all 13 charts, and different models have different colours.
    const file2 = join(mkdtempSync(join(tmpdir(), 'vlm2vec-report-')), 'report.html');
    writeFileSync(file2, await renderReport([V200, partialRun()], 'html'));
    await page.goto(`file://${file2}`);
    const seen = await page.$$eval('figure.chart', (figs) => figs.flatMap((f) => {
      const group = f.getAttribute('data-group') ?? '';
      const bars = [...f.querySelectorAll('g.mark-rect path')].map((p) => ({
        group, series: /series: ([^;]*);/.exec(p.getAttribute('aria-label') ?? '')?.[1] ?? '?', fill: p.getAttribute('fill') ?? '',
      }));
      const labels = [...f.querySelectorAll('.role-legend-label text')].map((t) => t.textContent ?? '');
      const swatches = [...f.querySelectorAll('.role-legend-symbol path')].map((p) => p.getAttribute('fill') ?? '');
      return [...bars, ...labels.map((series, i) => ({ group: `${group} legend`, series, fill: swatches[i] ?? '' }))];
    }));
    const fills = new Map<string, Set<string>>();
    for (const b of seen) fills.set(b.series, (fills.get(b.series) ?? new Set()).add(b.fill));
    assert.equal(fills.size, 10, [...fills.keys()].join(', '));
    for (const [series, f] of fills) assert.equal(f.size, 1, `${series}: colours ${[...f].join(', ')}`);
    assert.equal(new Set([...fills.values()].map((f) => [...f][0])).size, 10, 'one colour per model');
    assert.ok(seen.some((b) => b.series === PARTIAL && b.group === 'video/CLS legend'), 'the partial run is in every legend');
  } finally {
    await browser.close();
  }
});

test('report.html: every chart has the same colour domain (all models, in column order), so a model keeps its colour', () => {
  const data = buildReport([V200, partialRun()], { baselines: ['gme-Qwen2-VL-2B-Instruct', 'colpali-v1.3'] });
  const want = ['VLM2Vec-V2.0-Qwen2VL-2B', PARTIAL, 'gme-Qwen2-VL-2B-Instruct (pub v2.0.1)', 'colpali-v1.3 (pub v2.0.1)'];
  const charts = reportCharts(data);
  assert.equal(charts.length, 13);
  for (const c of charts) {
    const color = (c.spec as { encoding: { color: { scale: { domain: string[] } } } }).encoding.color;
    assert.deepEqual(color.scale.domain, want, `${c.group} colour domain`);
  }
  // The partial run has no video bars: without a fixed domain gme would take its colour there.
  assert.ok(!charts.find((c) => c.group === 'video/CLS')!.bars.some((b) => b.series === PARTIAL));
});

test('report: a run missing tasks is marked in the legend, the tables, the run list and the summary bars', async () => {
  const run = partialRun();
  const html = await renderReport([V200, run], 'html', { baselines: [] });
  assert.match(html, /<th>my-run \(partial: 3\/78 tasks\)<\/th>/); // table headers
  assert.match(html, />my-run \(partial: 3\/78 tasks\)<\/text>/); // SVG legend label
  assert.match(html, /<b>partial<\/b>: 3 of the 78 mmeb-v2 tasks/);
  const md = await renderReport([V200, run], 'md', { baselines: [] });
  assert.match(md, /^\| group \| VLM2Vec-V2\.0-Qwen2VL-2B \| my-run \(partial: 3\/78 tasks\) \|$/m);
  assert.match(md, /^\| all \| 58\.02 \| 38\.33 \(3\/78\) \|$/m); // (50 + 25 + 40) / 3
  // Partial group means are flagged on the summary bars (drawn lighter), complete ones are not.
  const summary = reportCharts(buildReport([V200, run], { baselines: [] }))[0]!;
  assert.deepEqual(summary.bars.filter((b) => b.partial).map((b) => `${b.series}:${b.x}`), [`${PARTIAL}:all`, `${PARTIAL}:image`]);
  assert.deepEqual((summary.spec as { encoding: { opacity: unknown } }).encoding.opacity, { condition: { test: 'datum.partial', value: 0.45 }, value: 1 });
  // A complete run has no marker.
  assert.doesNotMatch(await renderReport([V200], 'md', { baselines: [] }), /\(partial: \d/);
});

test('x-axis labels: long names are cut in the middle and stay distinct', () => {
  assert.deepEqual(shortLabels(['abcdefghijXYZ', 'short'], 7), ['abc…XYZ', 'short']);
  // Equal middle cuts: another split tells them apart, else a longer cut (here 8: no 7-character
  // split keeps both the '1'/'2' and a character of each end).
  assert.deepEqual(shortLabels(['aaaa_1_zzzz', 'aaaa_2_zzzz'], 7), ['aaaa_1…z', 'aaaa_2…z']);
  assert.deepEqual(shortLabels(['gme-Qwen2-VL-7B-Instruct', 'gme-Qwen2-VL-2B-Instruct', 'colpali-v1.3'], 16), ['gme-…7B-Instruct', 'gme-…2B-Instruct', 'colpali-v1.3']);
  const visdoc = TASKS.filter((t) => t.modality === 'visdoc').map((t) => t.name);
  const labels = shortLabels(visdoc, 24);
  assert.equal(new Set(labels).size, visdoc.length);
  for (const l of labels) assert.ok(l.length <= 24, l);
  // What Vega's labelLimit did: a prefix cut makes these three read the same.
  const three = ['ViDoRe_syntheticDocQA_artificial_intelligence', 'ViDoRe_syntheticDocQA_government_reports', 'ViDoRe_syntheticDocQA_healthcare_industry'];
  assert.equal(new Set(three.map((n) => n.slice(0, 22))).size, 1);
  assert.deepEqual(shortLabels(three, 24), ['ViDoRe_synth…ntelligence', 'ViDoRe_synth…ent_reports', 'ViDoRe_synth…re_industry']);
  // The charts use them (and turn Vega's own truncation off).
  const chart = reportCharts(buildReport([V200], { baselines: [] })).find((c) => c.group === 'visdoc/VDRv1')!;
  const x = (chart.spec as { encoding: { x: { field: string; sort: string[]; axis: { labelLimit: number } } } }).encoding.x;
  assert.equal(x.field, 'label');
  assert.equal(x.axis.labelLimit, 0);
  assert.equal(new Set(x.sort).size, 10);
  assert.ok(x.sort.includes('ViDoRe_synth…ntelligence'));
});

test('footers say what the figures are (×100), never "0-1 scale"', async () => {
  const html = await renderReport([V200], 'html', { baselines: ['colpali-v1.3'] });
  const md = await renderReport([V200], 'md', { baselines: ['colpali-v1.3'] });
  const board = await runCli(['leaderboard']);
  for (const [name, text] of [['html', html], ['md', md], ['leaderboard', board]] as const) {
    assert.doesNotMatch(text, /0-1 scale|0–1 scale/, name);
  }
  assert.match(html, /Baselines: the published v2\.0\.1 scores, as ×100 figures like ours\. Source: TIGER-AI-Lab\/VLM2Vec experiments\/public\/all_scores\/ \(HEAD 6e1e1d4\); folder v2\.0\.1\./);
  assert.match(md, /^Every figure is the headline metric ×100 \(0–100\): hit@1 for image and video tasks, ndcg_linear@5 for visdoc tasks\./m);
  assert.match(board, /headline metric ×100/);
});
