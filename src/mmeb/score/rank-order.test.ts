import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rankKey, rankLength, rankOrder, rankOrderInto } from './rank-order.ts';
import { rankLocal } from './rank.ts';

/** Brute force of the spec rule: descending value, -0 equal to +0, NaN last, ties by index. */
function bruteForce(s: Float32Array): number[] {
  const val = (i: number) => (Number.isNaN(s[i]) ? -Infinity : (s[i] as number));
  const nan = (i: number) => (Number.isNaN(s[i]) ? 1 : 0);
  return Array.from(s, (_, i) => i).sort((a, b) => nan(a) - nan(b) || val(b) - val(a) || a - b);
}

function randomScores(n: number, seed: number): Float32Array {
  let x = seed >>> 0;
  const rnd = () => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  // Few distinct values (many exact ties) mixed with continuous ones, both signs.
  const s = Float32Array.from({ length: n }, () => (rnd() < 0.3 ? Math.floor(rnd() * 8) / 4 - 1 : rnd() * 4 - 2));
  const special = [NaN, -0, 0, Infinity, -Infinity, NaN, 1e-40, -1e-40, 3.4e38, -3.4e38];
  special.forEach((v, i) => (s[(i * 97 + 13) % n] = v));
  return s;
}

test('rank keys: order of floats reversed, -0 equals +0, NaN after -Infinity', () => {
  assert.ok(rankKey(1) < rankKey(0.5));
  assert.ok(rankKey(-0.5) < rankKey(-1));
  assert.equal(rankKey(-0), rankKey(0));
  assert.ok(rankKey(Infinity) < rankKey(3.4e38));
  assert.ok(rankKey(-Infinity) < rankKey(NaN));
  assert.ok(rankKey(1e-45) < rankKey(0) && rankKey(0) < rankKey(-1e-45));
});

test('radix, heap and small-row paths all equal the brute-force order (ties, NaN, ±0, ±Infinity)', () => {
  for (const n of [5, 100, 512, 513, 3001, 20000]) {
    const s = randomScores(n, n);
    const want = bruteForce(s);
    for (const k of [n, 1, 10, Math.ceil(n / 3)]) {
      assert.deepEqual(Array.from(rankOrder(s, 0, n, k)), want.slice(0, k), `n=${n} topK=${k}`);
    }
  }
});

test('rows at an offset inside a shared buffer (as the scoring blocks pass them)', () => {
  const a = randomScores(1500, 3), b = randomScores(1500, 4);
  const both = new Float32Array(3000);
  both.set(a, 0);
  both.set(b, 1500);
  assert.deepEqual(Array.from(rankOrder(both, 1500, 1500)), bruteForce(b));
  assert.deepEqual(Array.from(rankOrder(both.subarray(1500), 0, 1500, 10)), bruteForce(b).slice(0, 10));
  assert.deepEqual(Array.from(rankOrder(both, 0, 1500, 10)), bruteForce(a).slice(0, 10));
});

test('hand-checked orders on each path', () => {
  // 600 equal scores except two: 599 first, then 7, then the rest in index order (radix path).
  const s = new Float32Array(600).fill(0.25);
  s[599] = 0.75;
  s[7] = 0.5;
  const full = Array.from(rankOrder(s, 0, 600));
  assert.deepEqual(full.slice(0, 4), [599, 7, 0, 1]);
  assert.equal(full[599], 598);
  assert.deepEqual(Array.from(rankOrder(s, 0, 600, 3)), [599, 7, 0]); // heap path
  assert.deepEqual(Array.from(rankOrder(s, 0, 600, 0)), []);
  // All equal (every radix pass skipped): identity order; -0 and +0 mixed still tie.
  const flat = Float32Array.from({ length: 1000 }, (_, i) => (i % 2 ? -0 : 0));
  assert.deepEqual(Array.from(rankOrder(flat, 0, 1000)), Array.from({ length: 1000 }, (_, i) => i));
});

