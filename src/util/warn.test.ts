import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ignoreWarnings, warnToStderr } from './warn.ts';

test('warnToStderr writes one prefixed line to stderr; ignoreWarnings writes nothing', () => {
  const written: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  try {
    warnToStderr('task MSVD: skipped 2 rows');
    ignoreWarnings('not shown');
  } finally {
    process.stderr.write = write;
  }
  assert.deepEqual(written, ['vlm2vec: warning: task MSVD: skipped 2 rows\n']);
});
