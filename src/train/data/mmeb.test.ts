import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseDatasetConfig, readDatasetConfig, type DataSourceConfig } from './config.ts';
import { parseMmeb } from './mmeb.ts';
import type { TrainImage, TrainItem } from './types.ts';

// Fixtures in the real MMEB-train layout and the examples the reference's parser logic gives for
// them, both written by tools/reference/train_data_fixtures.py.
const ROOT = fileURLToPath(new URL('../../../test/fixtures/train/data/', import.meta.url));
const HUB = join(ROOT, 'hub');
const BASEDIR = join(ROOT, 'basedir');
type Side = { text: string; image: string | null };
const EXPECTED = JSON.parse(readFileSync(join(ROOT, 'expected-mmeb.json'), 'utf8')) as Record<string, {
  num_rows: number; skipped: number;
  examples: { query: Side; pos: Side; neg_text: string; neg_image: string | null; source: string }[];
}>;

const rel = (imgs: TrainImage[]): string | null => {
  assert.ok(imgs.length <= 1);
  const i = imgs[0];
  if (!i) return null;
  assert.ok('path' in i);
  return relative(BASEDIR, i.path);
};
const side = (it: TrainItem): Side => ({ text: it.text, image: rel(it.images) });

const sources = (basedir = BASEDIR): DataSourceConfig[] => readDatasetConfig(join(ROOT, 'mix.yaml'), { dataBasedir: basedir });

