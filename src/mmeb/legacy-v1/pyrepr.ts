// Python's `repr()` of a str and of a (str, str) tuple: the reference v1 harness writes each
// prediction of `<subset>_pred.txt` as `f"{item}\n"` with `item` the predicted
// `(tgt_text, tgt_img_path)` tuple, i.e. the tuple's repr. Reproduced here so our file diffs
// byte-for-byte against the reference's (golden cases from CPython in
// test/fixtures/mmeb/v1/expected.json).

/** Non-printable per `str.isprintable`: Unicode categories C* and Z* except the ASCII space. */
const NON_PRINTABLE = /[\p{C}\p{Z}]/u;

/**
 * CPython's `repr(s)` for a str: single quotes unless the text has `'` and no `"`; `\\`, the
 * quote, `\t \n \r` escaped; other non-printable code points as `\xNN`, `\uNNNN` or `\UNNNNNNNN`.
 * Printable non-ASCII stays as is (Python 3). "Printable" follows the Unicode tables of the
 * JavaScript engine, which may lag or lead CPython's for newly assigned code points.
 *
 * @example
 * pyStrRepr("it's");      // `"it's"`
 * pyStrRepr('a\nb');      // `'a\\nb'`
 */
export function pyStrRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === quote || ch === '\\') out += `\\${ch}`;
    else if (ch === '\t') out += '\\t';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${hex(cp, 2)}`;
    else if (cp < 0x7f) out += ch;
    // A lone surrogate is its own "character" in the for-of loop and falls in category Cs.
    else if (NON_PRINTABLE.test(ch)) out += cp < 0x100 ? `\\x${hex(cp, 2)}` : cp < 0x10000 ? `\\u${hex(cp, 4)}` : `\\U${hex(cp, 8)}`;
    else out += ch;
  }
  return out + quote;
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

/**
 * `repr((a, b))` of a 2-tuple of str, as `f"{item}"` writes it.
 *
 * @example
 * pyPairRepr('cat', ''); // "('cat', '')"
 */
export function pyPairRepr(a: string, b: string): string {
  return `(${pyStrRepr(a)}, ${pyStrRepr(b)})`;
}
