// `vlm2vec embed` as a user runs it: Ctrl-C (SIGINT) mid-run writes the chunk in flight, prints
// the counts and how to resume, exits 130; the same command then embeds only the rest.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './cli-run.ts';
import { FIXTURES } from '../../src/models/qwen2-vl/fixtures.test-helper.ts';

const work = mkdtempSync(join(tmpdir(), 'vlm2vec-embed-int-'));
after(() => rmSync(work, { recursive: true, force: true }));

test('embed: SIGINT keeps the finished lines and says how to resume; the rerun completes the file', async () => {
  copyFileSync(join(FIXTURES, 'images', 'b.png'), join(work, 'b.png'));
  const n = 1500;
  const lines = Array.from({ length: n }, (_, i) => JSON.stringify(i % 2 ? { instruction: 'Represent the given image.', image: 'b.png' } : { text: `item ${i}` }));
  writeFileSync(join(work, 'in.jsonl'), `${lines.join('\n')}\n`);
  const out = join(work, 'out.jsonl');
  const args = ['embed', '-m', join(FIXTURES, 'tiny-a'), '-i', join(work, 'in.jsonl'), '-o', out, '--threads', '1'];
  // Signalled at the first progress line, i.e. while the first chunk is being embedded.
  const r1 = await runCli(args, (child) => {
    let sent = false;
    child.stderr!.on('data', (d: Buffer) => {
      if (!sent && d.toString().includes('embed: ')) {
        sent = true;
        child.kill('SIGINT');
      }
    });
  });
  assert.equal(r1.code, 130, r1.stderr);
  const m = /vlm2vec embed: interrupted: (\d+) embedded, 0 failed, (\d+) left of 1500 item\(s\)/.exec(r1.stderr);
  assert.ok(m, r1.stderr);
  assert.match(r1.stderr, /run the same command again to resume/);
  const first = readFileSync(out, 'utf8').trim().split('\n');
  assert.equal(first.length, Number(m[1]));
  assert.ok(first.length > 0 && first.length < n && Number(m[2]) === n - first.length);

  const r2 = await runCli(args);
  assert.equal(r2.code, 0, r2.stderr);
  assert.match(r2.stderr, new RegExp(`done: ${n - first.length} embedded, ${first.length} already done \\(skipped\\), 0 failed of 1500 item\\(s\\)`));
  const all = readFileSync(out, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { index: number }).index);
  assert.deepEqual([...all].sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i));
});
