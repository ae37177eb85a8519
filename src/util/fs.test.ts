import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic, writeFileAtomicSync } from './fs.ts';
import { Vlm2VecError } from '../errors.ts';

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

test('a failed write keeps the old file, removes the temp file and names the path', async () => {
  // A write that fails half-way (the data cannot be written); unlike a read-only folder this
  // also fails when the tests run as root.
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vec-fs-'));
  const f = join(dir, 'x.json');
  writeFileSync(f, 'old');
  const bad = 42 as unknown as string;
  await assert.rejects(writeFileAtomic(f, bad), (e: Error) => e instanceof Vlm2VecError && e.message.startsWith(`[fs] cannot write ${f}:`));
  assert.throws(() => writeFileAtomicSync(f, bad), (e: Error) => e instanceof Vlm2VecError && e.message.includes(f));
  assert.equal(readFileSync(f, 'utf8'), 'old');
  assert.deepEqual(readdirSync(dir), ['x.json']);
});

test('a parent path that is a file: a clear error naming the target', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vec-fs-'));
  writeFileSync(join(dir, 'file'), 'x');
  const target = join(dir, 'file', 'image', 'a_score.json');
  await assert.rejects(writeFileAtomic(target, 'y'), (e: Error) => e instanceof Vlm2VecError && e.message.includes(`cannot write ${target}`) && /ENOTDIR|EEXIST/.test(e.message));
  assert.throws(() => writeFileAtomicSync(target, 'y'), (e: Error) => e instanceof Vlm2VecError && e.message.includes(target));
});

test('writing over a directory fails without leaving a temp file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vec-fs-'));
  const target = join(dir, 'sub');
  await writeFileAtomic(join(target, 'keep'), 'k');
  await assert.rejects(writeFileAtomic(target, 'x'), (e: Error) => e instanceof Vlm2VecError && e.message.includes(target));
  assert.deepEqual(readdirSync(dir), ['sub']);
});
