import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { cpythonSetOrder, dedupLabels, npMean, pyIntHash, pyStrHashSeed0, siphash13 } from './pyorder.ts';

interface Fixture {
  python: string;
  set_order: { labels: string[]; order: string[] }[];
  str_set_order: { labels: string[]; order: string[]; hashes: string[] }[];
  np_mean: { values: number[]; mean: number }[];
}
const fixture = JSON.parse(readFileSync(new URL('../../../test/fixtures/mmeb/set-order.json', import.meta.url), 'utf8')) as Fixture;

test('spec example: list(set([12, 15, 40])) == [40, 12, 15]', () => {
  assert.deepEqual(cpythonSetOrder([12n, 15n, 40n]), [40n, 12n, 15n]);
  assert.deepEqual(dedupLabels(['12', '15', '40']), { labels: ['40', '12', '15'], order: 'cpython-int' });
});

test('declared id kind decides the set order (PYTHONHASHSEED=0 python3.11: list(set(["12","15","40"])) == ["15","12","40"])', () => {
  assert.deepEqual(dedupLabels(['12', '15', '40'], 'siphash13', 'str'), { labels: ['15', '12', '40'], order: 'cpython-str-seed0' });
  assert.deepEqual(dedupLabels(['12', '15', '40'], 'siphash13', 'int'), { labels: ['40', '12', '15'], order: 'cpython-int' });
  // A single str id is still flagged as a str (no reordering possible, but not an int either).
  assert.equal(dedupLabels(['7', '7'], 'siphash13', 'str').order, 'cpython-str-seed0');
  assert.throws(() => dedupLabels(['12', '012'], 'siphash13', 'int'), /'012' is not an integer/);
});

test('int hashes: -1 maps to -2, modulus 2^61-1', () => {
  assert.equal(pyIntHash(-1n), (1n << 64n) - 2n);
  assert.equal(pyIntHash((1n << 61n) - 1n), 0n);
  assert.equal(pyIntHash(1n << 61n), 1n);
});

test(`CPython set order on ${fixture.set_order.length} random integer label lists`, () => {
  assert.ok(fixture.set_order.length > 500);
  let reordered = 0;
  for (const c of fixture.set_order) {
    const got = cpythonSetOrder(c.labels.map((s) => BigInt(s))).map(String);
    assert.deepEqual(got, c.order, `labels ${c.labels.join(',')}`);
    if (got.join() !== [...new Set(c.labels)].join()) reordered++;
  }
  assert.ok(reordered > 100, 'fixture must contain lists whose set order differs from insertion order');
});

test('str hash special cases: empty string is 0 (not SipHash of nothing)', () => {
  assert.equal(pyStrHashSeed0(''), 0n);
  assert.notEqual(siphash13(new Uint8Array(0)), 0n);
  // PYTHONHASHSEED=0 python3.11 -c "print(hash('abc') & (2**64-1))"
  assert.equal(pyStrHashSeed0('abc'), 13851880170939887858n);
  assert.equal(pyStrHashSeed0('page_1.png'), 17005882944001581377n);
  assert.equal(pyStrHashSeed0('\u00e9t\u00e9'), 17413373782471260399n); // Latin-1: 1 byte per char
  assert.equal(pyStrHashSeed0('\u4e2d\u6587x'), 3520544758930523528n); // UCS-2: 2 bytes per char
  assert.deepEqual(dedupLabels(['a', 'b', 'c', 'd', 'e']).labels, ['d', 'b', 'c', 'a', 'e']);
});

test('CPython 3.10 (SipHash-2-4) str hashes under PYTHONHASHSEED=0', () => {
  // PYTHONHASHSEED=0 python3.10 -c "print(hash('abc') & (2**64-1))" etc.
  assert.equal(pyStrHashSeed0('abc', 'siphash24'), 4596069200710135518n);
  assert.equal(pyStrHashSeed0('page_1.png', 'siphash24'), 3171261152779867070n);
  assert.equal(pyStrHashSeed0('\u00e9t\u00e9', 'siphash24'), 9210628588244507898n);
  assert.equal(pyStrHashSeed0('\u4e2d\u6587x', 'siphash24'), 17386317341547491291n);
  assert.deepEqual(dedupLabels(['a', 'b', 'c', 'd', 'e'], 'siphash24').labels, ['b', 'a', 'd', 'c', 'e']);
});

test(`str hashes and set order under PYTHONHASHSEED=0 on ${fixture.str_set_order.length} random lists`, () => {
  assert.ok(fixture.str_set_order.length >= 300);
  let reordered = 0;
  for (const c of fixture.str_set_order) {
    c.labels.forEach((l, i) => assert.equal(pyStrHashSeed0(l).toString(), c.hashes[i], `hash(${JSON.stringify(l)})`));
    const got = dedupLabels(c.labels);
    assert.deepEqual(got.labels, c.order, `labels ${JSON.stringify(c.labels)}`);
    if (c.labels.some((l) => !/^-?(0|[1-9][0-9]*)$/.test(l))) assert.equal(got.order, 'cpython-str-seed0');
    if (got.labels.join('\u0000') !== [...new Set(c.labels)].join('\u0000')) reordered++;
  }
  assert.ok(reordered > 100);
  assert.equal(dedupLabels(['1', '01']).order, 'cpython-str-seed0');
});

test('np.mean pairwise summation is bit-identical', () => {
  for (const c of fixture.np_mean) assert.equal(npMean(c.values), c.mean, `n=${c.values.length}`);
  const naive = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  assert.ok(fixture.np_mean.some((c) => naive(c.values) !== c.mean), 'a naive sum must differ somewhere');
});
