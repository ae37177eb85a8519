import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RgbImage } from '../../io/media/image-types.ts';
import { OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, normalizationTable, patchifyFrames, type PatchOptions } from './processor-patches.ts';

const DEFAULTS: PatchOptions = {
  patchSize: 14, mergeSize: 2, temporalPatchSize: 2, rescaleFactor: 1 / 255, imageMean: OPENAI_CLIP_MEAN, imageStd: OPENAI_CLIP_STD,
};

function frame(w: number, h: number, seed: number): RgbImage {
  const data = new Uint8Array(w * h * 3);
  let x = seed >>> 0;
  for (let i = 0; i < data.length; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    data[i] = x >>> 24;
  }
  return { width: w, height: h, data };
}

/**
 * The layout spelled out from the output side, as transformers' reshape/transpose defines it:
 * patches [gt, gh/m, gw/m, m, m] × features [3, tp, p, p]; value = normalised frame pixel.
 * Normalisation is computed directly (float64 rescale rounded to float32, then float32 ops).
 */
function specValue(frames: readonly RgbImage[], o: PatchOptions, row: number, col: number): number {
  const { patchSize: p, mergeSize: m, temporalPatchSize: tp } = o;
  const W = frames[0]!.width;
  const gw = W / p;
  const gh = frames[0]!.height / p;
  const px = col % p;
  const py = Math.floor(col / p) % p;
  const k = Math.floor(col / (p * p)) % tp;
  const c = Math.floor(col / (p * p * tp));
  const mw = row % m;
  const mh = Math.floor(row / m) % m;
  const bw = Math.floor(row / (m * m)) % (gw / m);
  const bh = Math.floor(row / (m * m * (gw / m))) % (gh / m);
  const t = Math.floor(row / (m * m * (gw / m) * (gh / m)));
  const fi = Math.min(t * tp + k, frames.length - 1); // temporal padding repeats the last frame
  const y = (bh * m + mh) * p + py;
  const x = (bw * m + mw) * p + px;
  const v = frames[fi]!.data[(y * W + x) * 3 + c]!;
  const scaled = Math.fround(v * o.rescaleFactor);
  return Math.fround(Math.fround(scaled - Math.fround(o.imageMean[c]!)) / Math.fround(o.imageStd[c]!));
}

function checkAgainstSpec(frames: readonly RgbImage[], o: PatchOptions, label: string): void {
  const { pixelValues, grid } = patchifyFrames(frames, o);
  const dim = 3 * o.temporalPatchSize * o.patchSize * o.patchSize;
  const tPadded = Math.ceil(frames.length / o.temporalPatchSize);
  assert.deepEqual(grid, [tPadded, frames[0]!.height / o.patchSize, frames[0]!.width / o.patchSize], `${label}: grid`);
  const rows = grid[0] * grid[1] * grid[2];
  assert.equal(pixelValues.length, rows * dim, `${label}: length`);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < dim; c++) {
      const want = specValue(frames, o, r, c);
      if (pixelValues[r * dim + c] !== want) assert.fail(`${label}: pixel_values[${r}, ${c}] = ${pixelValues[r * dim + c]}, expected ${want}`);
    }
  }
}

test('patch layout and values follow the reference reshape/transpose for images and videos', () => {
  checkAgainstSpec([frame(56, 84, 1)], DEFAULTS, 'single image (frame used twice)');
  checkAgainstSpec([frame(112, 56, 2), frame(112, 56, 3), frame(112, 56, 4)], DEFAULTS, '3 frames, last repeated');
  checkAgainstSpec([frame(56, 56, 5), frame(56, 56, 6), frame(56, 56, 7), frame(56, 56, 8)], DEFAULTS, '4 distinct frames');
  const f = frame(24, 16, 9);
  checkAgainstSpec([f, f], { ...DEFAULTS, patchSize: 4, mergeSize: 2 }, 'same frame object passed twice');
  checkAgainstSpec([frame(24, 16, 10)], { ...DEFAULTS, patchSize: 4, mergeSize: 2, temporalPatchSize: 1 }, 'temporal patch 1');
  checkAgainstSpec([frame(18, 18, 11), frame(18, 18, 12)], { ...DEFAULTS, patchSize: 3, mergeSize: 3, temporalPatchSize: 3 }, 'temporal patch 3, merge 3');
});

test('the normalisation table matches hand-computed float32 values at both ends', () => {
  const lut = normalizationTable(DEFAULTS);
  // Hand-checked anchors: level 0 → −mean/std; level 255 → (1 − mean)/std, each in float32.
  assert.equal(lut[0], Math.fround(Math.fround(-Math.fround(0.48145466)) / Math.fround(0.26862954)));
  assert.equal(lut[512 + 255], Math.fround(Math.fround(1 - Math.fround(0.40821073)) / Math.fround(0.27577711)));
  assert.ok(Math.abs(lut[0]! - -1.7922625) < 1e-6);
  assert.ok(Math.abs(lut[255]! - 1.9303361) < 1e-6);
});

test('frames of different sizes or not multiples of patch × merge are rejected', () => {
  assert.throws(() => patchifyFrames([frame(56, 50, 1)], DEFAULTS), /\[processor\] resized frame 56×50 is not a multiple of 28/);
  assert.throws(() => patchifyFrames([frame(56, 56, 1), frame(84, 56, 2)], DEFAULTS), /\[processor\] frame 1 is 84×56, expected 56×56/);
  assert.throws(() => patchifyFrames([], DEFAULTS), /\[processor\] no frames to patchify/);
});
