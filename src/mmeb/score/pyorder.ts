// Emulations of two CPython/numpy behaviours the reference metrics depend on:
//
// 1. `list(set(labels))` iteration order (docs/mmeb.md §7, graded-nDCG quirk). CPython 3.x sets are open-address
//    tables: slot = hash & mask, up to LINEAR_PROBES=9 neighbouring slots, then the perturbed
//    probe i = (5i + 1 + (perturb >>= 5)) & mask; the table starts with 8 slots and, once
//    fill*5 >= mask*3, is rebuilt at the smallest power of two > used*4 (used*2 above 50,000),
//    re-inserting entries in old-table order. Iteration walks the table slots in order.
//    Integer keys: hash(i) = i mod 2^61-1, sign kept, hash(-1) = -2 — deterministic, so the
//    reference order is reproduced exactly. str keys: CPython randomises str hashes per process
//    (PYTHONHASHSEED), so the reference's order for str ids was not reproducible; we emulate
//    PYTHONHASHSEED=0 with CPython ≥ 3.11's SipHash-1-3 (option: 3.4–3.10's SipHash-2-4) and flag it.
//    Verified against CPython 3.11 (and 3.7–3.13 for ints) by tools/reference/mmeb_set_order.py
//    → test/fixtures/mmeb/set-order.json.
//
// 2. `np.mean` of a float64 vector: numpy's pairwise summation (8-way unrolled blocks of ≤128,
//    halves split at multiples of 8), then one division — bit-identical score files need it.

import { Vlm2VecError } from '../../errors.ts';

const LINEAR_PROBES = 9;
const PERTURB_SHIFT = 5n;
const MODULUS = (1n << 61n) - 1n; // _PyHASH_MODULUS on 64-bit builds
const U64 = (1n << 64n) - 1n;

/** A canonical decimal integer string ("0", "12", "-7"), i.e. what `str(int)` prints. */
export function isIntegerKey(s: string): boolean {
  return /^-?(0|[1-9][0-9]*)$/.test(s);
}

/** CPython `hash(int)` on a 64-bit build, as an unsigned 64-bit value (the C `size_t` cast). */
export function pyIntHash(value: bigint): bigint {
  const neg = value < 0n;
  let h = (neg ? -value : value) % MODULUS;
  if (neg) h = -h;
  if (h === -1n) h = -2n;
  return h & U64;
}

/**
 * Order of `list(set(keys))` in CPython 3.7+ when every key is an integer.
 *
 * @example
 * cpythonSetOrder([12n, 15n, 40n]); // [40n, 12n, 15n]  (slots 4, 7, 0 of an 8-slot table)
 */
export function cpythonSetOrder(keys: readonly bigint[]): bigint[] {
  return setOrderByHash(keys.map((k) => ({ key: k, hash: pyIntHash(k) })));
}

/** Iteration order of a CPython set built by adding `items` in order (keys compared with ===). */
export function setOrderByHash<K>(items: readonly { key: K; hash: bigint }[]): K[] {
  let mask = 7;
  let table: ({ key: K; hash: bigint } | undefined)[] = new Array(8).fill(undefined);
  let fill = 0;
  for (const item of items) {
    if (lookup(table, mask, item)) continue;
    insertClean(table, mask, item);
    fill++;
    if (fill * 5 >= mask * 3) {
      // No deletions ever happen here, so used == fill.
      const minused = fill > 50000 ? fill * 2 : fill * 4;
      let size = 8;
      while (size <= minused) size *= 2;
      const old = table;
      mask = size - 1;
      table = new Array(size).fill(undefined);
      for (const e of old) if (e !== undefined) insertClean(table, mask, e);
    }
  }
  return table.filter((e) => e !== undefined).map((e) => (e as { key: K }).key);
}

function probeSequence(mask: number, hash: bigint, visit: (slot: number) => boolean): void {
  let i = Number(hash & BigInt(mask));
  let perturb = hash;
  for (;;) {
    const probes = i + LINEAR_PROBES <= mask ? LINEAR_PROBES : 0;
    for (let j = 0; j <= probes; j++) if (visit(i + j)) return;
    perturb >>= PERTURB_SHIFT;
    i = Number((BigInt(i) * 5n + 1n + perturb) & BigInt(mask));
  }
}

