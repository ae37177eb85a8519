// Python string semantics the reference parsers rely on. `str.strip()` strips what `isspace()`
// accepts, which differs from JS `trim()` (JS also strips U+FEFF; Python also strips U+001C–U+001F
// and U+0085), so prompts stay byte-identical on unusual whitespace.

const PY_SPACE = new Set([
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680,
  0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a,
  0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
]);

/** Python `s.strip()` (no argument). @example pyStrip(' \u0085a\n') // 'a' */
export function pyStrip(s: string): string {
  const cps = [...s];
  let a = 0;
  let b = cps.length;
  while (a < b && PY_SPACE.has(cps[a]!.codePointAt(0)!)) a++;
  while (b > a && PY_SPACE.has(cps[b - 1]!.codePointAt(0)!)) b--;
  return cps.slice(a, b).join('');
}

/** Python `s.strip(chars)`. @example pyStripChars('. Paris.', '. ') // 'Paris' */
export function pyStripChars(s: string, chars: string): string {
  const set = new Set([...chars]);
  const cps = [...s];
  let a = 0;
  let b = cps.length;
  while (a < b && set.has(cps[a]!)) a++;
  while (b > a && set.has(cps[b - 1]!)) b--;
  return cps.slice(a, b).join('');
}

/** Python `s.replace(old, new)` (all occurrences, non-overlapping, left to right). */
export function pyReplace(s: string, from: string, to: string): string {
  return s.split(from).join(to);
}

/** Python `s.rstrip()` (no argument). */
export function pyRstrip(s: string): string {
  const cps = [...s];
  let b = cps.length;
  while (b > 0 && PY_SPACE.has(cps[b - 1]!.codePointAt(0)!)) b--;
  return cps.slice(0, b).join('');
}
