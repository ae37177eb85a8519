// LLaVA-NeXT against transformers' LlavaNextForConditionalGeneration run in float64
// (tools/reference/llava_next_fixtures.py): each golden case's reference batch (ids, mask,
// pixels, image sizes) through our graphs gives the reference last-token hidden state and
// embedding: text, wide / tall / tiny / huge / ordinary images, two images in one prompt, a mixed
// left-padded batch and an images-only batch.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configureRuntime } from '../../tensor/index.ts';
import { assertClose, goldenBatch, goldenCase, goldenF32, MODEL_DIR } from './fixtures.test-helper.ts';
import { LlavaNextModel } from './model.ts';

configureRuntime({ threads: 1 });

const model = LlavaNextModel.load(MODEL_DIR);

for (const name of ['text', 'wide', 'tall', 'tiny', 'huge', 'photo', 'two', 'mixed', 'images_only']) {
  test(`case ${name}: hidden state and embedding equal transformers (float64)`, async () => {
    const m = await model;
    const c = goldenCase(name);
    const out = await m.encode(goldenBatch(c, m.config));
    assertClose(out.hidden, goldenF32(c, 'last_hidden'), m.hiddenSize, `${name} hidden`);
    assertClose(out.embeddings, goldenF32(c, 'embedding'), m.hiddenSize, `${name} embedding`);
  });
}

test('a batch whose <image> tokens do not match its images is refused', async () => {
  const m = await model;
  const b = goldenBatch(goldenCase('wide'), m.config);
  await assert.rejects(m.encode({ ...b, images: [...b.images, b.images[0]!] }), /<image> tokens but its 2 image\(s\) give/);
});
