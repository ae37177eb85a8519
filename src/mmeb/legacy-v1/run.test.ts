import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FileEmbedItem, Embedder } from '../../embed/types.ts';
import { loadImageRGB } from '../../io/media/image.ts';
import { runEvalV1, V1_SUBSETS, type EvalV1Event } from './run.ts';

const FIX = fileURLToPath(new URL('../../../test/fixtures/mmeb/v1', import.meta.url));
const IMAGES = join(FIX, 'images');

let work: string;
before(() => { work = mkdtempSync(join(tmpdir(), 'v2v-v1run-')); });
after(() => rmSync(work, { recursive: true, force: true }));

/**
 * Vectors known by construction: text items by their text (the part after the instruction for
 * queries), image items by the image's file name. Unknown items are an error (so a wrong prompt
 * string fails the test).
 */
const TABLE: Record<string, number[]> = {
  // ImageNet-1K: candidates; the query images embed like their class.
  'cat': [1, 0, 0], 'dog': [0, 1, 0], "it's a bird": [0, 0, 1], 'a "big" fish\nswimming': [0, 1, 0],
  'cat.jpg': [1, 0, 0], 'dog.jpg': [0, 1, 0],
  // MSCOCO_t2i: queries are text; candidates are images, big.png's vector is not unit length.
  'Find me an everyday image that matches the given caption: a gradient': [1, 0, 0],
  'Find me an everyday image that matches the given caption: café au lait': [1, 1, 0],
  'a.png': [1, 0, 0], 'b.png': [0, 1, 0], 'big.png': [3, 3, 0],
  // WebQA: w2 is w1 scaled by 2 (cosine tie → the positive; dot → w2).
  'Find a Wikipedia image that answers this question: where?': [0, 0, 1],
  'w1.png': [0, 0, 1], 'w2.png': [0, 0, 2],
};

interface Seen { text: string; images?: string[] }
function fakeEmbedder(seen: Seen[], opts: { failOnCall?: number } = {}): Embedder {
  let calls = 0;
  return {
    id: 'fake-v1',
    async embed(items: readonly FileEmbedItem[]) {
      calls++;
      if (calls === opts.failOnCall) throw new Error('GPU on fire');
      seen.push(...items.map((i) => ({ text: i.text, ...(i.images ? { images: [...i.images] } : {}) })));
      return items.map((i) => {
        const key = i.images?.length ? basename(i.images[0]!) : i.text;
        const v = TABLE[key];
        if (!v) throw new Error(`fake embedder: unexpected item ${JSON.stringify(i)}`);
        return Float32Array.from(v);
      });
    },
  };
}

const read = (out: string, f: string): string => readFileSync(join(out, f), 'utf8');

