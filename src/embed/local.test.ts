// LocalEmbedder end to end: image files / frame files + prompts → our processor, the real Qwen
// tokenizer, batching by length with left padding → embeddings vs transformers 5.18 run on the
// reference processor's outputs (tools/reference/model_qwen2vl.py).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configureRuntime } from '../tensor/index.ts';
import { compareRows, FIXTURES, goldenArray, goldenCase, goldenF32, TOKENIZER_DIR } from '../models/qwen2-vl/fixtures.test-helper.ts';
import type { GoldenItem } from '../models/qwen2-vl/fixtures.test-helper.ts';
import { LocalEmbedder } from './local.ts';
import { MediaError } from './media-error.ts';
import type { EmbedItem } from './types.ts';

configureRuntime({ threads: 1 });

const abs = (it: GoldenItem): EmbedItem => ({
  text: it.text,
  ...(it.images ? { images: it.images.map((p) => join(FIXTURES, p)) } : {}),
  ...(it.video ? { video: it.video.map((p) => join(FIXTURES, p)) } : {}),
});

const embedder = LocalEmbedder.load(join(FIXTURES, 'tiny-a'), { tokenizerDir: TOKENIZER_DIR, batchSize: 4 });

function check(got: Float32Array[], want: Float32Array, dim: number, what: string): void {
  const flat = new Float32Array(got.length * dim);
  got.forEach((g, i) => flat.set(g, i * dim));
  const r = compareRows(flat, want, dim);
  assert.ok(r.minCos >= 0.99999 && r.maxAbs <= 1e-4, `${what}: cos ${r.minCos}, max|Δ| ${r.maxAbs}`);
}

test('token ids from our tokenizer + placeholder expansion equal the reference processor', async () => {
  const emb = await embedder;
  const c = goldenCase('a_mixed_right');
  const ids = goldenArray(c, 'input_ids')!;
  const mask = goldenArray(c, 'attention_mask')!.data as BigInt64Array;
  const l = ids.shape[1]!;
  for (const [r, it] of c.items.entries()) {
    const p = await emb.prepare(abs(it), r);
    const want: number[] = [];
    for (let j = 0; j < l; j++) if (mask[r * l + j] === 1n) want.push(Number((ids.data as BigInt64Array)[r * l + j]));
    assert.deepEqual(p.ids, want, `row ${r}`);
  }
});

test('mixed items (text, image, video, 3 images, tiny image) batched by length match the reference', async () => {
  const emb = await embedder;
  for (const name of ['a_mixed_left', 'a_text', 'a_image', 'a_video', 'a_multi3', 'a_gme']) {
    const c = goldenCase(name);
    const got = await emb.embed(c.items.map(abs));
    check(got, goldenF32(c, 'embedding'), emb.dim, name);
    for (const v of got) assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-5, 'unit norm');
  }
});

test('right padding pools the last real token and gives the same embeddings', async () => {
  const emb = await embedder;
  const c = goldenCase('a_mixed_right');
  const prepared = await Promise.all(c.items.map((it, i) => emb.prepare(abs(it), i)));
  const { hidden, embeddings } = await emb.encodePrepared(prepared, 'right');
  check(hidden, goldenF32(c, 'last_hidden'), emb.dim, 'right-padded hidden');
  check(embeddings, goldenF32(c, 'embedding'), emb.dim, 'right-padded embeddings');
});

test('base model + DoRA adapter folder merged at load', async () => {
  const emb = await LocalEmbedder.load(join(FIXTURES, 'tiny-a'), { adapter: join(FIXTURES, 'tiny-a-dora'), tokenizerDir: TOKENIZER_DIR });
  const c = goldenCase('dora_mixed_left');
  check(await emb.embed(c.items.map(abs)), goldenF32(c, 'embedding'), emb.dim, 'dora');
});

test('bad items are reported by index; embedSettled keeps the good ones', async () => {
  const emb = await embedder;
  const img = join(FIXTURES, 'images', 'a.png');
  await assert.rejects(emb.embed([{ text: 'ok' }, { text: 'no placeholder', images: [img] }]), /item 1: .*0 <\|image_pad\|> placeholder\(s\) but 1 image/);
  await assert.rejects(emb.embed([{ text: '<|image_pad|> x', images: [join(FIXTURES, 'missing.png')] }]), /item 0: .*cannot read image file/);
  await assert.rejects(emb.embed([{ text: '' }]), /item 0: empty item/);
  const c = goldenCase('a_text');
  const res = await emb.embedSettled([{ text: '' }, ...c.items.map(abs), { text: 'x', images: [img] }]);
  assert.equal(res.length, 3);
  assert.ok(!res[0]!.ok && /empty item/.test(res[0]!.error.message));
  assert.ok(!res[2]!.ok && /item 2/.test(res[2]!.error.message));
  assert.ok(res[1]!.ok);
  check([res[1]!.embedding], goldenF32(c, 'embedding'), emb.dim, 'settled good item');
});

test('a text-only item keeping <|image_pad|> (WebQA queries) embeds it as one ordinary token, alone and batched with media', async () => {
  const emb = await embedder;
  const alone = goldenCase('a_text_pad');
  const p = await emb.prepare(abs(alone.items[0]!), 0);
  assert.deepEqual(p.ids, Array.from(goldenArray(alone, 'input_ids')!.data as BigInt64Array, Number), 'ids: the placeholder is not expanded');
  assert.equal(p.ids.filter((x) => x === 151655).length, 1);
  check(await emb.embed(alone.items.map(abs)), goldenF32(alone, 'embedding'), emb.dim, 'a_text_pad');
  // batchSize 4: the text-only row shares one batch with an image row, a video row and a text row.
  const c = goldenCase('a_text_pad_mixed');
  check(await emb.embed(c.items.map(abs)), goldenF32(c, 'embedding'), emb.dim, 'a_text_pad_mixed');
  const settled = await emb.embedSettled(c.items.map(abs));
  check(settled.map((r) => (r.ok ? r.embedding : new Float32Array(emb.dim))), goldenF32(c, 'embedding'), emb.dim, 'a_text_pad_mixed settled');
});

test('an undecodable image is a MediaError naming the item and the file', async () => {
  const emb = await embedder;
  const dir = await mkdtemp(join(tmpdir(), 'v2v-local-bad-'));
  try {
    const bad = join(dir, 'broken.png');
    await writeFile(bad, Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(40, 7)]));
    const err = await emb.embed([{ text: 'ok' }, { text: '<|image_pad|> x', images: [bad] }]).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof MediaError, `got ${String(err)}`);
    assert.match((err as Error).message, new RegExp(`item 1: \\[image\\] .*broken\\.png`));
    // Which media of which item, for a server's 400 answer (input[1].images[0]).
    assert.deepEqual((err as MediaError).media, { item: 1, kind: 'images', index: 0 });
    // A model-side error (a placeholder without its image) is not a media error.
    const other = await emb.embed([{ text: 'no placeholder', images: [join(FIXTURES, 'images', 'a.png')] }]).then(() => undefined, (e: unknown) => e);
    assert.ok(other instanceof Error && !(other instanceof MediaError));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