test('local ranking of a long list with duplicate keys keeps each occurrence, ties by list position', () => {
  const vectors = new Map([['a', new Float32Array([1, 0])], ['b', new Float32Array([0, 1])], ['c', new Float32Array([0.5, 0.5])]]);
  const list = Array.from({ length: 900 }, (_, i) => ['a', 'b', 'c'][i % 3] as string);
  const [got] = rankLocal([new Float32Array([0.2, 1])], [list], vectors);
  // scores: b = 1 > c = 0.6 > a = 0.2, each block of 300 occurrences.
  assert.deepEqual(got, [...Array(300).fill('b'), ...Array(300).fill('c'), ...Array(300).fill('a')]);
  const [top] = rankLocal([new Float32Array([0.2, 1])], [list], vectors, { topK: 2 });
  assert.deepEqual(top, ['b', 'b']);
});

test('every subset of radix passes (keys differing in the low, middle or top digit only) and cut lists equal the brute-force order', () => {
  const n = 2000;
  let x = 7;
  const rnd = () => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const families: Record<string, () => number> = {
    // 1 + j·2⁻²³: only the low 11 key bits differ (one pass, first and last).
    low: () => 1 + Math.floor(rnd() * 2048) * 2 ** -23,
    // Only bits 11..21 differ (the middle pass alone).
    middle: () => 1 + Math.floor(rnd() * 2048) * 2 ** -12,
    // Positive powers of two: only the exponent (top digit) differs.
    top: () => 2 ** (Math.floor(rnd() * 40) - 20),
    // Both signs: every digit differs.
    signs: () => (rnd() - 0.5) * 10,
    allNegative: () => -rnd() * 3 - 1e-3,
    ties: () => Math.floor(rnd() * 5) - 2,
    zeros: () => (rnd() < 0.5 ? -0 : 0) + (rnd() < 0.1 ? 1 : 0),
  };
  for (const [name, gen] of Object.entries(families)) {
    const s = Float32Array.from({ length: n }, gen);
    if (name === 'signs') [3, 500, 1999].forEach((i) => (s[i] = NaN));
    const want = bruteForce(s);
    for (const k of [n, n - 1, 1000, 200]) {
      assert.deepEqual(Array.from(rankOrder(s, 0, n, k)), want.slice(0, k), `${name} topK=${k}`);
    }
  }
});

test('rankOrderInto writes exactly its slot of a shared output (offsets, room limiting the list)', () => {
  const s = randomScores(3001, 11);
  const want = bruteForce(s);
  const out = new Int32Array(3001 + 20).fill(-7);
  rankOrderInto(s, 0, 3001, out, 10, 3001);
  assert.deepEqual(Array.from(out.subarray(0, 10)), Array(10).fill(-7));
  assert.deepEqual(Array.from(out.subarray(10, 3011)), want);
  assert.deepEqual(Array.from(out.subarray(3011)), Array(10).fill(-7));
  const short = new Int32Array(5);
  rankOrderInto(s, 0, 3001, short, 0); // room for 5: the top 5
  assert.deepEqual(Array.from(short), want.slice(0, 5));
  assert.equal(rankLength(3001, 10), 10);
  assert.equal(rankLength(3001, 5000), 3001);
});

test('random rows of random lengths and mixes equal Array.prototype.sort with the spec comparator', () => {
  let x = 12345;
  const rnd = () => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const specials = [NaN, -0, 0, Infinity, -Infinity, 1e-45, -1e-45, 3.4e38];
  for (let row = 0; row < 24; row++) {
    const n = 513 + Math.floor(rnd() * 6000);
    const tieShare = rnd(); // from almost no ties to mostly ties
    const scale = 10 ** (Math.floor(rnd() * 9) - 4); // scores from 1e-4 to 1e4 in magnitude
    const s = Float32Array.from({ length: n }, () => {
      const u = rnd();
      if (u < 0.01) return specials[Math.floor(rnd() * specials.length)] as number;
      if (u < tieShare) return (Math.floor(rnd() * 6) - 3) * scale;
      return (rnd() - 0.3) * scale;
    });
    const want = bruteForce(s);
    assert.deepEqual(Array.from(rankOrder(s, 0, n)), want, `row ${row} (n=${n})`);
    const k = 1 + Math.floor(rnd() * n);
    assert.deepEqual(Array.from(rankOrder(s, 0, n, k)), want.slice(0, k), `row ${row} topK=${k}`);
  }
});
