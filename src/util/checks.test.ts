import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkPositiveInt } from './checks.ts';
import { Vlm2VecError } from '../errors.ts';

test('checkPositiveInt passes integers ≥ 1 and names the area, option and value otherwise', () => {
  assert.equal(checkPositiveInt('embed', 'batchSize', 1), 1);
  assert.equal(checkPositiveInt('embed', 'batchSize', 64), 64);
  for (const [bad, shown] of [[0, '0'], [-3, '-3'], [2.5, '2.5'], [NaN, 'NaN'], [Infinity, 'Infinity']] as const) {
    assert.throws(() => checkPositiveInt('resize', 'output width', bad),
      (e: Error) => e instanceof Vlm2VecError && e.message === `[resize] output width must be a positive integer, got ${shown}`);
  }
});
