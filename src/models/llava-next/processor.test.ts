// LLaVA-NeXT's image processor and <image> count against transformers' LlavaNextImageProcessor /
// LlavaNextProcessor (tools/reference/llava_next_fixtures.py): at llava-v1.6's real settings
// (336 px, its five pinpoints) on real wide, tall, tiny, huge and ordinary images, the pixel
// values' sha256, shape, chosen resolution and token count; at the tiny model's settings the
// pixel arrays of the golden cases.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadImageRGB } from '../../io/media/image.ts';
import { CLIP_NORMALIZATION } from '../clip-vision/index.ts';
import { DEFAULT_GRID_PINPOINTS } from './config.ts';
import { featureRows, imageFeatureLayout, patchOutputSize, processImage, selectBestResolution } from './processor.ts';

const FIX = join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures');
const IMAGES = join(FIX, 'io', 'images', 'src');
interface ProcGolden { image: string; file: string; width: number; height: number; image_size: number[]; best_resolution: number[]; shape: number[]; sha256: string; first: number[]; image_tokens: number }
const golden = JSON.parse(readFileSync(join(FIX, 'model', 'llava-next', 'processor.json'), 'utf8')) as { pinpoints: [number, number][]; size: number; images: ProcGolden[] };

test('pixel values equal LlavaNextImageProcessor bit for bit at llava-v1.6 settings (wide, tall, tiny, huge, photo, square)', async () => {
  assert.deepEqual(golden.pinpoints, DEFAULT_GRID_PINPOINTS.map((p) => [...p]));
  assert.ok(golden.images.length >= 6);
  for (const g of golden.images) {
    const img = await loadImageRGB(join(IMAGES, g.file));
    const out = processImage(img, { size: 336, pinpoints: DEFAULT_GRID_PINPOINTS, ...CLIP_NORMALIZATION });
    assert.deepEqual([...out.bestResolution], g.best_resolution, `${g.image} best resolution`);
    assert.deepEqual([...out.imageSize], g.image_size, `${g.image} image_sizes`);
    assert.deepEqual([out.numPatches, 3, 336, 336], g.shape, `${g.image} shape`);
    assert.deepEqual([...out.pixels.slice(0, 8)], g.first.map(Math.fround), `${g.image} first values`);
    const sha = createHash('sha256').update(new Uint8Array(out.pixels.buffer, out.pixels.byteOffset, out.pixels.byteLength)).digest('hex');
    assert.equal(sha, g.sha256, `${g.image} pixel sha256`);
  }
});

test('<image> token count equals LlavaNextProcessor expansion at llava-v1.6 settings', () => {
  for (const g of golden.images) {
    const l = imageFeatureLayout([g.height, g.width], 336, 14, DEFAULT_GRID_PINPOINTS);
    assert.equal(l.numFeatures, g.image_tokens, `${g.image} (${g.width}×${g.height})`);
  }
});

test('best resolution, patch size and feature rows by hand', () => {
  // 640×480: every pinpoint keeps the whole image area except the 336-tall ones; 672×672 wastes least.
  assert.deepEqual(selectBestResolution(480, 640, DEFAULT_GRID_PINPOINTS), [672, 672]);
  assert.deepEqual(patchOutputSize(300, 4096, [336, 1008]), [74, 1008]); // ceil(300·1008/4096) = 74
  assert.deepEqual(patchOutputSize(1024, 123, [1008, 336]), [1008, 122]); // ceil(123·1008/1024) = 122
  // A 2×1 grid of 2×2-token patches for a 10-wide, 20-tall image: [H 4 × W 2] map, no padding cut.
  const l = imageFeatureLayout([20, 10], 4, 2, [[8, 4]]);
  assert.deepEqual([l.patchRows, l.patchCols, l.rowStart, l.rowEnd, l.colStart, l.colEnd, l.numFeatures], [2, 1, 0, 4, 0, 2, 4 + 4 * 3]);
  // base 0..3; row y: patch 1 + floor(y/2), token (y%2)·2 + x; newline 99 after each row
  assert.deepEqual([...featureRows(l, 99)], [0, 1, 2, 3, 4, 5, 99, 6, 7, 99, 8, 9, 99, 10, 11, 99]);
  // wider image in the same grid: rows of padding cut (h·W/w = 20·2/40 = 1 → pad (4-1)/2 = 1 → rows 1..3)
  const wide = imageFeatureLayout([20, 40], 4, 2, [[8, 4]]);
  assert.deepEqual([wide.rowStart, wide.rowEnd, wide.numFeatures], [1, 3, 4 + 2 * 3]);
});
