import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddingCache } from './cache.ts';
import { embedThroughCache, MediaError } from './cache-embed.ts';
import type { EmbedItem, Embedder, FileEmbedItem } from './types.ts';

/** Embeds text t as [t.length, number of images, call index]; records every call. */
function fakeEmbedder(id = 'fake'): Embedder & { calls: string[][] } {
  const calls: string[][] = [];
  return {
    id,
    calls,
    async embed(items: readonly EmbedItem[]) {
      calls.push(items.map((i) => i.text));
      return items.map((i) => Float32Array.from([i.text.length, i.images?.length ?? 0, calls.length]));
    },
  };
}

test('identical items are embedded once, from their first occurrence; cached ones never again', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'v2v-ce-'));
  try {
    const img = join(dir, 'a.png');
    const img2 = join(dir, 'b.png');
    writeFileSync(img, 'A');
    writeFileSync(img2, 'A'); // same bytes, other path: same key
    const items: EmbedItem[] = [
      { text: 'x' }, { text: 'yy' }, { text: 'x' }, { text: 'zzz', images: [img] }, { text: 'zzz', images: [img2] }, { text: 'w' },
    ];
    const cache = await EmbeddingCache.open(join(dir, 'cache'));
    const emb = fakeEmbedder();
    const progress: [number, number][] = [];
    const r = await embedThroughCache(items, { embedder: emb, cache, batchSize: 2, concurrency: 1, onProgress: (d, t) => progress.push([d, t]) });
    assert.deepEqual(emb.calls, [['x', 'yy'], ['zzz', 'w']]);
    assert.deepEqual(r.vectors.map((v) => Array.from(v)), [[1, 0, 1], [2, 0, 1], [1, 0, 1], [3, 1, 2], [3, 1, 2], [1, 0, 2]]);
    assert.deepEqual(r.stats, { items: 6, unique: 4, cached: 0, embedded: 4, dim: 3 });
    assert.deepEqual(progress, [[0, 6], [3, 6], [6, 6]]);
    cache.close();

    const cache2 = await EmbeddingCache.open(join(dir, 'cache'));
    const emb2 = fakeEmbedder();
    const r2 = await embedThroughCache([...items, { text: 'new' }], { embedder: emb2, cache: cache2, batchSize: 2, concurrency: 3 });
    assert.deepEqual(emb2.calls, [['new']]);
    assert.deepEqual(Array.from(r2.vectors[4]!), [3, 1, 2]); // from the first run's cache
    assert.equal(r2.stats.cached, 4);
    // Another model id shares nothing with the first.
    const other = fakeEmbedder('other');
    await embedThroughCache(items, { embedder: other, cache: cache2, batchSize: 10, concurrency: 1 });
    assert.equal(other.calls.flat().length, 4);
    cache2.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a failing batch stops the workers; batches finished before it stay cached', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'v2v-ce-'));
  try {
    const cache = await EmbeddingCache.open(dir);
    let n = 0;
    const emb: Embedder = {
      id: 'flaky',
      async embed(items) {
        if (++n === 3) throw new Error('endpoint exploded');
        return items.map(() => Float32Array.from([n]));
      },
    };
    const items = Array.from({ length: 10 }, (_, i) => ({ text: `t${i}` }));
    await assert.rejects(embedThroughCache(items, { embedder: emb, cache, batchSize: 2, concurrency: 1 }), /endpoint exploded/);
    assert.equal(n, 3); // no batch after the failure
    assert.equal(cache.size, 4);
    const bad: Embedder = { id: 'bad', embed: async (its) => its.map((_, i) => new Float32Array(i === 1 ? 3 : 2)) };
    await assert.rejects(embedThroughCache(items.slice(0, 2), { embedder: bad, batchSize: 2, concurrency: 1, ctx: { task: 'VOC2007', role: 'candidate' } }),
      /task VOC2007 candidates: item 1 \(from bad\) has dimension 3, expected 2/);
    await assert.rejects(embedThroughCache([{ text: 'a', images: [join(dir, 'gone.jpg')] }], { embedder: bad, batchSize: 2, concurrency: 1, ctx: { task: 'N24News', role: 'query' } }),
      (err: Error) => {
        // A data problem (fails the task), not an embedder failure (stops the run).
        assert.ok(err instanceof MediaError);
        assert.match(err.message, /task N24News queries: item 0: media file .*gone\.jpg cannot be read/);
        return true;
      });
    cache.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a corrupt cache entry is detected, recomputed once, and served from the cache afterwards', async () => {
  const { readdirSync, readFileSync } = await import('node:fs');
  const dir = mkdtempSync(join(tmpdir(), 'v2v-ce-'));
  try {
    const items = ['alpha', 'beta', 'gamma'].map((text) => ({ text }));
    const c1 = await EmbeddingCache.open(dir);
    await embedThroughCache(items, { embedder: fakeEmbedder(), cache: c1, batchSize: 3, concurrency: 1 });
    c1.close();
    // Records are 48-byte header + 3 floats; damage the second record's payload.
    const [seg] = readdirSync(dir).filter((n) => n.endsWith('.v2ec'));
    const bytes = readFileSync(join(dir, seg!));
    bytes[60 + 48 + 2]! ^= 0xff;
    writeFileSync(join(dir, seg!), bytes);
    const c2 = await EmbeddingCache.open(dir);
    const emb = fakeEmbedder();
    const r = await embedThroughCache(items, { embedder: emb, cache: c2, batchSize: 3, concurrency: 1 });
    assert.deepEqual(emb.calls, [['beta']]);
    assert.deepEqual(Array.from(r.vectors[1]!), [4, 0, 1]);
    assert.equal(c2.stats.corruptPayloads, 1);
    c2.close();
    const c3 = await EmbeddingCache.open(dir);
    const emb3 = fakeEmbedder();
    const r3 = await embedThroughCache(items, { embedder: emb3, cache: c3, batchSize: 3, concurrency: 1 });
    assert.deepEqual(emb3.calls, []);
    assert.deepEqual(Array.from(r3.vectors[1]!), [4, 0, 1]);
    c3.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('embedder errors say which task items the failing batch held', async () => {
  const { Vlm2VecError } = await import('../errors.ts');
  let n = 0;
  const emb: Embedder = {
    id: 'nan-at-second-batch',
    async embed(items) {
      if (++n === 2) throw new Vlm2VecError('remote', 'http://h/v1/embeddings: item 1: embedding[0] is NaN');
      return items.map(() => Float32Array.from([1]));
    },
  };
  const items = ['a', 'b', 'a', 'c', 'd', 'e'].map((text) => ({ text }));
  // Unique keys: a(0) b(1) c(3) d(4) e(5); batches of 2: [0, 1], [3, 4], [5].
  await assert.rejects(embedThroughCache(items, { embedder: emb, batchSize: 2, concurrency: 1, ctx: { task: 'GQA', role: 'candidate' } }),
    /\[embed\] task GQA candidates, batch of items 3\.\.4 \(numbered from 0 within the batch below\): \[remote\] http:\/\/h\/v1\/embeddings: item 1: embedding\[0\] is NaN/);
});

test('media are read once: the bytes hashed for the cache key go to the embedder with their batch', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'v2v-ce-'));
  try {
    const paths = Array.from({ length: 6 }, (_, i) => join(dir, `f${i}.jpg`));
    paths.forEach((p, i) => writeFileSync(p, `frame-${i}`));
    const items: EmbedItem[] = [
      { text: 'a', images: [paths[0]!] },
      { text: 'b', video: [paths[1]!, paths[2]!] },
      { text: 'c', images: [paths[3]!], video: [paths[4]!] },
      { text: 'd', images: [paths[5]!] },
      { text: 'e' },
    ];
    const seen: string[][] = [];
    const emb: Embedder = {
      id: 'bytes',
      async embed(batch: readonly FileEmbedItem[], ctx) {
        const want = batch.flatMap((it) => [...(it.images ?? []), ...(it.video ?? [])]);
        // Exactly this batch's files, with their content: nothing to read again, nothing extra held.
        assert.deepEqual([...(ctx?.mediaBytes?.keys() ?? [])].sort(), [...new Set(want)].sort());
        for (const p of want) assert.equal(Buffer.from(ctx!.mediaBytes!.get(p)!).toString(), `frame-${paths.indexOf(p)}`);
        seen.push(want);
        return batch.map(() => Float32Array.from([1]));
      },
    };
    const cache = await EmbeddingCache.open(join(dir, 'cache'));
    await embedThroughCache(items, { embedder: emb, cache, batchSize: 2, concurrency: 2, ctx: { task: 'T', role: 'query' } });
    assert.deepEqual(seen.flat().sort(), [...paths].sort());
    cache.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('many windows with small batches: same vectors, order and counts as embedding all at once', async () => {
  // 300 items over 5 hashing windows, with duplicates across windows and a cache filled halfway.
  const dir = mkdtempSync(join(tmpdir(), 'v2v-ce-'));
  try {
    const items = Array.from({ length: 300 }, (_, i) => ({ text: `t${i % 170}` }));
    const cache = await EmbeddingCache.open(dir);
    const first = fakeEmbedder();
    await embedThroughCache(items.slice(0, 90), { embedder: first, cache, batchSize: 7, concurrency: 3 });
    const emb = fakeEmbedder();
    const progress: number[] = [];
    const r = await embedThroughCache(items, { embedder: emb, cache, batchSize: 7, concurrency: 3, onProgress: (d) => progress.push(d) });
    assert.deepEqual(r.stats, { items: 300, unique: 170, cached: 90, embedded: 80, dim: 3 });
    assert.equal(emb.calls.flat().length, 80);
    assert.deepEqual(emb.calls.flat(), Array.from({ length: 80 }, (_, i) => `t${90 + i}`)); // first-occurrence order
    r.vectors.forEach((v, i) => assert.equal(v[0], `t${i % 170}`.length, `item ${i}`));
    assert.ok(r.vectors[200] === r.vectors[30] && r.vectors[250] === r.vectors[80], 'duplicates share the vector');
    assert.equal(progress.at(-1), 300);
    assert.ok(progress.every((d, i) => i === 0 || d >= progress[i - 1]!), 'progress never goes back');
    cache.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