test('end to end on the fixture: prompts, unique pairs, argmax with ties, exact result files', async () => {
  const out = join(work, 'dot');
  const seen: Seen[] = [];
  const events: EvalV1Event[] = [];
  const r = await runEvalV1({
    embedder: fakeEmbedder(seen), dataDir: FIX, imageDir: IMAGES, outDir: out,
    subsets: ['ImageNet-1K', 'MSCOCO_t2i', 'WebQA'], batchSize: 4, concurrency: 1, onProgress: (e) => events.push(e),
  });
  assert.deepEqual(r.map((x) => [x.subset, x.status]), [['ImageNet-1K', 'done'], ['MSCOCO_t2i', 'done'], ['WebQA', 'done']]);
  // Unique pairs only: ImageNet 2 queries (3 rows) + 4 targets (9 candidates); MSCOCO 2 + 3 (5
  // candidates); WebQA 1 + 2.
  assert.equal(seen.length, 14);
  const cls = '<|image_pad|> Represent the given image for classification.';
  assert.deepEqual(seen.slice(0, 6), [
    { text: cls, images: [join(IMAGES, 'ImageNet-1K', 'cat.jpg')] },
    { text: cls, images: [join(IMAGES, 'ImageNet-1K', 'dog.jpg')] },
    { text: 'cat' }, { text: 'dog' }, { text: "it's a bird" }, { text: 'a "big" fish\nswimming' },
  ]);
  assert.deepEqual(seen.slice(8, 11).map((s) => s.text), Array(3).fill('<|image_pad|> Represent the given image.'));
  assert.deepEqual(seen[10]!.images, [join(IMAGES, 'MSCOCO_t2i', 'big.png')]);
  assert.deepEqual(seen[12], { text: '<|image_pad|> Represent the given Wikipedia image with related text information: Paris', images: [join(IMAGES, 'WebQA', 'w1.png')] });

  // ImageNet-1K: row 0 right; row 1 ties dog (index 0) with the fish (index 2) → index 0, right;
  // row 2 predicts 'cat' at index 1, wrong.
  assert.equal(read(out, 'ImageNet-1K_score.json'), '{\n    "acc": 0.6666666666666666,\n    "num_correct": 2,\n    "num_pred": 3\n}');
  assert.equal(read(out, 'ImageNet-1K_pred.txt'), "('cat', '')\n('dog', '')\n('cat', '')\n");
  // MSCOCO_t2i by dot product: row 0 scores [1, 0, 3] → big (wrong); row 1 [6, 1] → big (right).
  assert.equal(read(out, 'MSCOCO_t2i_score.json'), '{\n    "acc": 0.5,\n    "num_correct": 1,\n    "num_pred": 2\n}');
  assert.equal(read(out, 'MSCOCO_t2i_pred.txt'),
    "('<|image_1|> Represent the given image.', 'MSCOCO_t2i/big.png')\n('<|image_1|> Represent the given image.', 'MSCOCO_t2i/big.png')\n");
  assert.equal(read(out, 'WebQA_score.json'), '{\n    "acc": 0.0,\n    "num_correct": 0,\n    "num_pred": 1\n}');
  assert.equal(read(out, 'WebQA_pred.txt'), "('<|image_1|> Represent the given Wikipedia image with related text information: Rome', 'WebQA/w2.png')\n");
  assert.ok(events.some((e) => e.type === 'loaded' && e.subset === 'ImageNet-1K' && e.rows === 3 && e.queries === 2 && e.targets === 4));
  assert.ok(events.some((e) => e.type === 'subset-done' && e.subset === 'WebQA' && e.embedded === 3 && e.cached === 0));

  // A rerun skips the finished subsets and embeds nothing.
  const again = await runEvalV1({ embedder: fakeEmbedder(seen), dataDir: FIX, imageDir: IMAGES, outDir: out, subsets: ['WebQA'] });
  assert.deepEqual(again, [{ subset: 'WebQA', status: 'skipped', score: { acc: 0, num_correct: 0, num_pred: 1 } }]);
  assert.equal(seen.length, 14);
});

test('--normalize scores by cosine: the same vectors give other predictions', async () => {
  const out = join(work, 'cos');
  const seen: Seen[] = [];
  await runEvalV1({ embedder: fakeEmbedder(seen), dataDir: FIX, imageDir: IMAGES, outDir: out, subsets: ['MSCOCO_t2i', 'WebQA'], normalize: true });
  // MSCOCO row 0: cos [1, 0, 0.707] → a.png (right); WebQA: cos [1, 1] → tie → index 0 (right).
  assert.equal(read(out, 'MSCOCO_t2i_score.json'), '{\n    "acc": 1.0,\n    "num_correct": 2,\n    "num_pred": 2\n}');
  assert.equal(read(out, 'MSCOCO_t2i_pred.txt'),
    "('<|image_1|> Represent the given image.', 'MSCOCO_t2i/a.png')\n('<|image_1|> Represent the given image.', 'MSCOCO_t2i/big.png')\n");
  assert.equal(read(out, 'WebQA_pred.txt'), "('<|image_1|> Represent the given Wikipedia image with related text information: Paris', 'WebQA/w1.png')\n");
  // Another setting into the same folder is refused.
  await assert.rejects(runEvalV1({ embedder: fakeEmbedder(seen), dataDir: FIX, imageDir: IMAGES, outDir: out, subsets: ['WebQA'] }),
    /\[mmeb-v1\] .* holds results computed with other settings \(normalize: true there, false now\)/);
});

test('resume: after the embedder dies midway, the rerun requests only the missing items', async () => {
  const out = join(work, 'resume');
  const first: Seen[] = [];
  await assert.rejects(runEvalV1({
    embedder: fakeEmbedder(first, { failOnCall: 4 }), dataDir: FIX, imageDir: IMAGES, outDir: out,
    subsets: ['ImageNet-1K'], batchSize: 1, concurrency: 1,
  }), /\[eval\] task ImageNet-1K: embedding failed: .*GPU on fire/);
  assert.equal(first.length, 3); // 2 queries + 'cat', each persisted as its batch returned
  assert.equal(existsSync(join(out, 'ImageNet-1K_score.json')), false);
  const second: Seen[] = [];
  const r = await runEvalV1({ embedder: fakeEmbedder(second), dataDir: FIX, imageDir: IMAGES, outDir: out, subsets: ['ImageNet-1K'], batchSize: 1, concurrency: 1 });
  assert.deepEqual(second.map((s) => s.text), ['dog', "it's a bird", 'a "big" fish\nswimming']);
  assert.equal(r[0]!.score?.num_correct, 2);
  assert.equal(read(out, 'ImageNet-1K_pred.txt'), "('cat', '')\n('dog', '')\n('cat', '')\n");
});

