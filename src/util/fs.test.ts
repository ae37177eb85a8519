import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic, writeFileAtomicSync } from './fs.ts';

test('writeFileAtomic creates parents, replaces content, leaves no temp files', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vec-fs-'));
  const f = join(dir, 'a', 'b', 'x.json');
  await writeFileAtomic(f, 'one');
  await writeFileAtomic(f, new TextEncoder().encode('two'));
  assert.equal(readFileSync(f, 'utf8'), 'two');
  writeFileAtomicSync(join(dir, 'a', 'y.txt'), 'three');
  assert.equal(readFileSync(join(dir, 'a', 'y.txt'), 'utf8'), 'three');
  assert.deepEqual(readdirSync(join(dir, 'a', 'b')), ['x.json']);
  assert.deepEqual(readdirSync(join(dir, 'a')).sort(), ['b', 'y.txt']);
});

test('a failed write keeps the old file and removes the temp file', { skip: process.getuid?.() === 0 ? 'running as root: permissions are not enforced' : false }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vec-fs-'));
  const f = join(dir, 'x.json');
  writeFileSync(f, 'old');
  chmodSync(dir, 0o500);
  try {
    await assert.rejects(writeFileAtomic(f, 'new'));
  } finally {
    chmodSync(dir, 0o700);
  }
  assert.equal(readFileSync(f, 'utf8'), 'old');
  assert.deepEqual(readdirSync(dir), ['x.json']);
});

test('writing over a directory fails without leaving a temp file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vec-fs-'));
  const target = join(dir, 'sub');
  await writeFileAtomic(join(target, 'keep'), 'k');
  await assert.rejects(writeFileAtomic(target, 'x'));
  assert.deepEqual(readdirSync(dir), ['sub']);
});
