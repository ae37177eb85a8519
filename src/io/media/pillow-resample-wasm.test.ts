import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resampleBicubicU8, resampleBicubicU8Reference } from './pillow-resample.ts';
import { resampleSeparableRgbWasm, wasmResampleAvailable } from './pillow-resample-wasm.ts';
import { precomputeCoeffs } from './pillow-resample-coeffs.ts';
import { RESAMPLE_BLOB, RESAMPLE_CASES, lcgBytes } from './pillow-resample.test-helper.ts';
import { rng } from '../../util/random.ts';

const cases = RESAMPLE_CASES;
const blob = RESAMPLE_BLOB;


/** Noise mixed with hard 0/255 blocks: sharp edges make the bicubic lobes overshoot, so clip8 is exercised at both ends. */
function testImage(w: number, h: number, rand: () => number): Uint8Array {
  const d = new Uint8Array(w * h * 3);
  const block = 1 + Math.floor(rand() * 8);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const edge = ((Math.floor(x / block) + Math.floor(y / block)) & 1) === 0;
      for (let c = 0; c < 3; c++) d[(y * w + x) * 3 + c] = rand() < 0.5 ? (edge ? 255 : 0) : Math.floor(rand() * 256);
    }
  }
  return d;
}

function firstDiff(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return -2;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

test('WebAssembly SIMD is available on Node ≥ 20, so the fast path is the one under test', () => {
  assert.equal(wasmResampleAvailable(), true);
});

test('both the SIMD path and the JS reference are byte-identical to Pillow 12.3 on the noise fixtures', () => {
  assert.ok(cases.length >= 20);
  for (const c of cases) {
    const [w, h] = c.in;
    const [ow, oh] = c.out;
    const src = lcgBytes(w * h * 3, c.seed);
    const want = blob.subarray(c.offset, c.offset + ow * oh * 3);
    assert.equal(firstDiff(resampleBicubicU8(src, w, h, 3, ow, oh), want), -1, `SIMD ${w}x${h}→${ow}x${oh}`);
    assert.equal(firstDiff(resampleBicubicU8Reference(src, w, h, 3, ow, oh), want), -1, `reference ${w}x${h}→${ow}x${oh}`);
  }
});

test('SIMD path equals the JS reference on 400 random sizes (down, up, mixed, one-axis, 1-pixel)', () => {
  const rand = rng(20261126);
  const pick = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  let clipped = 0;
  for (let i = 0; i < 400; i++) {
    const w = pick(1, 160);
    const h = pick(1, 160);
    let ow: number;
    let oh: number;
    switch (i % 5) {
      case 0: ow = Math.max(1, Math.floor(w / pick(1, 12))); oh = Math.max(1, Math.floor(h / pick(1, 12))); break; // down
      case 1: ow = w * pick(1, 3) + pick(0, 5); oh = h * pick(1, 3) + pick(0, 5); break; // up
      case 2: ow = pick(1, 200); oh = pick(1, 200); break; // anything
      case 3: ow = w; oh = pick(1, 200); break; // vertical pass only
      default: ow = pick(1, 200); oh = h; // horizontal pass only
    }
    const src = testImage(w, h, rand);
    const want = resampleBicubicU8Reference(src, w, h, 3, ow, oh);
    const got = resampleBicubicU8(src, w, h, 3, ow, oh);
    assert.equal(firstDiff(got, want), -1, `case ${i}: ${w}x${h}→${ow}x${oh}`);
    if (want.includes(0) && want.includes(255)) clipped++;
  }
  assert.ok(clipped > 100, `only ${clipped} cases reached both clip bounds`);
});

test('SIMD path equals the JS reference on large and extreme shapes (strips, tall rule, big factors)', () => {
  const rand = rng(7);
  const shapes: [number, number, number, number][] = [
    [2000, 300, 620, 93], // rows span several 1 MiB input strips of the horizontal pass
    [1500, 700, 1501, 333], // odd row counts across strips, slight upscale in x
    [3, 900, 2, 4], // height > 100 × width: Pillow resizes vertically first
    [1, 500, 1, 7], // single column, tall rule, vertical only
    [640, 1, 17, 1], // single row, horizontal only
    [1, 1, 37, 23], // one pixel blown up
    [997, 13, 5, 61], // factor ~200 down in x, up in y
    [29, 31, 1, 1], // everything into one pixel
  ];
  for (const [w, h, ow, oh] of shapes) {
    const src = testImage(w, h, rand);
    assert.equal(firstDiff(resampleBicubicU8(src, w, h, 3, ow, oh), resampleBicubicU8Reference(src, w, h, 3, ow, oh)), -1, `${w}x${h}→${ow}x${oh}`);
  }
});

test('single-pass SIMD calls match the reference and later small calls are unaffected by reused memory', () => {
  const rand = rng(99);
  const big = testImage(800, 600, rand);
  const v = resampleSeparableRgbWasm(big, 800, 600, 800, 211, precomputeCoeffs(600, 0, 600, 211), null);
  assert.ok(v);
  assert.equal(firstDiff(v, resampleBicubicU8Reference(big, 800, 600, 3, 800, 211)), -1, 'vertical only');
  const hz = resampleSeparableRgbWasm(big, 800, 600, 97, 600, null, precomputeCoeffs(800, 0, 800, 97));
  assert.ok(hz);
  assert.equal(firstDiff(hz, resampleBicubicU8Reference(big, 800, 600, 3, 97, 600)), -1, 'horizontal only');
  const small = testImage(9, 7, rand);
  assert.equal(firstDiff(resampleBicubicU8(small, 9, 7, 3, 5, 4), resampleBicubicU8Reference(small, 9, 7, 3, 5, 4)), -1, 'small after big');
});

test('non-RGB channel counts still resize (JS passes) and inputs are not modified', () => {
  const rand = rng(3);
  const gray = new Uint8Array(50 * 40).map(() => Math.floor(rand() * 256));
  const copy = gray.slice();
  const out = resampleBicubicU8(gray, 50, 40, 1, 21, 17);
  assert.equal(out.length, 21 * 17);
  assert.deepEqual(gray, copy);
  // A gray image resized as L equals each channel of the same image expanded to RGB.
  const rgb = new Uint8Array(50 * 40 * 3);
  for (let i = 0; i < gray.length; i++) rgb.fill(gray[i]!, i * 3, i * 3 + 3);
  const rgbOut = resampleBicubicU8(rgb, 50, 40, 3, 21, 17);
  for (let i = 0; i < out.length; i++) assert.equal(rgbOut[i * 3 + 1], out[i], `pixel ${i}`);
});
