// batch.ts on a hand-made right-padded batch (tiny-a's config: merge 2, patch rows of 1176
// values, the real placeholder ids): a text row keeping a literal <|image_pad|>, an image row
// (grid [1, 2, 2] = 1 feature) and a video row (grid [2, 2, 2] = 2 features). Every expected
// value is worked out by hand from the rules in batch.ts's comments.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readJsonFile } from '../../io/weights/hf-configs.ts';
import { batchTensors, lastTokenIndex, packBatch, packText, type Qwen2VLBatch } from './batch.ts';
import { parseQwen2VLConfig } from './config.ts';
import { FIXTURES } from './fixtures.test-helper.ts';

const cfg = parseQwen2VLConfig(await readJsonFile('qwen2_vl', join(FIXTURES, 'tiny-a', 'config.json')), { strict: false });
const I = 151655n;
const V = 151656n;
const P = 1176;

function handBatch(): Qwen2VLBatch {
  // row 0: "<|image_pad|> a b" (no image), row 1: image + 3 tokens, row 2: 2 video tokens + 4 tokens
  const ids = [I, 10n, 11n, 0n, 0n, 0n, I, 12n, 13n, 14n, 0n, 0n, V, V, 15n, 16n, 17n, 18n];
  const mask = [1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1].map(BigInt);
  return {
    inputIds: BigInt64Array.from(ids),
    attentionMask: BigInt64Array.from(mask),
    shape: [3, 6],
    pixelValues: Float32Array.from({ length: 4 * P }, () => 1),
    imageGrids: [[1, 2, 2]],
    pixelValuesVideos: Float32Array.from({ length: 8 * P }, () => 2),
    videoGrids: [[2, 2, 2]],
    imagesPerRow: [0, 1, 0],
    videosPerRow: [0, 0, 1],
  };
}

test('packBatch: last tokens, 1-D positions, scatter over rows with media only, images then videos, a segment per slice', () => {
  const p = packBatch(handBatch(), cfg);
  // Right padding (not every row ends with a token): last = Σmask - 1.
  assert.deepEqual(p.last, BigInt64Array.from([0n, 2n, 1n, 3n, 2n, 5n]));
  // No <|vision_start|>: 0..n-1 over real tokens, pads at 1, the same on t, h and w.
  const one = [0, 1, 2, 1, 1, 1, 0, 1, 2, 3, 1, 1, 0, 1, 2, 3, 4, 5].map(BigInt);
  assert.deepEqual(p.positions, BigInt64Array.from([...one, ...one, ...one]));
  // Row 0's <|image_pad|> stays a token (imagesPerRow 0); the image row's one placeholder, then the video's two.
  assert.deepEqual(p.scatter, BigInt64Array.from([1n, 0n, 2n, 0n, 2n, 1n]));
  assert.equal(p.numFeatures, 3);
  assert.equal(p.pixels.length, 12 * P);
  assert.deepEqual([p.pixels[4 * P - 1], p.pixels[4 * P]], [1, 2], 'image patches first, then video patches');
  assert.deepEqual(p.segments, Int32Array.from([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]));
  // One 2×2 merge block per slice: (row, col) in merge order.
  assert.deepEqual(p.patchPos, Int32Array.from([0, 0, 0, 1, 1, 0, 1, 1, 0, 0, 0, 1, 1, 0, 1, 1, 0, 0, 0, 1, 1, 0, 1, 1]));
  const t = batchTensors(p, cfg);
  assert.deepEqual([t.pixels.shape, t.patchPos.shape, t.segments.shape, t.scatter.shape, t.positions.shape, t.last.shape],
    [[3, 4, P], [3, 4, 2], [3, 4], [3, 2], [3, 3, 6], [3, 2]]);
});

test('packBatch without media: K = 0; given 1-D positions are repeated on the three axes', () => {
  const b: Qwen2VLBatch = { inputIds: BigInt64Array.from([0n, 5n, 6n, 7n, 8n, 9n]), attentionMask: BigInt64Array.from([0n, 1n, 1n, 1n, 1n, 1n]), shape: [2, 3], positionIds: BigInt64Array.from([1n, 0n, 1n, 0n, 1n, 2n]) };
  const p = packBatch(b, cfg);
  assert.equal(p.numFeatures, 0);
  assert.deepEqual([p.pixels.length, p.scatter.length, p.segments.length], [0, 0, 0]);
  assert.deepEqual(p.last, BigInt64Array.from([0n, 2n, 1n, 2n]), 'left padding: L - 1');
  assert.deepEqual(p.positions, BigInt64Array.from([1n, 0n, 1n, 0n, 1n, 2n, 1n, 0n, 1n, 0n, 1n, 2n, 1n, 0n, 1n, 0n, 1n, 2n]));
  assert.deepEqual(batchTensors(p, cfg).pixels.shape, [0, 4, P]);
});

test('batch errors name what disagrees', () => {
  const b = handBatch();
  // Without per-row counts every placeholder is a media token: row 0's too.
  assert.throws(() => packBatch({ ...b, imagesPerRow: undefined, videosPerRow: undefined }, cfg), /the batch has 2 image placeholder tokens but its image grids give 1 features/);
  assert.throws(() => packBatch({ ...b, imagesPerRow: [1, 1, 0] }, cfg), /imagesPerRow \[1, 1, 0\] must give a count ≥ 0 for each of the 3 rows, adding up to the 1 grid/);
  assert.throws(() => packBatch({ ...b, pixelValuesVideos: new Float32Array(4 * P) }, cfg), /pixel_values_videos has 4 patch rows but its grids need 8/);
  assert.throws(() => packText({ ...b, shape: [3, 5] }, cfg), /input_ids \(18\) \/ attention_mask \(18\) do not match the batch shape \[3, 5\]/);
  assert.throws(() => packText({ ...b, positionIds: new BigInt64Array(5) }, cfg), /position_ids has 5 values, expected \[3, 3, 6\]/);
  assert.throws(() => lastTokenIndex(BigInt64Array.from([1n, 0n, 0n, 0n]), 2, 2), /batch row 1 has no tokens/);
});
