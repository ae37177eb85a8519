import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseDatasetConfig, readDatasetConfig } from './config.ts';
import { ParquetImageReader } from './parquet-image.ts';
import type { ParquetImageRef, TrainImage } from './types.ts';
import { parseVidore, parseVisrag } from './visdoc.ts';

// Fixtures in the real layouts (README configs, data/train-*.parquet with an HF Image column) and
// the reference parsers' output for them, from tools/reference/train_data_fixtures.py.
const ROOT = fileURLToPath(new URL('../../../test/fixtures/train/data/', import.meta.url));
const HUB = join(ROOT, 'hub');
const EXPECTED = JSON.parse(readFileSync(join(ROOT, 'expected-visdoc.json'), 'utf8')) as {
  'colpali_train_set': { num_rows: number; skipped: number; examples: { query_text: string; query_image_md5: string; pos_text: string; source: string }[] };
  'visrag-indomain': { num_rows: number; skipped: number; examples: { query_text: string; pos_text: string; pos_image_md5: string; source: string }[] };
};
const sources = readDatasetConfig(join(ROOT, 'visdoc.yaml'));
const md5 = (b: Uint8Array): string => createHash('md5').update(b).digest('hex');
const ref = (imgs: TrainImage[]): ParquetImageRef => {
  assert.equal(imgs.length, 1);
  assert.ok('row' in imgs[0]!);
  return imgs[0];
};

describe('vidore parser (vidore/colpali_train_set)', () => {
  it("gives the reference's examples, the last partial batch of 128 rows dropped", async () => {
    const exp = EXPECTED['colpali_train_set'];
    const got = await parseVidore(sources[0]!, { dataDir: HUB, style: 'qwen2_vl' });
    assert.equal(got.numRows, 170);
    assert.equal(got.skipped, 42);
    assert.equal(exp.skipped, 42);
    assert.deepEqual(got.examples.map((e) => ({ q: e.query.text, p: e.pos.text, s: e.source, n: e.pos.images.length })),
      exp.examples.map((e) => ({ q: e.query_text, p: e.pos_text, s: e.source, n: 0 })));
    // the page images, read lazily from their rows (two files, row groups of 40)
    const reader = new ParquetImageReader();
    const hashes = [];
    for (const e of got.examples) hashes.push(md5(await reader.read(ref(e.query.images))));
    assert.deepEqual(hashes, exp.examples.map((e) => e.query_image_md5));
    assert.ok(got.examples.every((e) => e.file.includes('/data/train-')), 'split train, not test');
  });
});

describe('visrag parser (openbmb/VisRAG-Ret-Train-In-domain-data)', () => {
  it("gives the reference's examples: per-source prompts, the page as positive, the first N rows, full batches of 128", async () => {
    const exp = EXPECTED['visrag-indomain'];
    const got = await parseVisrag(sources[1]!, { dataDir: HUB, style: 'qwen2_vl' });
    assert.equal(got.globalName, 'VisRAG-Indomain-data');
    assert.equal(got.numRows, 290);
    assert.equal(got.skipped, 34);
    assert.deepEqual(got.examples.map((e) => ({ q: e.query.text, p: e.pos.text, s: e.source, n: e.query.images.length })),
      exp.examples.map((e) => ({ q: e.query_text, p: e.pos_text, s: e.source, n: 0 })));
    // e.g. an unlisted source: no prompt, and the reference's spacing
    assert.equal(got.examples[2]!.query.text, 'question 2 ');
    assert.equal(got.examples[2]!.pos.text, ' <|image_pad|>');
    const reader = new ParquetImageReader();
    const hashes = [];
    for (const e of got.examples) hashes.push(md5(await reader.read(ref(e.pos.images))));
    assert.deepEqual(hashes, exp.examples.map((e) => e.pos_image_md5));
  });

  it('errors name the source, the file and the column', async () => {
    const bad = parseDatasetConfig(`V:\n  dataset_parser: visrag\n  dataset_path: ${join(HUB, 'vidore/colpali_train_set/data/test-00000-of-00001.parquet')}\n  weight: 1\n`, 'b.yaml')[0]!;
    // colpali's file has query, image and source: it parses (one row < 128: nothing kept)
    assert.equal((await parseVisrag(bad, { dataDir: HUB, style: 'qwen2_vl' })).examples.length, 0);
    const noImage = parseDatasetConfig(`V:\n  dataset_parser: vidore\n  dataset_path: ${join(HUB, 'TIGER-Lab/MMEB-train/CIRR/original-00000-of-00001.parquet')}\n  weight: 1\n`, 'b.yaml')[0]!;
    await assert.rejects(parseVidore(noImage, { dataDir: HUB, style: 'qwen2_vl' }),
      /source 'V' \(vidore\/None\) of b\.yaml: .*CIRR\/original-00000-of-00001\.parquet has no column\(s\) 'image_filename', 'query', 'answer', 'source', 'prompt', 'answer_type', 'image'/);
    const none = parseDatasetConfig('V:\n  dataset_parser: visrag\n  weight: 1\n', 'b.yaml')[0]!;
    await assert.rejects(parseVisrag(none, { dataDir: HUB, style: 'qwen2_vl' }), /key 'dataset_name' .* or 'dataset_path' .* is required/);
    const reader = new ParquetImageReader();
    await assert.rejects(reader.read({ file: join(HUB, 'openbmb/VisRAG-Ret-Train-In-domain-data/data/train-00000-of-00001.parquet'), row: 400, column: 'image', name: 'p' }),
      /image 'p' \(.*train-00000-of-00001\.parquet row 400, column 'image'\): the file has only 300 rows/);
  });
});