function lookup<K>(table: ({ key: K; hash: bigint } | undefined)[], mask: number, item: { key: K; hash: bigint }): boolean {
  let found = false;
  probeSequence(mask, item.hash, (slot) => {
    const e = table[slot];
    if (e === undefined) return true;
    if (e.hash === item.hash && e.key === item.key) { found = true; return true; }
    return false;
  });
  return found;
}

function insertClean<K>(table: ({ key: K; hash: bigint } | undefined)[], mask: number, item: { key: K; hash: bigint }): void {
  probeSequence(mask, item.hash, (slot) => {
    if (table[slot] !== undefined) return false;
    table[slot] = item;
    return true;
  });
}

// ---- str hashes: SipHash-1-3 (CPython ≥ 3.11) with the all-zero key of PYTHONHASHSEED=0 ----

const M64 = (1n << 64n) - 1n;
const rotl = (x: bigint, b: bigint) => ((x << b) | (x >> (64n - b))) & M64;

function sipRound(v: [bigint, bigint, bigint, bigint]): void {
  let [v0, v1, v2, v3] = v;
  v0 = (v0 + v1) & M64; v2 = (v2 + v3) & M64;
  v1 = rotl(v1, 13n) ^ v0; v3 = rotl(v3, 16n) ^ v2;
  v0 = rotl(v0, 32n);
  v2 = (v2 + v1) & M64; v0 = (v0 + v3) & M64;
  v1 = rotl(v1, 17n) ^ v2; v3 = rotl(v3, 21n) ^ v0;
  v2 = rotl(v2, 32n);
  v[0] = v0; v[1] = v1; v[2] = v2; v[3] = v3;
}

/** CPython's str hash function: SipHash-1-3 from 3.11 on, SipHash-2-4 in 3.4–3.10. */
export type StrHashAlgorithm = 'siphash13' | 'siphash24';

/** SipHash-1-3 of `bytes` with key (k0, k1), as CPython's `siphash13`. */
export function siphash13(bytes: Uint8Array, k0 = 0n, k1 = 0n): bigint {
  return siphash(bytes, 1, 3, k0, k1);
}

/** SipHash-c-d of `bytes` with key (k0, k1) (c compression rounds, d finalization rounds). */
export function siphash(bytes: Uint8Array, c: number, d: number, k0 = 0n, k1 = 0n): bigint {
  const v: [bigint, bigint, bigint, bigint] = [
    k0 ^ 0x736f6d6570736575n, k1 ^ 0x646f72616e646f6dn, k0 ^ 0x6c7967656e657261n, k1 ^ 0x7465646279746573n,
  ];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = 0;
  for (; off + 8 <= bytes.length; off += 8) {
    const m = view.getBigUint64(off, true);
    v[3] ^= m;
    for (let r = 0; r < c; r++) sipRound(v);
    v[0] ^= m;
  }
  let b = (BigInt(bytes.length) << 56n) & M64;
  for (let i = 0; off + i < bytes.length; i++) b |= BigInt(bytes[off + i] as number) << BigInt(8 * i);
  v[3] ^= b;
  for (let r = 0; r < c; r++) sipRound(v);
  v[0] ^= b;
  v[2] ^= 0xffn;
  for (let r = 0; r < d; r++) sipRound(v);
  return (v[0] ^ v[1]) ^ (v[2] ^ v[3]);
}

/** The bytes CPython hashes for a str: its compact representation (1, 2 or 4 bytes per code point, little-endian). */
export function pyStrBytes(s: string): Uint8Array {
  const cps = Array.from(s, (c) => c.codePointAt(0) as number);
  const max = cps.reduce((a, b) => Math.max(a, b), 0);
  const kind = max < 0x100 ? 1 : max < 0x10000 ? 2 : 4;
  const out = new Uint8Array(cps.length * kind);
  cps.forEach((cp, i) => {
    for (let j = 0; j < kind; j++) out[i * kind + j] = (cp >>> (8 * j)) & 0xff;
  });
  return out;
}

