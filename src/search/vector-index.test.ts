// The vector index (HNSW-SQ, cosine) built once a table reaches the threshold: recall@10 of the
// indexed search against exact search on 20,000 seeded synthetic unit vectors (64-d, clustered
// like real embeddings), through searchIndex with a stand-in query embedder. Also: the stale
// version left by a kill between a changed file's add and delete is dropped on the next run, and
// the AVX2 check.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { rng } from '../util/random.ts';
import { indexFolder, maintainVectorIndex, type IndexEmbedder } from './folder-index.ts';
import { DEFAULT_CANDIDATE_INSTRUCTIONS } from './instructions.ts';
import { lanceUnsupportedReason } from './lance.ts';
import { itemsTable, openIndex, toArrow, writeMeta, type ItemRow } from './store.ts';
import { searchIndex } from './search.ts';

function gaussian(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

function unit(v: Float32Array): Float32Array {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

test('HNSW-SQ index from the threshold on: recall@10 >= 0.95 against exact search (20k x 64, seeded)', { timeout: 300_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vlm2vec-vindex-'));
  try {
    const dim = 64, n = 20_000, clusters = 200;
    const r = rng(1234);
    const centers = Array.from({ length: clusters }, () => unit(Float32Array.from({ length: dim }, () => gaussian(r))));
    const point = (): Float32Array => {
      const c = centers[Math.floor(r() * clusters)]!;
      return unit(c.map((x) => x + 0.35 * gaussian(r)));
    };
    const ix = await openIndex(dir);
    await writeMeta(ix, {
      modelId: 'synthetic', modelSpec: 'synthetic', adapter: null, modelOptions: {}, instructions: { ...DEFAULT_CANDIDATE_INSTRUCTIONS },
      numFrames: 8, pdfDpi: 144, maxTextChars: 8000, dim,
    });
    const table = await itemsTable(ix, dim);
    for (let s = 0; s < n; s += 5000) {
      const batch: ItemRow[] = Array.from({ length: 5000 }, (_, i) => ({
        id: `v${s + i}.png`, path: `v${s + i}.png`, page: 0, kind: 'image', size: 1, mtime: 0, hash: 'h', model: 'synthetic', instruction: '', vector: point(),
      }));
      await table.add((await toArrow(ix, batch, dim)) as never);
    }
    assert.equal(await maintainVectorIndex(table, n - 1, n, true), false, 'no index below the threshold');
    const t0 = performance.now();
    assert.equal(await maintainVectorIndex(table, n, n, true), true);
    const buildMs = performance.now() - t0;
    assert.ok((await table.listIndices()).some((i) => i.indexType.toLowerCase().includes('hnsw')));

    let q: Float32Array = new Float32Array(dim);
    const embedder = { id: 'synthetic', embed: async () => [q] };
    let hit = 0, total = 0, exactMs = 0, annMs = 0;
    for (let i = 0; i < 100; i++) {
      q = point();
      let t = performance.now();
      const exact = await searchIndex({ db: dir, embedder, text: 'q', topK: 10, exact: true });
      exactMs += performance.now() - t;
      t = performance.now();
      const ann = await searchIndex({ db: dir, embedder, text: 'q', topK: 10 });
      annMs += performance.now() - t;
      const want = new Set(exact.map((h) => h.path));
      hit += ann.filter((h) => want.has(h.path)).length;
      total += 10;
      // Exact scores are the true cosines, in order.
      for (let k = 1; k < exact.length; k++) assert.ok(exact[k - 1]!.score >= exact[k]!.score);
    }
    const recall = hit / total;
    process.stdout.write(`# HNSW-SQ 20k x 64: build ${buildMs.toFixed(0)} ms, recall@10 ${recall.toFixed(3)}, ` +
      `query ${(annMs / 100).toFixed(1)} ms indexed vs ${(exactMs / 100).toFixed(1)} ms exact (each incl. opening the db)\n`);
    assert.ok(recall >= 0.95, `recall@10 ${recall}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a kill between a changed file\'s add and its old rows\' delete: the next run keeps the version matching the file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vlm2vec-stale-'));
  try {
    const input = join(dir, 'in');
    const db = join(dir, 'db');
    await import('node:fs/promises').then((f) => f.mkdir(input));
    await writeFile(join(input, 'a.txt'), 'new text');
    let calls = 0;
    const embedder: IndexEmbedder = {
      id: 'counting', dim: 4, batchSize: 4,
      embedSettled: async (items) => items.map(() => ({ ok: true as const, embedding: Float32Array.from([1, 0, 0, ++calls]) })),
    };
    await indexFolder({ input, db, embedder, modelSpec: 'x' });
    // Simulate the kill: an older version's row still stored beside the current one.
    const ix = await openIndex(db);
    await ix.items!.add((await toArrow(ix, [{
      id: 'a.txt', path: 'a.txt', page: 0, kind: 'text', size: 3, mtime: 1, hash: 'old', model: 'counting', instruction: '', vector: Float32Array.from([0, 1, 0, 0]),
    }], 4)) as never);
    assert.equal(await ix.items!.countRows(), 2);
    const r = await indexFolder({ input, db, embedder, modelSpec: 'x' });
    assert.deepEqual([r.embeddedFiles, r.unchangedFiles, r.rows, calls], [0, 1, 1, 1]);
    const [row] = await (await openIndex(db)).items!.query().toArray();
    assert.equal(row.hash, createHash('sha256').update('new text').digest('hex'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the AVX2 check: an x64 Linux CPU without avx2 is named before LanceDB would die with SIGILL', () => {
  if (process.platform !== 'linux' || process.arch !== 'x64') return;
  assert.match(lanceUnsupportedReason('processor\t: 0\nflags\t\t: fpu sse sse2 avx\n')!, /no AVX2/);
  assert.equal(lanceUnsupportedReason('processor\t: 0\nflags\t\t: fpu sse sse2 avx avx2 fma\n'), undefined);
});
