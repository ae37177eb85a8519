import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closestName, editDistance } from './text.ts';

test('editDistance counts inserts, deletes and substitutions (hand-computed)', () => {
  assert.equal(editDistance('kitten', 'sitting'), 3); // k→s, e→i, +g
  assert.equal(editDistance('', 'abc'), 3);
  assert.equal(editDistance('abc', ''), 3);
  assert.equal(editDistance('abc', 'abc'), 0);
  assert.equal(editDistance('flaw', 'lawn'), 2); // -f, +n
  assert.equal(editDistance('ab', 'ba'), 2); // no transpositions
  assert.equal(editDistance('model.layers.3.mlp.up_proj.weight', 'model.layers.3.mlp.up_prj.weight'), 1);
  assert.equal(editDistance('Abc', 'abc'), 1); // case-sensitive
});

test('closestName: case-insensitive, first on a tie, none beyond a third of the length', () => {
  assert.equal(closestName('mscoco_t2', ['MSCOCO_i2t', 'MSCOCO_t2i']), 'MSCOCO_t2i'); // 1 vs 3 edits
  assert.equal(closestName('ab', ['ax', 'ay']), 'ax');
  // 'abcdefghi' (9 letters): limit 3 edits.
  assert.equal(closestName('abcdefghi', ['abcdefxyz']), 'abcdefxyz');
  assert.equal(closestName('abcdefghi', ['abcdewxyz']), undefined);
  // Short names still allow 2 edits.
  assert.equal(closestName('x', ['abc']), undefined);
  assert.equal(closestName('x', ['ab']), 'ab');
  assert.equal(closestName('anything', []), undefined);
});
