// `vlm2vec leaderboard` fits its width (the terminal's, 100 when piped, or --width) and still
// prints every published score: columns that do not fit go to stacked panels.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { registerLeaderboard } from './leaderboard.ts';
import { leaderboard, leaderboardColumns, type PublishedVersion } from '../mmeb/report/published.ts';
import { cell } from '../mmeb/report/format.ts';
import type { BenchmarkName } from '../mmeb/tasks/registry.ts';

async function board(args: string[]): Promise<string> {
  const chunks: string[] = [];
  const program = new Command('vlm2vec').exitOverride();
  registerLeaderboard(program, { out: (t) => { chunks.push(t); } });
  await program.parseAsync(['node', 'vlm2vec', 'leaderboard', ...args]);
  return chunks.join('');
}

/** model → column → cell text, read back from every panel (rows are in leaderboard order). */
function readPanels(text: string, models: readonly string[]): { cells: Map<string, Map<string, string>>; names: Set<string> } {
  const cells = new Map(models.map((m) => [m, new Map<string, string>()]));
  const names = new Set<string>();
  for (const block of text.split('\n\n')) {
    const lines = block.split('\n');
    if (!/^-+ {2}/.test(lines[1] ?? '')) continue; // prose, not a table
    const header = lines[0]!.split(/\s{2,}/);
    assert.equal(header[0], 'model');
    assert.equal(lines.length - 2, models.length, 'one row per model in every panel');
    lines.slice(2).forEach((line, k) => {
      const [name, ...rest] = line.split(/\s{2,}/);
      const model = models[k]!;
      names.add(name!);
      // The model's name, or a middle cut of it that keeps both ends.
      const [head, tail] = name!.split('…');
      assert.ok(name === model || (model.startsWith(head!) && model.endsWith(tail!)), `${name} abbreviates ${model}`);
      rest.forEach((c, j) => cells.get(model)!.set(header[j + 1]!, c));
    });
  }
  return { cells, names };
}

for (const [benchmark, version] of [['mmeb-v2', 'v2.0.1'], ['mmeb-v2', 'v2.1'], ['mmeb-v1', 'v2.0.0']] as [BenchmarkName, PublishedVersion][]) {
  test(`leaderboard ${benchmark} ${version}: no line wider than --width, every score printed`, async () => {
    const rows = leaderboard(benchmark, version);
    const models = rows.map((s) => s.model);
    for (const width of [undefined, 100, 80, 60, 40, 30]) {
      const text = await board(['--benchmark', benchmark, '--version', version, ...(width ? ['--width', String(width)] : [])]);
      const limit = width ?? 100; // not a terminal here: 100
      for (const line of text.split('\n')) assert.ok(line.length <= limit, `width ${limit}: ${line.length} chars: ${line}`);
      const { cells, names } = readPanels(text, models);
      assert.equal(names.size, models.length, `width ${limit}: model names stay distinct (${[...names].join(', ')})`);
      for (const s of rows) {
        for (const g of leaderboardColumns(benchmark)) assert.equal(cells.get(s.model)!.get(g), cell(s, g), `width ${limit}: ${s.model} ${g}`);
      }
    }
  });
}

test('leaderboard: a wide --width gives one table; too narrow a --width is refused', async () => {
  const wide = await board(['--width', '400']);
  assert.equal(wide.split('\n').filter((l) => l.startsWith('model ')).length, 1);
  assert.match(wide, /^VLM2Vec-V2\.0-Qwen2VL-2B\s+57\.89\s+64\.92\s+34\.67\s+64\.76\s+62\.93\s+56\.42\s+69\.60\s+77\.13\s+39\.24\s+34\.66\s+28\.38\s+37\.55\s+74\.39\s+44\.61\s+79\.33\s+38\.99$/m);
  await assert.rejects(board(['--width', '12']), /--width must be an integer ≥ 30, got '12'/);
});
