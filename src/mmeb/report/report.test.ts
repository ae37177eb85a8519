import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { chromium } from 'playwright-core';
import { renderReport } from './index.ts';
import { registerReport } from '../../cli/report.ts';
import { registerLeaderboard } from '../../cli/leaderboard.ts';

const ROOT = new URL('../../../', import.meta.url).pathname;
const PUB = join(ROOT, 'test', 'fixtures', 'published-scores');
const V200 = join(PUB, 'v2.0.0', 'VLM2Vec-V2.0-Qwen2VL-2B.json');
const V201 = join(PUB, 'v2.0.1', 'VLM2Vec-V2.0-Qwen2VL-2B.json');
const CHROMIUM = '/usr/bin/chromium';

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

// Expected bars per chart: tasks per meta-task (spec §1) × (1 run + 8 published baselines).
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
  } finally {
    await browser.close();
  }
});
