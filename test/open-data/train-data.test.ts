// The training side of the open data: subsets written by the open-data builders are read by the
// `mmeb` training parser through the dataset_config YAML they come with, as `vlm2vec train
// --dataset_config DIR/open-data.yaml --data_basedir DIR` reads them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { readDatasetConfig } from '../../src/train/data/config.ts';
import { parseMmeb } from '../../src/train/data/mmeb.ts';
import { pictureTrainRows, writePictures, writeTrainData } from '../../scripts/open-data/build.ts';
import { splitFraction, splitOf } from '../../scripts/open-data/lib.ts';
import type { Picture } from '../../scripts/open-data/collect.ts';

const pic = (id: string, caption: string, category: string): Picture => ({
  id, caption, category, render: () => sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } }).png().toBuffer(),
});

test('the written subsets and YAML parse into (query, positive) pairs with the images on disk', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'v2v-open-train-'));
  try {
    const pics = [pic('animals/cat', 'A cat.', 'animals'), pic('food/apple', 'An apple.', 'food')];
    const split = await writePictures(dir, 'TuxPaint', pics, 0, (m) => { throw new Error(m); });
    assert.equal(split.heldOut.length, 0);
    const rows = pictureTrainRows(split.train, true);
    const yaml = writeTrainData(dir, { TuxPaint_t2i: rows['t2i']!, TuxPaint_i2t: rows['i2t']!, TuxPaint_cls: rows['cls']!, Empty: [] });
    const sources = readDatasetConfig(yaml, { dataBasedir: dir });
    assert.deepEqual(sources.map((s) => [s.name, s.dataset_parser, s.subset_name, s.weight]), [
      ['TuxPaint_t2i', 'mmeb', 'TuxPaint_t2i', 1], ['TuxPaint_i2t', 'mmeb', 'TuxPaint_i2t', 1], ['TuxPaint_cls', 'mmeb', 'TuxPaint_cls', 1],
    ]);
    const catPng = join(dir, 'images', 'TuxPaint', 'Train', 'animals_cat.png');
    assert.ok(existsSync(catPng));
    const parsed = await Promise.all(sources.map((s) => parseMmeb(s, { dataDir: dir, style: 'qwen2_vl' })));
    const first = parsed.map((p) => p.examples[0]!);
    assert.deepEqual(parsed.map((p) => [p.examples.length, p.skipped]), [[2, 0], [2, 0], [2, 0]]);
    assert.deepEqual(first.map((e) => [e.query.text, e.query.images.map((i) => ('path' in i ? i.path : '')), e.pos.text, e.pos.images.map((i) => ('path' in i ? i.path : ''))]), [
      ['Find me an everyday image that matches the given caption: A cat.\n', [], '<|image_pad|>\nRepresent the given image.\n', [catPng]],
      ['<|image_pad|>\nFind an image caption describing the given everyday image.\n', [catPng], 'A cat.', []],
      ['<|image_pad|>\nRepresent the given image for classification\n', [catPng], 'animals', []],
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the split is a fixed function of (source, id): the same on every run, about the asked fraction', () => {
  // sha256('vlm2vec-open-data-v1/TuxPaint/animals/cat') starts 3860cb52 (coreutils sha256sum): 945867602 / 2^32 = 0.2202…
  assert.equal(splitFraction('TuxPaint', 'animals/cat'), 945867602 / 2 ** 32);
  assert.equal(splitOf('TuxPaint', 'animals/cat', 0.22), 'train');
  assert.equal(splitOf('TuxPaint', 'animals/cat', 0.23), 'held-out');
  const ids = Array.from({ length: 4000 }, (_, i) => `item-${i}`);
  const held = ids.filter((id) => splitOf('S', id, 0.2) === 'held-out').length;
  // Binomial(4000, 0.2): mean 800, sd 25.3; ±4 sd.
  assert.ok(Math.abs(held - 800) < 102, `${held} held out`);
  // Another source salts the hash differently: the two held-out sets differ.
  const other = ids.filter((id) => splitOf('T', id, 0.2) === 'held-out');
  assert.notDeepEqual(other, ids.filter((id) => splitOf('S', id, 0.2) === 'held-out'));
});
