// The parquet files of the open-data script (hyparquet-writer under scripts/open-data/lib.ts) are
// read alike by pyarrow (the Hugging Face `datasets` reader the reference uses) and by our
// hyparquet-based reader. columns.pyarrow.json holds what pyarrow 's read_table gave for the
// committed file (tools/reference/open_data_parquet.py); the writer still writes those bytes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readRows } from '../../src/mmeb/data/read.ts';
import { imageBytes } from '../../src/mmeb/data/fields.ts';
import { writeParquet } from '../../scripts/open-data/lib.ts';
import { COLUMNS, FIXTURE_DIR } from './parquet-fixture.ts';

const fixture = join(FIXTURE_DIR, 'columns.parquet');
const pyarrow = JSON.parse(readFileSync(join(FIXTURE_DIR, 'columns.pyarrow.json'), 'utf8')) as {
  schema: string[]; rows: Record<string, unknown>[];
};

test('the writer writes the committed file pyarrow read, byte for byte', () => {
  const dir = mkdtempSync(join(tmpdir(), 'v2v-parquet-'));
  try {
    writeParquet(join(dir, 'c.parquet'), COLUMNS);
    assert.deepEqual(readFileSync(join(dir, 'c.parquet')), readFileSync(fixture));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('pyarrow read the types and values that were written', () => {
  assert.deepEqual(pyarrow.schema, ['qry: string', 'tgt_text: list<element: string>', 'corpus-id: int64', 'image: struct<bytes: binary, path: string>']);
  const byName = Object.fromEntries(COLUMNS.map((c) => [c.name, c.data]));
  pyarrow.rows.forEach((r, i) => {
    assert.equal(r['qry'], byName['qry']![i]);
    assert.deepEqual(r['tgt_text'], byName['tgt_text']![i]);
    assert.equal(r['corpus-id'], String(byName['corpus-id']![i]));
    assert.deepEqual(r['image'], { bytes: [...(byName['image']![i] as Uint8Array)], path: null });
  });
});

test('our reader gives the values pyarrow gives', async () => {
  const rows = await readRows([fixture]);
  assert.equal(rows.length, pyarrow.rows.length);
  rows.forEach((r, i) => {
    const py = pyarrow.rows[i]!;
    assert.equal(r.data['qry'], py['qry']);
    assert.deepEqual(r.data['tgt_text'], py['tgt_text']);
    assert.equal(String(r.data['corpus-id']), py['corpus-id']);
    assert.deepEqual([...imageBytes(r, 'image', 'fixture').bytes], (py['image'] as { bytes: number[] }).bytes);
  });
});
