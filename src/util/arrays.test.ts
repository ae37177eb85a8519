import { test } from 'node:test';
import assert from 'node:assert/strict';
import { concatFloat32 } from './arrays.ts';

test('concatFloat32 keeps order and values, and copies', () => {
  const a = new Float32Array([1, 2.5]);
  const b = new Float32Array([]);
  const c = new Float32Array([-3]);
  assert.deepEqual([...concatFloat32([a, b, c])], [1, 2.5, -3]);
  assert.equal(concatFloat32([]).length, 0);
  const one = concatFloat32([a]);
  assert.deepEqual([...one], [1, 2.5]);
  one[0] = 9;
  assert.equal(a[0], 1); // a copy, not the input
});
