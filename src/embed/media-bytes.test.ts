// Media given as bytes instead of paths (what a server hands the embedder after decoding data
// URIs): LocalEmbedder gives the same embeddings as for the files, errors name the item and the
// media index, and the cache key is the same as the files' (media enter it by content).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configureRuntime } from '../tensor/index.ts';
import { compareRows, FIXTURES, goldenCase, goldenF32, TOKENIZER_DIR } from '../models/qwen2-vl/fixtures.test-helper.ts';
import { LocalEmbedder } from './local.ts';
import { MediaError } from './media-error.ts';
import { FileHasher } from './hash.ts';
import { EmbeddingCache } from './cache.ts';
import { embedThroughCache } from './cache-embed.ts';
import { decodeRequest, encodeVlm2VecRequest } from './protocol.ts';
import type { EmbedContext, EmbedItem, Embedder } from './types.ts';

configureRuntime({ threads: 1 });

const embedder = LocalEmbedder.load(join(FIXTURES, 'tiny-a'), { tokenizerDir: TOKENIZER_DIR, batchSize: 4 });

const c = goldenCase('a_mixed_left'); // text, image, 8-frame video, text, 3 images, a tiny image
const byPath: EmbedItem[] = c.items.map((it) => ({
  text: it.text,
  ...(it.images ? { images: it.images.map((p) => join(FIXTURES, p)) } : {}),
  ...(it.video ? { video: it.video.map((p) => join(FIXTURES, p)) } : {}),
}));
const read = (ms: readonly (string | Uint8Array)[]) => Promise.all(ms.map((m) => readFile(m as string)));
const byBytes = Promise.all(byPath.map(async (it): Promise<EmbedItem> => ({
  text: it.text,
  ...(it.images ? { images: await read(it.images) } : {}),
  ...(it.video ? { video: await read(it.video) } : {}),
})));

test('items with media bytes embed exactly like the same items with paths (and like the reference)', async () => {
  const emb = await embedder;
  const fromFiles = await emb.embed(byPath);
  const fromBytes = await emb.embed(await byBytes);
  assert.deepEqual(fromBytes, fromFiles);
  // Bytes decoded by the protocol module (what a server embeds) give the same vectors too.
  const decoded = decodeRequest(JSON.parse(JSON.stringify(await encodeVlm2VecRequest('m', byPath)))).items;
  assert.deepEqual(await emb.embed(decoded), fromFiles);
  const flat = new Float32Array(fromBytes.length * emb.dim);
  fromBytes.forEach((v, i) => flat.set(v, i * emb.dim));
  const r = compareRows(flat, goldenF32(c, 'embedding'), emb.dim);
  assert.ok(r.minCos >= 0.99999 && r.maxAbs <= 1e-4, `cos ${r.minCos}, max|Δ| ${r.maxAbs}`);
});

test('undecodable media bytes are a MediaError naming the item and the media index', async () => {
  const emb = await embedder;
  const good = await readFile(join(FIXTURES, 'images', 'a.png'));
  const broken = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(40, 7)]);
  const err = await emb.embed([{ text: 'ok' }, { text: '<|video_pad|> v', video: [good, broken] }]).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof MediaError, `got ${String(err)}`);
  assert.match((err as Error).message, /^\[embed\] item 1: video\[1\]: \[image\] <bytes>: /);
  const unknown = await emb.embed([{ text: '<|image_pad|> x', images: [Buffer.from('not an image')] }]).then(() => undefined, (e: unknown) => e);
  assert.ok(unknown instanceof MediaError);
  assert.match((unknown as Error).message, /^\[embed\] item 0: images\[0\]: \[image\] <bytes>: unrecognised image format/);
});

test('the cache key of an item with media bytes equals that of the item naming their files', async () => {
  const h = new FileHasher();
  const items = await byBytes;
  for (const [i, it] of byPath.entries()) {
    assert.deepEqual(await h.itemKey('m', items[i]!), await h.itemKey('m', it), `item ${i}`);
  }
  // The key still depends on the content: other bytes, another key.
  const img = byPath[1]!;
  const other = await h.itemKey('m', { text: img.text, images: [await readFile(join(FIXTURES, 'images', 'b.png'))] });
  assert.notDeepEqual(other, await h.itemKey('m', img));
  // sha256('abc'), the FIPS 180-2 example.
  assert.equal(await h.hashMedia(Buffer.from('abc')), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
});

test('through the cache, bytes items hit the entries their files left, and carry their own bytes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'v2v-bytes-cache-'));
  try {
    const cache = await EmbeddingCache.open(join(dir, 'cache'));
    const seen: { items: EmbedItem[]; held: string[] }[] = [];
    const emb: Embedder = {
      id: 'fake',
      async embed(items: readonly EmbedItem[], ctx?: EmbedContext) {
        seen.push({ items: [...items], held: [...(ctx?.mediaBytes?.keys() ?? [])] });
        return items.map((it) => Float32Array.of(it.text.length, it.images?.length ?? 0, it.video?.length ?? 0));
      },
    };
    const ctx = { role: 'query' as const };
    const first = await embedThroughCache(byPath, { embedder: emb, cache, batchSize: 8, concurrency: 1, ctx });
    assert.equal(first.stats.embedded, 6);
    assert.equal(seen[0]!.held.length, 11); // a.png, b.png, tiny.png and the 8 frames, read once while hashing
    const again = await embedThroughCache(await byBytes, { embedder: emb, cache, batchSize: 8, concurrency: 1, ctx });
    assert.deepEqual(again.stats, { ...first.stats, cached: 6, embedded: 0 });
    assert.deepEqual(again.vectors, first.vectors);
    // New bytes are embedded with nothing put in mediaBytes for them (they travel in the item).
    const fresh: EmbedItem = { text: '<|image_pad|> new', images: [Buffer.from('new bytes')] };
    await embedThroughCache([fresh], { embedder: emb, cache, batchSize: 8, concurrency: 1, ctx });
    assert.equal(seen.length, 2);
    assert.deepEqual(seen[1], { items: [fresh], held: [] });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
