// The worker-thread embedder gives the reference embeddings and keeps the event loop free.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { compareRows, FIXTURES, goldenCase, goldenF32, TOKENIZER_DIR } from '../models/qwen2-vl/fixtures.test-helper.ts';
import { ThreadedLocalEmbedder } from './local-threaded.ts';
import { MediaError } from './media-error.ts';
import { Vlm2VecError } from '../errors.ts';

test('ThreadedLocalEmbedder: reference embeddings from a worker, errors forwarded, loop not blocked', async () => {
  const emb = await ThreadedLocalEmbedder.load(join(FIXTURES, 'tiny-a'), { tokenizerDir: TOKENIZER_DIR, threads: 1 });
  try {
    const c = goldenCase('a_mixed_left');
    const items = c.items.map((it) => ({
      text: it.text,
      ...(it.images ? { images: it.images.map((p) => join(FIXTURES, p)) } : {}),
      ...(it.video ? { video: it.video.map((p) => join(FIXTURES, p)) } : {}),
    }));
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const got = await emb.embed(items);
    clearInterval(timer);
    assert.ok(ticks > 0, 'the main event loop ran while the worker encoded');
    const flat = new Float32Array(got.length * emb.dim);
    got.forEach((g, i) => flat.set(g, i * emb.dim));
    const r = compareRows(flat, goldenF32(c, 'embedding'), emb.dim);
    assert.ok(r.minCos >= 0.99999 && r.maxAbs <= 1e-4, `cos ${r.minCos} max ${r.maxAbs}`);
    await assert.rejects(emb.embed([{ text: '' }]), (e: unknown) => {
      assert.ok(e instanceof Vlm2VecError && !(e instanceof MediaError));
      assert.match(e.message, /^\[embed\] item 0: empty item/);
      return true;
    });
    // An unreadable image stays a MediaError across the thread (the harness fails only its task).
    await assert.rejects(emb.embed([{ text: '<|image_pad|>x', images: [join(FIXTURES, 'no-such.png')] }]), (e: unknown) => {
      assert.ok(e instanceof MediaError, `got ${String(e)}`);
      assert.match(e.message, /no-such\.png/);
      return true;
    });
  } finally {
    await emb.close();
  }
});

test('ThreadedLocalEmbedder passes dtype float16 to the worker (its own identity, reference embeddings)', async () => {
  const emb = await ThreadedLocalEmbedder.load(join(FIXTURES, 'tiny-a'), { tokenizerDir: TOKENIZER_DIR, threads: 1, dtype: 'float16' });
  try {
    assert.match(emb.id, /\+dtype:float16$/);
    // tiny-a is a bf16 checkpoint, exact in float16: the float32 goldens hold at float32 tolerance.
    const c = goldenCase('a_text');
    const got = await emb.embed(c.items.map((it) => ({ text: it.text })));
    const flat = new Float32Array(got.length * emb.dim);
    got.forEach((g, i) => flat.set(g, i * emb.dim));
    const r = compareRows(flat, goldenF32(c, 'embedding'), emb.dim);
    assert.ok(r.minCos >= 0.99999 && r.maxAbs <= 1e-4, `cos ${r.minCos} max ${r.maxAbs}`);
  } finally {
    await emb.close();
  }
});
