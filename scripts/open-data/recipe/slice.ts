// A small slice of the recipe's training data, for the test that reruns the recipe for a few steps
// (test/open-data/recipe.test.ts): the first rows of every subset data.yaml names, in the same
// layout (so the recipe's own data.yaml reads it with --data_basedir SLICE), their pictures
// copied, document pages shrunk to at most 224 px a side to keep the fixture small.
//
// Usage: node --import tsx scripts/open-data/recipe/slice.ts --data DIR --out test/fixtures/open-data-slice [--rows 8]

import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import sharp from 'sharp';
import { parse } from 'yaml';
import { Vlm2VecError } from '../../../src/errors.ts';
import { writeTrainData } from '../build.ts';
import type { TrainRow } from '../lib.ts';

const { values } = parseArgs({ options: { data: { type: 'string' }, out: { type: 'string' }, rows: { type: 'string', default: '8' } } });
if (!values.data || !values.out) throw new Vlm2VecError('slice', 'usage: slice.ts --data DIR --out SLICE [--rows 8]');
const n = Number(values.rows);
const config = parse(readFileSync(join(import.meta.dirname, 'data.yaml'), 'utf8')) as Record<string, { subset_name: string }>;
rmSync(values.out, { recursive: true, force: true });
const subsets: Record<string, TrainRow[]> = {};
for (const { subset_name: s } of Object.values(config)) {
  const file = join(values.data, 'vlm2vec-open', 'MMEB-train', s, 'original-00000-of-00001.parquet');
  const rows = (await parquetReadObjects({ file: await asyncBufferFromFile(file) }) as unknown as TrainRow[]).slice(0, n);
  for (const r of rows) {
    for (const rel of [r.qry_image_path, r.pos_image_path].filter((p) => p !== '')) {
      const to = join(values.out, rel);
      mkdirSync(dirname(to), { recursive: true });
      if (s.startsWith('DocPages')) writeFileSync(to, await sharp(join(values.data, rel)).resize({ width: 224, height: 224, fit: 'inside' }).png({ palette: true }).toBuffer());
      else copyFileSync(join(values.data, rel), to);
    }
  }
  subsets[s] = rows.map((r) => ({ ...r, neg_text: r.neg_text ?? '', neg_image_path: r.neg_image_path ?? '' }));
}
writeTrainData(values.out, subsets);
process.stderr.write(`wrote ${Object.values(subsets).reduce((a, r) => a + r.length, 0)} rows to ${values.out}\n`);
