// The columns of test/fixtures/open-data/columns.parquet: every column kind the open-data script
// writes (strings with non-ASCII text and an empty string, lists of strings including an empty
// list, int64 ids beyond 2^53, image structs). Run this file to rewrite the fixture, then
// tools/reference/open_data_parquet.py to record what pyarrow reads from it.

import { join } from 'node:path';
import { writeParquet, type Column } from '../../scripts/open-data/lib.ts';

export const FIXTURE_DIR = new URL('../fixtures/open-data/', import.meta.url).pathname;

export const COLUMNS: Column[] = [
  { name: 'qry', kind: 'string', data: ['<|image_1|>\nRepresent the given image.\n', '', 'Ünïcödé — 猫 🐱'] },
  { name: 'tgt_text', kind: 'string-list', data: [['a', 'b'], [], ['', 'c d']] },
  { name: 'corpus-id', kind: 'int64', data: [0n, 9007199254740993n, -5n] },
  { name: 'image', kind: 'image', data: [new Uint8Array([0x89, 0x50, 0x4e, 0x47]), new Uint8Array([]), new Uint8Array([255, 0, 1])] },
];

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  writeParquet(join(FIXTURE_DIR, 'columns.parquet'), COLUMNS);
}
