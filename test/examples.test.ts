// The README's library examples run verbatim and print what the README says they print.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';

test('examples/score.ts prints the reference harness value 0.936', () => {
  const out = execFileSync(process.execPath, ['--import', 'tsx', 'examples/score.ts'], { encoding: 'utf8' });
  assert.equal(out.trim(), '0.936');
});
