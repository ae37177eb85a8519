// Harness overhead of `vlm2vec eval`, without any model: how many items per second the loaders
// turn into formatted queries and candidates (parquet reading, prompt formatting, frame listing
// and sampling, visdoc page files), and how many items per second go through the embedding cache
// (media hashing, key lookup, persisting) with an embedder that costs nothing.
// Runs on the fixture benchmark (test/fixtures/mmeb/data, every task it holds), scaled up by
// repeating it. Prints figures; never asserts.
//
// Usage: node --import tsx bench/harness.ts [--reps N] [--tasks a,b,...]
//   (npm run bench:harness -- --reps 50)

import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTask } from '../src/mmeb/load/index.ts';
import { TASKS } from '../src/mmeb/tasks/registry.ts';
import { buildCandidatePool } from '../src/mmeb/load/pool.ts';
import { EmbeddingCache } from '../src/embed/cache.ts';
import { embedThroughCache } from '../src/embed/cache-embed.ts';
import { FileHasher } from '../src/embed/hash.ts';
import type { EmbedItem, Embedder } from '../src/embed/types.ts';
import type { TaskDef } from '../src/mmeb/tasks/types.ts';
import { ignoreWarnings } from '../src/util/warn.ts';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const reps = Number(arg('--reps', '20'));
const only = arg('--tasks', '').split(',').filter(Boolean);
const root = fileURLToPath(new URL('..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'v2v-bench-harness-'));
const data = join(work, 'data');
cpSync(join(root, 'test', 'fixtures', 'mmeb', 'data'), data, { recursive: true });
const quiet = { dataDir: data, onWarning: ignoreWarnings };

try {
  // Which registry tasks the fixture holds (the others fail to load: their data is absent).
  const tasks: TaskDef[] = [];
  for (const t of TASKS) {
    if (only.length && !only.includes(t.name)) continue;
    try {
      await loadTask(t, quiet); // also writes visdoc page files once, outside the timing
      tasks.push(t);
    } catch {
      // not in the fixture
    }
  }
  console.log(`fixture benchmark: ${tasks.length} tasks (${tasks.map((t) => t.name).join(', ')}), ×${reps} repetitions`);

  // 1. Loading + formatting.
  const perTask = new Map<string, { items: number; ms: number }>();
  const items: EmbedItem[] = [];
  const t0 = performance.now();
  for (let r = 0; r < reps; r++) {
    for (const t of tasks) {
      const s = performance.now();
      const loaded = await loadTask(t, quiet);
      const pool = buildCandidatePool(loaded);
      const n = loaded.queries.length + pool.length;
      const e = perTask.get(t.name) ?? { items: 0, ms: 0 };
      e.items += n;
      e.ms += performance.now() - s;
      perTask.set(t.name, e);
      if (r === 0) items.push(...loaded.queries.map((q) => q.item), ...pool.map((c) => c.item));
    }
  }
  const loadMs = performance.now() - t0;
  const loadItems = [...perTask.values()].reduce((a, b) => a + b.items, 0);
  console.log('\nloading + formatting (queries + deduplicated candidates):');
  for (const [name, e] of perTask) {
    console.log(`  ${name.padEnd(16)} ${String(e.items / reps).padStart(4)} items/rep  ${(e.ms / reps).toFixed(2).padStart(7)} ms/rep  ${((1000 * e.items) / e.ms).toFixed(0).padStart(7)} items/s`);
  }
  console.log(`  total            ${loadItems} items in ${(loadMs / 1000).toFixed(2)} s = ${((1000 * loadItems) / loadMs).toFixed(0)} items/s`);

  // 2. Through the embedding cache, scaled by repetition: every repetition gets distinct texts
  // (so keys differ) but the same media files (hashed once per file, as in a real run).
  const dim = 1536;
  const zero: Embedder = { id: 'bench-null', embed: async (b) => b.map(() => new Float32Array(dim)) };
  const scaled: EmbedItem[] = [];
  for (let r = 0; r < reps; r++) for (const it of items) scaled.push({ ...it, text: `${it.text}#${r}` });
  const cache = await EmbeddingCache.open(join(work, 'cache'), { syncEachWrite: false });
  const hasher = new FileHasher();
  let s = performance.now();
  await embedThroughCache(scaled, { embedder: zero, cache, hasher, batchSize: 16, concurrency: 4 });
  const coldMs = performance.now() - s;
  s = performance.now();
  const warm = await embedThroughCache(scaled, { embedder: zero, cache, hasher, batchSize: 16, concurrency: 4 });
  const warmMs = performance.now() - s;
  cache.close();
  s = performance.now();
  const reopened = await EmbeddingCache.open(join(work, 'cache'));
  const openMs = performance.now() - s;
  reopened.close();
  console.log(`\nembedding cache (${scaled.length} items, ${dim} dims, null embedder):`);
  console.log(`  cold (hash + embed + persist): ${((1000 * scaled.length) / coldMs).toFixed(0)} items/s`);
  console.log(`  warm (hash + cache hit):       ${((1000 * scaled.length) / warmMs).toFixed(0)} items/s (${warm.stats.cached} hits)`);
  console.log(`  reopen index of ${reopened.size} entries: ${openMs.toFixed(1)} ms`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