test('image resolution: the embedder gets Pillow-resized copies; phi3_v and llava_next tokens', async () => {
  const seen: Seen[] = [];
  const resizedEmbedder: Embedder = {
    id: 'fake-res',
    async embed(items: readonly FileEmbedItem[]) {
      seen.push(...items.map((i) => ({ text: i.text, ...(i.images ? { images: [...i.images] } : {}) })));
      return items.map(() => Float32Array.of(1, 0));
    },
  };
  const out = join(work, 'low');
  await runEvalV1({ embedder: resizedEmbedder, dataDir: FIX, imageDir: IMAGES, outDir: out, subsets: ['MSCOCO_t2i'], imageResolution: 'low', style: 'llava_next' });
  const imgs = seen.filter((s) => s.images).map((s) => s.images![0]!);
  assert.equal(imgs.length, 3);
  for (const p of imgs) {
    assert.ok(p.startsWith(join(out, '.v1-images')), p);
    const im = await loadImageRGB(p);
    assert.deepEqual([im.width, im.height], [128, 128]);
  }
  assert.ok(seen.filter((s) => s.images).every((s) => s.text === '<image> Represent the given image.'));
  // All scores tie: every row predicts its positive.
  assert.equal(read(out, 'MSCOCO_t2i_score.json'), '{\n    "acc": 1.0,\n    "num_correct": 2,\n    "num_pred": 2\n}');

  seen.length = 0;
  await runEvalV1({ embedder: resizedEmbedder, dataDir: FIX, imageDir: IMAGES, outDir: join(work, 'phi'), subsets: ['MSCOCO_t2i'], imageResolution: 'low', style: 'phi3_v' });
  const phi = seen.filter((s) => s.images);
  assert.deepEqual(phi.map((s) => s.images![0]), ['a.png', 'b.png', 'big.png'].map((f) => join(IMAGES, 'MSCOCO_t2i', f)));
  assert.ok(phi.every((s) => s.text === '<|image_1|> Represent the given image.'));
});

test('missing data fails that subset alone; a missing image names the row', async () => {
  const images = join(work, 'images-partial');
  cpSync(IMAGES, images, { recursive: true });
  rmSync(join(images, 'ImageNet-1K', 'dog.jpg'));
  const seen: Seen[] = [];
  const r = await runEvalV1({ embedder: fakeEmbedder(seen), dataDir: FIX, imageDir: images, outDir: join(work, 'partial'), subsets: ['Nope', 'ImageNet-1K', 'WebQA'] });
  assert.deepEqual(r.map((x) => [x.subset, x.status]), [['Nope', 'failed'], ['ImageNet-1K', 'failed'], ['WebQA', 'done']]);
  assert.match(r[0]!.error!, /subset 'Nope'/);
  assert.match(r[1]!.error!, /image .*ImageNet-1K\/dog\.jpg \(field 'qry_img_path' of .*ImageNet-1K\/test-00000-of-00001\.parquet row 1\) not found/);
  assert.equal(existsSync(join(work, 'partial', 'ImageNet-1K_score.json')), false);
  await assert.rejects(runEvalV1({ embedder: fakeEmbedder(seen), dataDir: FIX, imageDir: join(work, 'nope'), outDir: join(work, 'x') }),
    /\[mmeb-v1\] image folder \(--image-dir\) .*nope does not exist/);
  await assert.rejects(runEvalV1({ embedder: fakeEmbedder(seen), dataDir: FIX, imageDir: IMAGES, outDir: join(work, 'y'), style: 'gme' as 'phi3_v' }),
    /style 'gme' has no image token in the V1 harness/);
  const file = join(work, 'a-file');
  cpSync(join(IMAGES, 'WebQA', 'w1.png'), file);
  await assert.rejects(runEvalV1({ embedder: fakeEmbedder(seen), dataDir: FIX, imageDir: IMAGES, outDir: file }), /output folder .*a-file is a file/);
  await assert.rejects(runEvalV1({ embedder: fakeEmbedder(seen), dataDir: file, imageDir: IMAGES, outDir: join(work, 'z') }), /data folder \(--data\) .*a-file is not a folder/);
});

test('the default subsets are the 36 MMEB datasets', () => {
  assert.equal(V1_SUBSETS.length, 36);
  for (const s of ['ImageNet-1K', 'MSCOCO_t2i', 'Visual7W-Pointing', 'RefCOCO-Matching', 'Wiki-SS-NQ']) assert.ok(V1_SUBSETS.includes(s), s);
  assert.ok(!V1_SUBSETS.includes('CIFAR-100'));
});
