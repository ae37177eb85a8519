// Forward passes of a length-sorted batch: bounded by rows and by padded tokens.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { passes } from './passes.ts';

test('passes split by rows, by padded tokens (rows × longest row), and a too-long row goes alone', () => {
  assert.deepEqual(passes([1, 1, 1, 1, 1], 2, 100), [[0, 1], [2, 3], [4]]);
  // 3 rows × 5 = 15 > 12; 2 rows × 9 = 18 > 12.
  assert.deepEqual(passes([2, 3, 5, 9], 8, 12), [[0, 1], [2], [3]]);
  assert.deepEqual(passes([4, 4, 4], 8, 12), [[0, 1, 2]]);
  assert.deepEqual(passes([50], 8, 12), [[0]]);
  assert.deepEqual(passes([], 8, 12), []);
});
