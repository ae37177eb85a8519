// Embedding many items through the on-disk cache: hash every item, embed each distinct key once
// (missing keys only), in batches with bounded concurrency, and persist each batch the moment it
// returns — so a killed run loses at most the batches in flight, and a rerun asks the embedder
// for nothing that finished.

import type { EmbedContext, EmbedItem, Embedder } from './types.ts';
import type { EmbeddingCache } from './cache.ts';
import { FileHasher } from './hash.ts';
import { Vlm2VecError, errorDetail } from '../errors.ts';
import { MediaError } from './media-error.ts';

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

export { MediaError };

/** Items hashed at once: bounds open files (a video item has 8 frames) and the media bytes held
 *  between hashing and sending. */
const HASH_CHUNK = 64;

/** Items sharing one key: embedded once (from the first), the vector shared by all. */
interface Group {
  members: number[];
  vector?: Float32Array;
}

/** Groups sent in one embedder call, with the media bytes read while hashing them. */
interface Batch {
  groups: Group[];
  bytes: Map<string, Uint8Array>;
}

/**
 * One vector per item, in order. Items with equal keys (same model, text and media bytes) share
 * one vector, embedded from the first of them.
 *
 * Items are hashed a window at a time; the media bytes read for a key are handed to the embedder
 * with the batch that sends them (`ctx.mediaBytes`, when `ctx` is given), so a file is not read
 * again to be sent. Only the bytes of the window being hashed and of the batches queued or in
 * flight are held. (A file whose hash is remembered from an earlier window or task is not read
 * for hashing; the embedder reads it when it sends it.)
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

  const vectors: Float32Array[] = new Array(items.length);
  const groups = new Map<string, Group>();
  const firstKey = new Map<Group, Buffer>();
  let done = 0;
  let dim = 0;
  let cached = 0;
  const accept = (g: Group, v: Float32Array, origin: string): void => {
    if (dim === 0) dim = v.length;
    else if (v.length !== dim) {
      throw new Vlm2VecError('embed', `${where}: item ${g.members[0]} (${origin}) has dimension ${v.length}, expected ${dim} like the others`);
    }
    g.vector = v;
    for (const i of g.members) vectors[i] = v;
    done += g.members.length;
  };

  // Batches flow from the producer (hashing, cache lookups) to the workers (embedder calls).
  const queue: Batch[] = [];
  let producing = true;
  let failed: unknown;
  let wake: (() => void)[] = [];
  const signal = (): void => {
    const w = wake;
    wake = [];
    for (const f of w) f();
  };
  const waitForChange = (): Promise<void> => new Promise((r) => wake.push(r));

  const produce = async (): Promise<void> => {
    let current: Batch = { groups: [], bytes: new Map() };
    if (items.length === 0) opts.onProgress?.(0, 0);
    for (let s = 0; s < items.length && failed === undefined; s += HASH_CHUNK) {
      // 1. Keys of this window; the media bytes read on the way are kept for sending (only
      // when a context can carry them to the embedder).
      const window = items.slice(s, s + HASH_CHUNK);
      const read = ctx ? new Map<string, Uint8Array>() : undefined;
      const keys = await Promise.all(window.map((it, j) =>
        hasher.itemKey(embedder.id, it, read).catch((err: unknown) => {
          throw new MediaError(`${where}: item ${s + j}: ${errorDetail(err, 'embed')}`, err);
        })));
      // 2. Join an earlier group, take a cache hit, or queue the item's key for embedding.
      const before = done;
      keys.forEach((key, j) => {
        const i = s + j;
        const h = key.toString('hex');
        const known = groups.get(h);
        if (known) {
          known.members.push(i);
          if (known.vector) {
            vectors[i] = known.vector;
            done++;
          }
          return;
        }
        const g: Group = { members: [i] };
        groups.set(h, g);
        const hit = cache?.get(key);
        if (hit) {
          accept(g, hit, 'from the cache');
          cached++;
          return;
        }
        firstKey.set(g, key);
        current.groups.push(g);
        const it = items[i]!;
        for (const p of [...(it.images ?? []), ...(it.video ?? [])]) {
          if (typeof p !== 'string') continue; // bytes travel with the item itself
          const b = read?.get(p);
          if (b !== undefined) current.bytes.set(p, b);
        }
        if (current.groups.length === opts.batchSize) {
          queue.push(current);
          current = { groups: [], bytes: new Map() };
        }
      });
      if (s === 0 || done > before) opts.onProgress?.(done, items.length);
      signal();
      // Back-pressure: bytes of at most `concurrency` waiting batches (plus those in flight).
      while (failed === undefined && queue.length >= opts.concurrency) await waitForChange();
    }
    if (current.groups.length > 0) queue.push(current);
  };

  // 3. Workers embed batches; each batch is persisted before the worker takes the next one.
  const worker = async (): Promise<void> => {
    for (;;) {
      while (failed === undefined && queue.length === 0 && producing) await waitForChange();
      if (failed !== undefined || queue.length === 0) return;
      const batch = queue.shift()!;
      signal();
      const batchItems = batch.groups.map((g) => items[g.members[0]!]!);
      let out: Float32Array[];
      try {
        out = await embedder.embed(batchItems, ctx ? { ...ctx, mediaBytes: batch.bytes } : ctx);
      } catch (err) {
        // The embedder numbers items within its batch; say which task items the batch held.
        const firsts = batch.groups.map((g) => g.members[0]!);
        const contiguous = firsts.every((v, j) => j === 0 || v === firsts[j - 1]! + 1);
        const span = contiguous ? `${firsts[0]}..${firsts[firsts.length - 1]}` : `${firsts.slice(0, 6).join(', ')}${firsts.length > 6 ? ', …' : ''}`;
        const msg = `${where}, batch of items ${span} (numbered from 0 within the batch below): ${err instanceof Error ? err.message : ''}`;
        // A file the embedder could not read or decode stays a MediaError: that task fails alone.
        failed ??= err instanceof MediaError ? new MediaError(msg, err)
          : err instanceof Vlm2VecError ? new Vlm2VecError('embed', msg, { cause: err }) : err;
        signal();
        return;
      }
      try {
        if (out.length !== batch.groups.length) {
          throw new Vlm2VecError('embed', `${where}: embedder ${embedder.id} returned ${out.length} vectors for ${batch.groups.length} items`);
        }
        batch.groups.forEach((g, j) => accept(g, out[j]!, `from ${embedder.id}`));
        cache?.putMany(batch.groups.map((g, j) => ({ key: firstKey.get(g)!, vector: out[j]! })));
      } catch (err) {
        failed ??= err;
        signal();
        return;
      }
      opts.onProgress?.(done, items.length);
    }
  };

  const workers = Array.from({ length: opts.concurrency }, worker);
  try {
    await produce();
  } catch (err) {
    failed ??= err;
  } finally {
    producing = false;
    signal();
  }
  await Promise.all(workers);
  if (failed !== undefined) throw failed;
  return {
    vectors,
    stats: { items: items.length, unique: groups.size, cached, embedded: firstKey.size, dim },
  };
}
