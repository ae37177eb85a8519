import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resampleBicubicU8, resizeBicubic } from './pillow-resample.ts';

const dir = new URL('../../test/fixtures/io/images/', import.meta.url);
const cases = JSON.parse(readFileSync(new URL('resample.json', dir), 'utf8')) as { in: [number, number]; out: [number, number]; seed: number; offset: number }[];
const blob = new Uint8Array(readFileSync(new URL('resample.bin', dir)));

/** Same LCG as tools/reference/io_images.py (lcg_bytes). */
function lcgBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = BigInt(seed);
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245n + 12345n) & 0x7fffffffn;
    out[i] = Number((x >> 16n) & 0xffn);
  }
  return out;
}

test('BICUBIC resize is byte-identical to Pillow 12.3 on noise images of many sizes', () => {
  assert.ok(cases.length >= 20);
  for (const c of cases) {
    const [w, h] = c.in;
    const [ow, oh] = c.out;
    const got = resampleBicubicU8(lcgBytes(w * h * 3, c.seed), w, h, 3, ow, oh);
    const want = blob.subarray(c.offset, c.offset + ow * oh * 3);
    let diff = 0;
    for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) diff++;
    assert.equal(got.length, want.length, `${w}x${h}→${ow}x${oh}: length`);
    assert.equal(diff, 0, `${w}x${h}→${ow}x${oh}: ${diff} bytes differ from Pillow`);
  }
});

test('same size is a copy, and bad sizes are rejected with a clear error', () => {
  const data = lcgBytes(4 * 3 * 3, 9);
  const out = resizeBicubic({ width: 4, height: 3, data }, 4, 3);
  assert.deepEqual(out.data, data);
  assert.notEqual(out.data, data);
  assert.throws(() => resampleBicubicU8(data, 4, 3, 3, 0, 2), /\[resize\] output width must be a positive integer, got 0/);
  assert.throws(() => resampleBicubicU8(data, 5, 3, 3, 2, 2), /\[resize\] pixel buffer has 36 bytes, expected 5×3×3 = 45/);
});
