// Embedding many items through the on-disk cache: hash every item, embed each distinct key once
// (missing keys only), in batches with bounded concurrency, and persist each batch the moment it
// returns — so a killed run loses at most the batches in flight, and a rerun asks the embedder
// for nothing that finished.

import type { EmbedContext, EmbedItem, Embedder } from './types.ts';
import type { EmbeddingCache } from './cache.ts';
import { FileHasher } from './hash.ts';
import { Vlm2VecError } from '../errors.ts';

/** Options of {@link embedThroughCache}. */
export interface EmbedThroughCacheOptions {
  embedder: Embedder;
  /** Absent: nothing is persisted (identical items are still embedded once). */
  cache?: EmbeddingCache | undefined;
  hasher?: FileHasher;
  /** Items per embedder call. */
  batchSize: number;
  /** Embedder calls in flight. With 1, a batch is on disk before the next one is sent. */
  concurrency: number;
  ctx?: EmbedContext;
  /** `done` counts items (duplicates and cache hits included), out of `total` = items.length. */
  onProgress?: (done: number, total: number) => void;
}

/** What {@link embedThroughCache} did, for logs and tests. */
export interface EmbedStats {
  items: number;
  unique: number;
  cached: number;
  embedded: number;
  dim: number;
}

/** An item's media file cannot be read: a data problem of one task, not an embedder failure. */
export class MediaError extends Vlm2VecError {
  constructor(message: string, cause: unknown) {
    super('embed', message, { cause });
    this.name = 'MediaError';
  }
}

/** Items hashed at once: bounds open files (a video item has 8 frames). */
const HASH_CHUNK = 64;

/**
 * One vector per item, in order. Items with equal keys (same model, text and media bytes) share
 * one vector, embedded from the first of them.
 *
 * @example
 * const { vectors } = await embedThroughCache(items, { embedder, cache, batchSize: 16, concurrency: 4 });
 */
export async function embedThroughCache(
  items: readonly EmbedItem[],
  opts: EmbedThroughCacheOptions,
): Promise<{ vectors: Float32Array[]; stats: EmbedStats }> {
  const { embedder, cache, ctx } = opts;
  const hasher = opts.hasher ?? new FileHasher();
  const plural = ctx?.role === 'query' ? 'queries' : ctx?.role === 'candidate' ? 'candidates' : 'items';
  const where = ctx?.task ? `task ${ctx.task} ${plural}` : plural;
  if (!(opts.batchSize >= 1) || !(opts.concurrency >= 1)) {
    throw new Vlm2VecError('embed', `batch size and concurrency must be ≥ 1 (got ${opts.batchSize}, ${opts.concurrency})`);
  }

  // 1. Keys, and the items sharing each key (first occurrence is the one embedded).
  const keys: Buffer[] = new Array(items.length);
  for (let s = 0; s < items.length; s += HASH_CHUNK) {
    const part = await Promise.all(items.slice(s, s + HASH_CHUNK).map((it, j) =>
      hasher.itemKey(embedder.id, it).catch((err: unknown) => {
        throw new MediaError(`${where}: item ${s + j}: ${(err as Error).message.replace(/^\[embed\] /, '')}`, err);
      })));
    part.forEach((k, j) => (keys[s + j] = k));
  }
  const groups = new Map<string, number[]>();
  keys.forEach((k, i) => {
    const h = k.toString('hex');
    const g = groups.get(h);
    if (g) g.push(i);
    else groups.set(h, [i]);
  });

  const vectors: Float32Array[] = new Array(items.length);
  let done = 0;
  let dim = 0;
  const accept = (members: number[], v: Float32Array, origin: string): void => {
    if (dim === 0) dim = v.length;
    else if (v.length !== dim) {
      throw new Vlm2VecError('embed', `${where}: item ${members[0]} (${origin}) has dimension ${v.length}, expected ${dim} like the others`);
    }
    for (const i of members) vectors[i] = v;
    done += members.length;
  };

  // 2. Cache hits.
  const missing: number[][] = [];
  let cached = 0;
  for (const members of groups.values()) {
    const hit = cache?.get(keys[members[0]!]!);
    if (hit) {
      accept(members, hit, 'from the cache');
      cached++;
    } else missing.push(members);
  }
  opts.onProgress?.(done, items.length);

  // 3. Embed the missing keys: workers pull batches; each batch is persisted before the worker
  // takes the next one.
  const batches: number[][][] = [];
  for (let s = 0; s < missing.length; s += opts.batchSize) batches.push(missing.slice(s, s + opts.batchSize));
  let next = 0;
  let failed: unknown;
  const worker = async (): Promise<void> => {
    while (failed === undefined && next < batches.length) {
      const batch = batches[next++]!;
      const batchItems = batch.map((members) => items[members[0]!]!);
      let out: Float32Array[];
      try {
        out = await embedder.embed(batchItems, ctx);
      } catch (err) {
        // The embedder numbers items within its batch; say which task items the batch held.
        const firsts = batch.map((m) => m[0]!);
        const contiguous = firsts.every((v, j) => j === 0 || v === firsts[j - 1]! + 1);
        const span = contiguous ? `${firsts[0]}..${firsts[firsts.length - 1]}` : `${firsts.slice(0, 6).join(', ')}${firsts.length > 6 ? ', …' : ''}`;
        failed ??= err instanceof Vlm2VecError
          ? new Vlm2VecError('embed', `${where}, batch of items ${span} (numbered from 0 within the batch below): ${err.message}`, { cause: err })
          : err;
        return;
      }
      try {
        if (out.length !== batch.length) {
          throw new Vlm2VecError('embed', `${where}: embedder ${embedder.id} returned ${out.length} vectors for ${batch.length} items`);
        }
        batch.forEach((members, j) => accept(members, out[j]!, `from ${embedder.id}`));
        cache?.putMany(batch.map((members, j) => ({ key: keys[members[0]!]!, vector: out[j]! })));
      } catch (err) {
        failed ??= err;
        return;
      }
      opts.onProgress?.(done, items.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency, batches.length) }, worker));
  if (failed !== undefined) throw failed;
  return {
    vectors,
    stats: { items: items.length, unique: groups.size, cached, embedded: missing.length, dim },
  };
}
