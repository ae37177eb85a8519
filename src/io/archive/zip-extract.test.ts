// extractZip against archives written by CPython's zipfile (tools/reference/io_zip.py): every
// file's bytes (sha256 from the manifest Python wrote), resume, and the refusals.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extractZip } from './zip-extract.ts';

const DIR = join(import.meta.dirname, '../../../test/fixtures/io/zip');
const MANIFEST = JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8')) as Record<string, { name: string; size: number; sha256: string; method: string }[]>;
const sha = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');
const tmp = (): string => mkdtempSync(join(tmpdir(), 'vlm2vec-zip-'));

function filesUnder(root: string, dir = ''): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(root, join(dir, e.name)) : [join(dir, e.name)]);
}

test('extractZip: stored, deflated and empty entries come out byte-identical to what zipfile stored', async () => {
  const out = tmp();
  const want = MANIFEST['images.zip']!;
  assert.deepEqual(new Set(want.map((e) => e.method)), new Set(['deflate', 'stored']));
  const seen: string[] = [];
  const r = await extractZip(join(DIR, 'images.zip'), out, { onEntry: (e) => seen.push(`${e.index}/${e.count} ${e.name} ${e.skipped}`) });
  assert.deepEqual({ ...r, names: [...r.names].sort() }, { files: want.length, skipped: 0, names: want.map((e) => e.name).sort() });
  assert.deepEqual(filesUnder(out).sort(), want.map((e) => e.name).sort());
  for (const e of want) {
    assert.equal(statSync(join(out, e.name)).size, e.size, e.name);
    assert.equal(sha(join(out, e.name)), e.sha256, e.name);
  }
  assert.equal(seen.length, want.length);
  assert.match(seen[0]!, /^0\/6 eval_images\/\S+ false$/);
  // A rerun keeps what is there; a damaged (wrong-size) file is extracted again.
  writeFileSync(join(out, want[0]!.name), 'truncated');
  const again = await extractZip(join(DIR, 'images.zip'), out);
  assert.deepEqual({ files: again.files, skipped: again.skipped }, { files: want.length, skipped: want.length - 1 });
  assert.equal(sha(join(out, want[0]!.name)), want[0]!.sha256);
});

test('extractZip: entries escaping the folder, other methods and CRC mismatches are named errors', async () => {
  const out = tmp();
  await assert.rejects(extractZip(join(DIR, 'evil.zip'), join(out, 'evil')), /evil\.zip: entry '\.\.\/escape\.txt' would be written outside/);
  assert.ok(!existsSync(join(out, 'escape.txt')));
  await assert.rejects(extractZip(join(DIR, 'bzip2.zip'), join(out, 'bz')), /bzip2\.zip: entry 'packed\.txt' uses compression method 12; only STORED and DEFLATE/);
  await assert.rejects(extractZip(join(DIR, 'badcrc.zip'), join(out, 'crc')), /badcrc\.zip: entry 'eval_images\/ImageNet-1K\/dog\.jpg' is corrupt: 875 bytes with CRC-32 [0-9a-f]+, the directory says 875 bytes/);
  // Nothing half-written is left where a rerun would take it as done.
  assert.ok(!existsSync(join(out, 'crc/eval_images/ImageNet-1K/dog.jpg')));
  assert.ok(!existsSync(join(out, 'crc/eval_images/ImageNet-1K/dog.jpg.partial')));
  await assert.rejects(extractZip(join(DIR, 'missing.zip'), out), /missing\.zip: cannot open/);
  const notZip = join(out, 'not.zip');
  writeFileSync(notZip, 'just text, long enough to look for an end record but without one'.repeat(2));
  await assert.rejects(extractZip(notZip, join(out, 'nz')), /not\.zip/);
});
