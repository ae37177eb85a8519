import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resampleBicubicU8, resizeBicubic } from './pillow-resample.ts';
import { RESAMPLE_BLOB, RESAMPLE_CASES, lcgBytes } from './pillow-resample.test-helper.ts';

const cases = RESAMPLE_CASES;
const blob = RESAMPLE_BLOB;

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
