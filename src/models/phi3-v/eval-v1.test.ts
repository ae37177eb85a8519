import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { LocalEmbedder } from '../../embed/local.ts';
import type { Embedder, EmbedItem } from '../../embed/types.ts';
import { runEvalV1 } from '../../mmeb/legacy-v1/run.ts';
import { CASES, FIXTURES, TINY } from './fixtures.test-helper.ts';

const V1 = join(FIXTURES, '..', 'mmeb', 'v1');
const IMAGES = join(V1, 'images');

test('eval-v1 --style phi3_v on tiny-phi3v: <|image_1|> kept, original images, and the reference V1 embeddings and score', async () => {
  const golden = CASES.evalV1;
  const inner = await LocalEmbedder.load(TINY, { onLoad: () => {} });
  const seen: { item: EmbedItem; vec: Float32Array }[] = [];
  const recording: Embedder = {
    id: inner.id,
    async embed(items) {
      const out = await inner.embed(items);
      items.forEach((item, i) => seen.push({ item, vec: out[i]! }));
      return out;
    },
  };
  const out = await mkdtemp(join(tmpdir(), 'phi3v-evalv1-'));
  try {
    await runEvalV1({ embedder: recording, dataDir: V1, imageDir: IMAGES, outDir: out, subsets: [golden.subset], style: 'phi3_v', imageResolution: 'high', normalize: true, cacheDir: null });
    // Every unique item was embedded as the reference embeds it (stored prompt, original image file).
    for (const g of golden.items) {
      const hit = seen.find((s) => s.item.text === g.text && (g.image === '' ? !s.item.images?.length : relative(IMAGES, String(s.item.images?.[0] ?? '')) === g.image));
      assert.ok(hit, `item ${JSON.stringify(g.text)} ${g.image} was not embedded as the reference embeds it`);
      let m = 0;
      for (let j = 0; j < g.embedding.length; j++) m = Math.max(m, Math.abs(hit.vec[j]! - g.embedding[j]!));
      assert.ok(m <= 1e-5, `${g.text} ${g.image}: max |Δ| ${m}`);
    }
    const score = JSON.parse(await readFile(join(out, `${golden.subset}_score.json`), 'utf8')) as Record<string, number>;
    assert.deepEqual(score, golden.score);
  } finally {
    await inner.close();
    await rm(out, { recursive: true, force: true });
  }
});