describe('mmeb parser (TIGER-Lab/MMEB-train)', () => {
  for (const name of Object.keys(EXPECTED)) {
    it(`gives the reference's examples for ${name}`, async () => {
      const src = sources().find((s) => s.name === name)!;
      const exp = EXPECTED[name]!;
      const got = await parseMmeb(src, { dataDir: HUB, style: 'qwen2_vl' });
      assert.equal(got.globalName, `mmeb/${name}`);
      assert.equal(got.numRows, exp.num_rows);
      assert.equal(got.skipped, exp.skipped);
      assert.deepEqual(got.examples.map((e) => ({ query: side(e.query), pos: side(e.pos), source: e.source })),
        exp.examples.map((e) => ({ query: e.query, pos: e.pos, source: e.source })));
      // no hard negatives unless asked for, as the reference trains
      assert.ok(got.examples.every((e) => e.negs.length === 0));
      // read from the split the card names (original-*), not the legacy train-* files
      assert.ok(got.examples.every((e) => e.file.endsWith(join(name, 'original-00000-of-00001.parquet'))));
    });
  }

  it('skips rows without text and image on one side and counts them; caps at num_sample_per_subset', async () => {
    const got = await parseMmeb(sources().find((s) => s.name === 'ImageNet_1K')!, { dataDir: HUB, style: 'qwen2_vl' });
    // 8 rows in the file, the first 6 read; rows 2 (empty query) and 4 (empty positive) skipped
    assert.equal(got.numRows, 6);
    assert.equal(got.skipped, 2);
    assert.deepEqual(got.examples.map((e) => e.row), [0, 1, 3, 5]);
    assert.deepEqual(got.examples.map((e) => e.pos.text), ['tench', 'goldfish', 'great white shark', 'hammerhead']);
  });

  it('takes --num_sample_per_subset when the source sets none', async () => {
    const cirr = sources().find((s) => s.name === 'CIRR')!;
    assert.equal((await parseMmeb(cirr, { dataDir: HUB, style: 'qwen2_vl', numSamplePerSubset: 2 })).examples.length, 2);
    const coco = sources().find((s) => s.name === 'MSCOCO_t2i')!; // its own cap (100) wins
    assert.equal((await parseMmeb(coco, { dataDir: HUB, style: 'qwen2_vl', numSamplePerSubset: 1 })).examples.length, 3);
  });

  it('keeps the hard negative of each row when num_hardneg > 0', async () => {
    const got = await parseMmeb(sources().find((s) => s.name === 'CIRR')!, { dataDir: HUB, style: 'qwen2_vl', numHardneg: 1 });
    const exp = EXPECTED['CIRR']!.examples;
    assert.deepEqual(got.examples.map((e) => e.negs.map(side)), exp.map((e) => [{ text: e.neg_text, image: e.neg_image }]));
    assert.equal(got.examples[0]!.negs[0]!.text, '<|image_pad|>\nRepresent the given image.\n');
    assert.equal(got.examples[2]!.negs[0]!.text, '', 'an image-only negative');
    const coco = await parseMmeb(sources().find((s) => s.name === 'MSCOCO_t2i')!, { dataDir: HUB, style: 'qwen2_vl', numHardneg: 1 });
    assert.ok(coco.examples.every((e) => e.negs.length === 0), 'null negatives give none');
  });

  it("uses the backbone's image token", async () => {
    const src = sources().find((s) => s.name === 'MSCOCO_t2i')!;
    const llava = await parseMmeb(src, { dataDir: HUB, style: 'llava_next' });
    assert.equal(llava.examples[0]!.pos.text, '<image>\nRepresent the given image.\n');
    const phi = await parseMmeb(src, { dataDir: HUB, style: 'phi3_v' });
    assert.equal(phi.examples[0]!.pos.text, '<|image_1|>\nRepresent the given image.\n');
  });

  describe('errors', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'mmeb-train-'));
    after(() => rmSync(tmp, { recursive: true, force: true }));

    it('a missing image names the image, the parquet file, the row and the source', async () => {
      const base = join(tmp, 'basedir');
      cpSync(BASEDIR, base, { recursive: true });
      rmSync(join(base, 'mmeb-images/images/MSCOCO_t2i/Train/COCO_train2014_000000000025.jpg'));
      const src = sources(base).find((s) => s.name === 'MSCOCO_t2i')!;
      await assert.rejects(parseMmeb(src, { dataDir: HUB, style: 'qwen2_vl' }),
        /source 'MSCOCO_t2i' \(mmeb\/MSCOCO_t2i\) of .*mix\.yaml: image .*COCO_train2014_000000000025\.jpg \(.*MSCOCO_t2i\/original-00000-of-00001\.parquet row 1, column 'pos_image_path'\) does not exist/);
      // with the check off, parsing leaves the image to the batch loader
      assert.equal((await parseMmeb(src, { dataDir: HUB, style: 'qwen2_vl', checkImages: false })).examples.length, 3);
    });

    const one = (extra: string): DataSourceConfig =>
      parseDatasetConfig(`S:\n  dataset_parser: mmeb\n  weight: 1\n${extra}`, 'x.yaml', { dataBasedir: BASEDIR })[0]!;

    it('a missing column names the file and the column', async () => {
      await assert.rejects(parseMmeb(one('  dataset_name: TIGER-Lab/MMEB-train\n  subset_name: NoPosImage\n  image_dir: mmeb-images\n'), { dataDir: HUB, style: 'qwen2_vl' }),
        /source 'S' \(mmeb\/NoPosImage\) of x\.yaml: .*NoPosImage\/original-00000-of-00001\.parquet has no column\(s\) 'pos_image_path'/);
    });

    it('a missing split, subset, repo or key', async () => {
      await assert.rejects(parseMmeb(one('  dataset_name: TIGER-Lab/MMEB-train\n  subset_name: CIRR\n  dataset_split: test\n  image_dir: i\n'), { dataDir: HUB, style: 'qwen2_vl' }),
        /config 'CIRR' split 'test'.*has no split 'test'/);
      await assert.rejects(parseMmeb(one('  dataset_name: TIGER-Lab/MMEB-train\n  subset_name: Nope\n  image_dir: i\n'), { dataDir: HUB, style: 'qwen2_vl' }),
        /config 'Nope' is not in/);
      await assert.rejects(parseMmeb(one('  dataset_name: TIGER-Lab/Other\n  subset_name: CIRR\n  image_dir: i\n'), { dataDir: HUB, style: 'qwen2_vl' }),
        /dataset folder .*TIGER-Lab\/Other does not exist/);
      await assert.rejects(parseMmeb(one('  dataset_name: TIGER-Lab/MMEB-train\n  subset_name: CIRR\n'), { dataDir: HUB, style: 'qwen2_vl' }),
        /source 'S' \(mmeb\/CIRR\) of x\.yaml: key 'image_dir' is required/);
      await assert.rejects(parseMmeb(one('  dataset_name: TIGER-Lab/MMEB-train\n  image_dir: i\n'), { dataDir: HUB, style: 'qwen2_vl' }),
        /key 'subset_name' is required/);
    });
  });
});
