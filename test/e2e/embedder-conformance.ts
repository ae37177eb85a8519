// One conformance suite for every Embedder implementation (remote endpoints now, the local model
// later): register it with a factory and it checks the contract of src/embed/types.ts.
// Usage (in a *.test.ts): embedderConformance('remote vlm2vec', async () => ({ embedder, media }));

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EmbedItem, Embedder } from '../../src/embed/types.ts';

export interface ConformanceSubject {
  embedder: Embedder;
  /** Paths of two different small image files the embedder can read. */
  images: [string, string];
  /** Frame paths of a short video, or undefined when the embedder cannot take video (reason given). */
  video?: string[] | undefined;
  noVideoReason?: string;
}

/**
 * Register the conformance tests for one embedder.
 *
 * @example
 * embedderConformance('remote (vlm2vec protocol)', async () => ({ embedder, images: [a, b], video: frames }));
 */
export function embedderConformance(name: string, make: () => Promise<ConformanceSubject>): void {
  test(`${name}: one finite vector per item, in order, all of one dimension`, async () => {
    const { embedder, images } = await make();
    const items: EmbedItem[] = [
      { text: 'first' }, { text: '<|image_pad|> second', images: [images[0]] }, { text: 'third' },
    ];
    const out = await embedder.embed(items, { task: 'Conformance', role: 'query' });
    assert.equal(out.length, 3);
    const dim = out[0]!.length;
    assert.ok(dim > 0);
    for (const v of out) {
      assert.ok(v instanceof Float32Array);
      assert.equal(v.length, dim);
      assert.ok(v.every(Number.isFinite));
    }
    // Order: each item alone gives the vector it got in the batch.
    const [alone] = await embedder.embed([items[2]!]);
    assert.deepEqual(alone, out[2]);
  });

  test(`${name}: deterministic, input-sensitive, empty batch, stable id`, async () => {
    const { embedder, images } = await make();
    const id = embedder.id;
    assert.ok(id.length > 0);
    const a = await embedder.embed([{ text: 'x', images: [images[0]] }, { text: 'x', images: [images[1]] }, { text: 'y', images: [images[0]] }]);
    const b = await embedder.embed([{ text: 'x', images: [images[0]] }]);
    assert.deepEqual(a[0], b[0]);
    assert.notDeepEqual(a[0], a[1], 'the image bytes change the vector');
    assert.notDeepEqual(a[0], a[2], 'the text changes the vector');
    assert.deepEqual(await embedder.embed([]), []);
    assert.equal(embedder.id, id);
  });

  test(`${name}: video items`, async (t) => {
    const { embedder, video, noVideoReason } = await make();
    if (!video) {
      t.skip(noVideoReason ?? 'no video support');
      return;
    }
    const [v] = await embedder.embed([{ text: '<|video_pad|> Understand the content of the provided video.', video }]);
    assert.ok(v!.length > 0 && v!.every(Number.isFinite));
  });
}
