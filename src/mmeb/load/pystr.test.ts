import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pyReplace, pyRstrip, pyStrip, pyStripChars } from './pystr.ts';

test('Python str.strip / rstrip / strip(chars) / replace semantics', () => {
  // Python strips U+001C..U+001F and U+0085 but not U+FEFF; JS trim() does the opposite
  assert.equal(pyStrip('\u001c\u0085 a b \n\u00a0'), 'a b');
  assert.equal(pyStrip('\ufeffa'), '\ufeffa');
  assert.equal(pyRstrip(' a \t\n'), ' a');
  assert.equal(pyStripChars('"the left dog"', '"'), 'the left dog');
  assert.equal(pyStripChars('. . x .', '. '), 'x');
  assert.equal(pyReplace('a \n \n', ' \n', '\n'), 'a\n\n');
});
