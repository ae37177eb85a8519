import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isRustNfcActive, nfcLikeRustTokenizers } from './tokenizer-nfc.ts';

test('Rust-exact NFC: ordinary compositions and reorderings happen as usual', () => {
  assert.equal(nfcLikeRustTokenizers('e\u0301'), '\u00e9');
  assert.equal(nfcLikeRustTokenizers('<\u0338'), '\u226e'); // ≮: '<' is a composition starter
  assert.equal(nfcLikeRustTokenizers('\u1100\u1161\u11a8'), '\uac01'); // Hangul L+V+T → 각
  // a + ypogegrammeni (ccc 240) + acute (ccc 230): reorder, then a+acute composes.
  assert.equal(nfcLikeRustTokenizers('a\u0345\u0301'), '\u00e1\u0345');
  assert.equal(nfcLikeRustTokenizers('plain ascii <|im_end|>'), 'plain ascii <|im_end|>');
  assert.equal(nfcLikeRustTokenizers('\u212b'), '\u00c5'); // Angstrom sign decomposes to Å
});

test('code points newer than Unicode 9.0 are inert, as in the Rust crate', () => {
  // U+11F42 KAWI CONJOINER (Unicode 15, ccc 9) after U+0659 (ccc 230): Rust leaves the order.
  assert.equal(nfcLikeRustTokenizers('\ufe04\u0659\u{11f42}'), '\ufe04\u0659\u{11f42}');
  // U+1DF6 (Unicode 10, ccc 232) after U+0345 (ccc 240): not reordered either.
  assert.equal(nfcLikeRustTokenizers('a\u0345\u1df6'), 'a\u0345\u1df6');
  // ...but known marks around an inert one still normalize within their own run.
  assert.equal(nfcLikeRustTokenizers('e\u0301\u1df6o\u0308'), '\u00e9\u1df6\u00f6');
  assert.equal(isRustNfcActive(0x41), true); // A composes (À)
  assert.equal(isRustNfcActive(0x301), true);
  assert.equal(isRustNfcActive(0x20ac), false); // €
  assert.equal(isRustNfcActive(0x11f42), false);
  assert.equal(isRustNfcActive(0x1df6), false);
  assert.equal(isRustNfcActive(0xac00), true); // Hangul LV syllable composes with T
});
