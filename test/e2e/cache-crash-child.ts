// Child process for the cache's kill -9 test (cache.test.ts): appends batches of records whose
// values are a function of their index forever, printing the number of committed records after
// each putMany returns. The parent kills it with SIGKILL at an arbitrary moment.
// Usage: node --import tsx test/e2e/cache-crash-child.ts DIR START DIM

import { createHash } from 'node:crypto';
import { EmbeddingCache } from '../../src/embed/cache.ts';

/** Key and vector of record i (shared with the test, which recomputes them). */
export function crashRecord(i: number, dim: number): { key: Buffer; vector: Float32Array } {
  const key = createHash('sha256').update(`record-${i}`).digest();
  const vector = new Float32Array(dim);
  for (let d = 0; d < dim; d++) vector[d] = i + d / 1000;
  return { key, vector };
}

if (process.argv[1]?.endsWith('cache-crash-child.ts')) {
  const [dir, start, dim] = process.argv.slice(2);
  const cache = await EmbeddingCache.open(dir!, { syncEachWrite: false });
  let i = Number(start);
  for (;;) {
    const batch = [];
    for (let k = 0; k < 7; k++) batch.push(crashRecord(i++, Number(dim)));
    cache.putMany(batch);
    process.stdout.write(`${i}\n`);
    // Yield so stdout drains and the parent's kill lands between and during writes.
    await new Promise((r) => setImmediate(r));
  }
}
