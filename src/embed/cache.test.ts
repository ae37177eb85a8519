import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { EmbeddingCache } from './cache.ts';
import { FileHasher, crc32, crc32Fallback } from './hash.ts';
import { crashRecord } from '../../test/e2e/cache-crash-child.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'v2v-cache-'));
const key = (s: string) => createHash('sha256').update(s).digest();
const vec = (...v: number[]) => Float32Array.from(v);
const segments = (dir: string) => readdirSync(dir).filter((n) => n.endsWith('.v2ec')).map((n) => join(dir, n));
// Record size for dim 3: 48-byte header + 12 bytes of floats.
const REC3 = 60;

test('crc32 matches the standard check value in both implementations', () => {
  const data = Buffer.from('123456789');
  assert.equal(crc32(data), 0xcbf43926);
  assert.equal(crc32Fallback(data), 0xcbf43926);
  const rnd = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7919) & 255));
  assert.equal(crc32Fallback(rnd), crc32(rnd));
});

test('vectors survive close and reopen; later records win', async () => {
  const dir = tmp();
  try {
    const c = await EmbeddingCache.open(dir);
    c.putMany([{ key: key('a'), vector: vec(1, 2, 3) }, { key: key('b'), vector: vec(4, 5, 6) }]);
    assert.deepEqual(c.get(key('a')), vec(1, 2, 3)); // readable from our own segment at once
    c.close();
    const c2 = await EmbeddingCache.open(dir);
    assert.equal(c2.size, 2);
    assert.deepEqual(c2.get(key('b')), vec(4, 5, 6));
    assert.equal(c2.get(key('zzz')), undefined);
    c2.putMany([{ key: key('a'), vector: vec(9, 9, 9) }]);
    c2.close();
    const c3 = await EmbeddingCache.open(dir);
    assert.equal(c3.stats.segments, 2);
    assert.deepEqual(c3.get(key('a')), vec(9, 9, 9));
    c3.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a torn tail record (cut payload or cut header) is ignored, earlier records kept', async () => {
  for (const cut of [5, REC3 - 20]) {
    const dir = tmp();
    try {
      const c = await EmbeddingCache.open(dir);
      c.putMany([0, 1, 2].map((i) => ({ key: key(`k${i}`), vector: vec(i, i, i) })));
      c.close();
      const [seg] = segments(dir);
      assert.equal(statSync(seg!).size, 3 * REC3);
      truncateSync(seg!, 3 * REC3 - cut);
      const c2 = await EmbeddingCache.open(dir);
      assert.equal(c2.size, 2, `cut ${cut}`);
      assert.equal(c2.stats.tornTails, 1);
      assert.deepEqual(c2.get(key('k1')), vec(1, 1, 1));
      assert.equal(c2.get(key('k2')), undefined);
      // Recomputing it goes to a new segment; the torn one is never appended to again.
      c2.putMany([{ key: key('k2'), vector: vec(2, 2, 2) }]);
      c2.close();
      const c3 = await EmbeddingCache.open(dir);
      assert.deepEqual(c3.get(key('k2')), vec(2, 2, 2));
      assert.equal(c3.size, 3);
      c3.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('a corrupt payload is detected on read, forgotten, and replaced by a recomputation', async () => {
  const dir = tmp();
  try {
    const c = await EmbeddingCache.open(dir);
    c.putMany([0, 1, 2].map((i) => ({ key: key(`k${i}`), vector: vec(i, i + 0.5, i + 0.25) })));
    c.close();
    const [seg] = segments(dir);
    const bytes = readFileSync(seg!);
    bytes[REC3 + 48 + 5]! ^= 0x10; // flip one bit in record 1's floats
    writeFileSync(seg!, bytes);
    const c2 = await EmbeddingCache.open(dir);
    assert.equal(c2.size, 3); // headers are intact
    assert.equal(c2.get(key('k1')), undefined);
    assert.equal(c2.stats.corruptPayloads, 1);
    assert.equal(c2.has(key('k1')), false);
    assert.deepEqual(c2.get(key('k0')), vec(0, 0.5, 0.25));
    assert.deepEqual(c2.get(key('k2')), vec(2, 2.5, 2.25));
    c2.putMany([{ key: key('k1'), vector: vec(1, 1.5, 1.25) }]);
    c2.close();
    const c3 = await EmbeddingCache.open(dir);
    assert.deepEqual(c3.get(key('k1')), vec(1, 1.5, 1.25));
    c3.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a damaged header mid-segment is skipped and scanning resynchronises on the next record', async () => {
  const dir = tmp();
  try {
    const c = await EmbeddingCache.open(dir);
    c.putMany([0, 1, 2, 3].map((i) => ({ key: key(`k${i}`), vector: vec(i, i, i) })));
    c.close();
    const [seg] = segments(dir);
    const bytes = readFileSync(seg!);
    bytes[REC3 + 4] = 0xff; // record 1's dim field: header checksum now fails
    writeFileSync(seg!, bytes);
    // Garbage appended after the last record looks like a torn tail.
    appendFileSync(seg!, Buffer.from('garbage without a header'));
    const c2 = await EmbeddingCache.open(dir);
    assert.equal(c2.stats.damagedHeaders >= 1, true);
    assert.deepEqual([0, 1, 2, 3].map((i) => c2.get(key(`k${i}`))?.[0]), [0, undefined, 2, 3]);
    c2.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('kill -9 while writing: every record reported committed is intact, nothing corrupt', async () => {
  const dir = tmp();
  const dim = 64;
  try {
    for (const [round, start] of [[0, 0], [1, 1_000_000]] as const) {
      const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('../../test/e2e/cache-crash-child.ts', import.meta.url)), dir, String(start), String(dim)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let committed: number = start;
      let buf = '';
      await new Promise<void>((resolve) => {
        child.stdout.on('data', (d: Buffer) => {
          buf += d.toString();
          const lines = buf.split('\n');
          buf = lines.pop()!;
          if (lines.length) committed = Number(lines[lines.length - 1]);
          // Kill at an arbitrary point once some work is done (different per round).
          if (committed - start > 300 + Number(round) * 137) {
            child.kill('SIGKILL');
            resolve();
          }
        });
      });
      await new Promise((r) => child.on('exit', r));
      const c = await EmbeddingCache.open(dir);
      for (let i = start; i < committed; i++) {
        const r = crashRecord(i, dim);
        assert.deepEqual(c.get(r.key), r.vector, `record ${i} of round ${round}`);
      }
      assert.equal(c.stats.corruptPayloads, 0);
      assert.equal(c.stats.damagedHeaders, 0);
      c.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('10^5 entries: reopen indexes all of them and lookups return the right vectors', async () => {
  const dir = tmp();
  try {
    const c = await EmbeddingCache.open(dir, { syncEachWrite: false });
    const n = 100_000;
    for (let s = 0; s < n; s += 1000) {
      const batch = [];
      for (let i = s; i < s + 1000; i++) batch.push({ key: key(`e${i}`), vector: vec(i, -i, i / 2, 1) });
      c.putMany(batch);
    }
    c.close();
    const c2 = await EmbeddingCache.open(dir);
    assert.equal(c2.size, n);
    for (const i of [0, 1, 4242, 99_999]) assert.deepEqual(c2.get(key(`e${i}`)), vec(i, -i, i / 2, 1));
    c2.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('item keys depend on model, text and media bytes, not on paths', async () => {
  const dir = tmp();
  try {
    const a = join(dir, 'a.jpg');
    const b = join(dir, 'b.jpg');
    writeFileSync(a, 'same bytes');
    writeFileSync(b, 'same bytes');
    const h = new FileHasher();
    const k = (m: string, text: string, images?: string[], video?: string[]) =>
      h.itemKey(m, { text, ...(images ? { images } : {}), ...(video ? { video } : {}) }).then((x) => x.toString('hex'));
    assert.equal(await k('m', 't', [a]), await k('m', 't', [b]));
    assert.notEqual(await k('m', 't', [a]), await k('m2', 't', [a]));
    assert.notEqual(await k('m', 't', [a]), await k('m', 't ', [a]));
    assert.notEqual(await k('m', 't', [a]), await k('m', 't', undefined, [a]));
    assert.notEqual(await k('m', 't'), await k('m', 't', []));
    const before = await k('m', 't', [a]);
    await new Promise((r) => setTimeout(r, 20));
    writeFileSync(a, 'other bytes!');
    assert.notEqual(await k('m', 't', [a]), before);
    await assert.rejects(k('m', 't', [join(dir, 'missing.png')]), /missing\.png cannot be read/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// Node 20's mkdir -p never returns under /proc; the timeout turns that into a failure.
test('a cache folder under /proc is refused at once with its name', { timeout: 10_000, skip: statSync('/proc/self', { throwIfNoEntry: false }) ? false : 'no /proc here' }, async () => {
  await assert.rejects(EmbeddingCache.open('/proc/vlm2vec-cache'), /\[cache\] cache folder \/proc\/vlm2vec-cache: \/proc is on the proc kernel filesystem/);
});
