// NFC exactly as the Rust `tokenizers` library computes it.
//
// Why: tokenizer.json files (Qwen2 included) normalize with `{"type": "NFC"}`. The Rust library
// (what transformers runs) uses the `unicode-normalization-alignments` crate, whose tables are
// Unicode 9.0; JavaScript's `String.prototype.normalize` uses ICU (Unicode 17 in Node 20.20). For
// characters added after 9.0, ICU knows combining classes and compositions that Rust does not, so
// e.g. U+0659 (ccc 230) followed by U+11F42 KAWI CONJOINER (Unicode 15, ccc 9) is reordered by
// ICU but left alone by Rust, and the token ids differ (found by fuzzing against the reference).
//
// Rust treats every code point its data does not know as an inert starter (combining class 0, no
// decomposition, no composition). Inert starters are normalization boundaries: nothing reorders
// across them or composes through them. So cutting the text at every code point that is inert *for
// Rust* and NFC-normalizing the pieces with ICU reproduces Rust exactly: inside a piece, all code
// points are ones Rust knows, whose normalization properties Unicode's stability policy freezes,
// so ICU and Rust agree on them. The set of code points Rust does not treat as inert is generated
// by tools/reference/io_tokenizer.py by probing the Rust normalizer (tokenizer-nfc-data.ts).

import { RUST_NFC_ACTIVE_RANGES } from './tokenizer-nfc-data.ts';

// One bit per code point (0x110000 bits = 136 KB), built once: O(1) membership in the hot loop.
const ACTIVE = (() => {
  const bits = new Uint8Array(0x110000 >> 3);
  for (let i = 0; i < RUST_NFC_ACTIVE_RANGES.length; i += 2) {
    const a = RUST_NFC_ACTIVE_RANGES[i] as number;
    const b = RUST_NFC_ACTIVE_RANGES[i + 1] as number;
    for (let cp = a; cp <= b; cp++) bits[cp >> 3]! |= 1 << (cp & 7);
  }
  return bits;
})();

/** Whether Rust's NFC treats `cp` as anything but an inert starter. */
export function isRustNfcActive(cp: number): boolean {
  return ((ACTIVE[cp >> 3] as number) >> (cp & 7)) & 1 ? true : false;
}

// Text without any code point ≥ U+0300 is unchanged by NFC in any Unicode version except for the
// handful of Latin-1 compositions, which both agree on; fast path for the common (ASCII) case.
const ASCII_ONLY = /^[\x00-\x7f]*$/;

/**
 * NFC with the Rust `tokenizers` crate's Unicode 9.0 semantics.
 *
 * @example
 * nfcLikeRustTokenizers('e\u0301');           // 'é' (same as String.normalize)
 * nfcLikeRustTokenizers('\u0659\u{11F42}');  // unchanged (ICU would reorder the two marks)
 */
export function nfcLikeRustTokenizers(text: string): string {
  if (ASCII_ONLY.test(text)) return text;
  let out = '';
  let start = 0; // start of the current run of Rust-active code points
  let i = 0;
  while (i < text.length) {
    const cp = text.codePointAt(i) as number;
    const width = cp > 0xffff ? 2 : 1;
    if (!isRustNfcActive(cp)) {
      if (start < i) out += text.slice(start, i).normalize('NFC');
      out += text.slice(i, i + width); // inert for Rust: kept verbatim, a boundary
      start = i + width;
    }
    i += width;
  }
  if (start < text.length) out += text.slice(start).normalize('NFC');
  return out;
}
