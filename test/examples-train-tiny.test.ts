// examples/train-tiny: `vlm2vec train` on coloured-shape pictures raises held-out retrieval from
// chance. The README cites the full run (80 steps); this runs 20 steps and asserts the margin.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

test('examples/train-tiny: 20 training steps lift held-out top-1 from chance (11.1%) by at least 25 points', () => {
  const out = mkdtempSync(join(tmpdir(), 'vlm2vec-train-tiny-'));
  try {
    const text = execFileSync(process.execPath, ['--import', 'tsx', 'examples/train-tiny/run.ts', '--steps', '20', '--out', out], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const pct = (re: RegExp): number => Number(re.exec(text)?.[1] ?? NaN);
    const before = pct(/before training: top-1 ([\d.]+)%/);
    const after = pct(/after 20 steps: top-1 ([\d.]+)%/);
    assert.match(text, /held-out pictures: 36, captions: 9 \(chance 11\.1%\)/);
    // A random model sits near chance; 20 steps of full fine-tuning learn colour and some shape.
    assert.ok(before <= 25, `before ${before}%`);
    assert.ok(after >= before + 25 && after >= 3 * (100 / 9), `before ${before}%, after ${after}%`);
    // The run is the real command: its log has 20 steps and the loss fell.
    const log = readFileSync(join(out, 'run', 'train_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { loss: number });
    assert.equal(log.length, 20);
    const mean = (xs: { loss: number }[]): number => xs.reduce((s, x) => s + x.loss, 0) / xs.length;
    assert.ok(mean(log.slice(-5)) < mean(log.slice(0, 5)), `loss ${mean(log.slice(0, 5))} → ${mean(log.slice(-5))}`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