/** `hash(s)` of CPython run with PYTHONHASHSEED=0 (≥ 3.11 by default), as an unsigned 64-bit value. */
export function pyStrHashSeed0(s: string, algorithm: StrHashAlgorithm = 'siphash13'): bigint {
  if (s.length === 0) return 0n;
  const h = algorithm === 'siphash13' ? siphash13(pyStrBytes(s)) : siphash(pyStrBytes(s), 2, 4);
  return h === M64 ? M64 - 1n : h; // hash -1 is reserved for errors and becomes -2
}

/** How `dedupLabels` ordered a label list. */
export type LabelOrder = 'cpython-int' | 'cpython-str-seed0';

/**
 * Deduplicate labels the way the reference does (`list(set(label))`). `kind` is the Python type
 * the ids had (the dataset column's type, see `QueryRow.labelKind`): `int` uses CPython's int
 * hashes (ViDoRe corpus ids; deterministic, so the reference order is reproduced exactly),
 * `str` the string hash of PYTHONHASHSEED=0 (the reference ran with a random seed, so its order
 * for str ids was not reproducible; seed 0 is a deterministic stand-in, flagged by `order`).
 * An all-digit *string* id such as "12" is a str: it is not ordered like the int 12. When the
 * kind is unknown it is guessed from the text: every key a canonical integer → int.
 *
 * @example
 * dedupLabels(['12', '15', '40', '12'], 'siphash13', 'int'); // { labels: ['40', '12', '15'], order: 'cpython-int' }
 * dedupLabels(['12', '15', '40'], 'siphash13', 'str').labels; // ['15', '12', '40'] (PYTHONHASHSEED=0)
 */
export function dedupLabels(
  labels: readonly string[], strHash: StrHashAlgorithm = 'siphash13', kind?: 'int' | 'str',
): { labels: string[]; order: LabelOrder } {
  const unique = [...new Set(labels)];
  const ints = kind === undefined ? unique.every(isIntegerKey) : kind === 'int';
  if (ints) {
    const bad = unique.find((s) => !isIntegerKey(s));
    if (bad !== undefined) throw new Vlm2VecError('metrics', `label '${bad}' is not an integer, but the ids were declared int`);
  }
  if (unique.length <= 1) return { labels: unique, order: ints ? 'cpython-int' : 'cpython-str-seed0' };
  if (ints) return { labels: setOrderByHash(labels.map((s) => ({ key: s, hash: pyIntHash(BigInt(s)) }))), order: 'cpython-int' };
  return { labels: setOrderByHash(labels.map((s) => ({ key: s, hash: pyStrHashSeed0(s, strHash) }))), order: 'cpython-str-seed0' };
}

/** numpy's pairwise float64 sum (`pairwise_sum_DOUBLE`) of a[off, off+n). */
export function pairwiseSum(a: ArrayLike<number>, off = 0, n = a.length): number {
  if (n < 8) {
    let r = 0;
    for (let i = 0; i < n; i++) r += a[off + i] as number;
    return r;
  }
  if (n <= 128) {
    const r = [0, 0, 0, 0, 0, 0, 0, 0];
    for (let j = 0; j < 8; j++) r[j] = a[off + j] as number;
    let i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (let j = 0; j < 8; j++) r[j] = (r[j] as number) + (a[off + i + j] as number);
    }
    const [r0, r1, r2, r3, r4, r5, r6, r7] = r as [number, number, number, number, number, number, number, number];
    let res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7));
    for (; i < n; i++) res += a[off + i] as number;
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return pairwiseSum(a, off, n2) + pairwiseSum(a, off + n2, n - n2);
}

/** `float(np.mean(values))` bit for bit; 0 for an empty list (as the reference's `if values else 0.0`). */
export function npMean(values: ArrayLike<number>): number {
  return values.length === 0 ? 0 : pairwiseSum(values) / values.length;
}
