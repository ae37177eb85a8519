// A second architecture registered from this folder alone (toy.ts + model/) embeds through the
// public LocalEmbedder: registry dispatch, the record's pad token and padding side, the Encoder's
// prepare/encode, length-grouped batching and per-item errors. Expected values by hand.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { LocalEmbedder, registerModel, supportedModelTypes } from '../../src/index.ts';
import { TOY_MEAN } from './toy.ts';

registerModel(TOY_MEAN);
const MODEL = join(import.meta.dirname, 'model');
const close = (got: Float32Array, want: number[]): void => {
  assert.equal(got.length, want.length);
  got.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 1e-6, `[${[...got]}] vs [${want}]`));
};

test('a registered toy architecture embeds through LocalEmbedder with hand-computed values', async () => {
  assert.deepEqual(supportedModelTypes(), ['qwen2_vl', 'llava_next', 'phi3_v', 'toy_mean']); // built-ins, then ours
  const emb = await LocalEmbedder.load(MODEL, { batchSize: 2 });
  assert.equal(emb.dim, 2);
  assert.match(emb.id, /^toy_mean:local:/);
  // table rows: a = [1, 0], b = [0, 1], c = [3, 4] (pad = 3 is never averaged in)
  const [ab, c, ac, bbc] = await emb.embed([{ text: 'a b' }, { text: 'c' }, { text: 'a c' }, { text: 'b b c' }]);
  close(ab!, [Math.SQRT1_2, Math.SQRT1_2]); // mean [0.5, 0.5]
  close(c!, [0.6, 0.8]); // [3, 4] / 5
  close(ac!, [Math.SQRT1_2, Math.SQRT1_2]); // mean [2, 2]
  close(bbc!, [1 / Math.sqrt(5), 2 / Math.sqrt(5)]); // mean [1, 2], padded next to 'a c' in a batch of 2
  const { hidden } = await emb.encodePrepared([await emb.prepare({ text: 'b b c' }, 0), await emb.prepare({ text: 'c' }, 1)], 'right');
  close(hidden[0]!, [1, 2]);
  close(hidden[1]!, [3, 4]);
});

test("the toy architecture's own errors name the item", async () => {
  const emb = await LocalEmbedder.load(MODEL);
  const res = await emb.embedSettled([{ text: 'a' }, { text: '<image> a', images: [join(import.meta.dirname, '..', 'fixtures', 'model', 'images', 'a.png')] }]);
  assert.ok(res[0]!.ok);
  assert.ok(!res[1]!.ok && /item 1: .*toy_mean embeds text only/.test(res[1]!.error.message), res[1]!.ok ? '' : res[1]!.error.message);
  await assert.rejects(LocalEmbedder.load(MODEL, { promptStyle: 'qwen2_vl' }), /prompt style qwen2_vl does not fit .*config\.json \(a Toy mean-of-embeddings model: prompt style e5_v\)/);
});
