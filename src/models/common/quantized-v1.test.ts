// --dtype int8 | q4 | q4-128 on the V1 backbones (LocalEmbedder, as embed / eval / serve load
// them): the shared quantized loading (common/weights.ts, common/quantize.ts) holds their linear
// matrices and token tables quantized and the embeddings stay close to float32's on the tiny
// models' fixture items (a text-only and an image row). Tolerances from the measured values (see
// CASES).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { LocalEmbedder } from '../../embed/local.ts';
import { formatInput } from '../../embed/prompt.ts';
import { configureRuntime } from '../../tensor/index.ts';

configureRuntime({ threads: 1 });

const MODELS = join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'model');
const IMAGES = join(MODELS, '..', 'io', 'images', 'src');

// Smallest cosine to float32 over the items, held a little below the measured value (in
// parentheses). int8 (per-channel weights, 8-bit activations) stays close; 4-bit blocks on these
// tiny random models (widths 32-48, rows of 32 or 40 values: one block per row) lose much more than
// on real widths (docs/quantization.md), Phi-3-V most (its 40-wide MLP rows, LongRoPE). Values
// before the token tables were quantized in brackets. Phi-3-V's tiny CLIP tower (336 px, width 32)
// has a position table of 577 × 32, more rows than width, so it is quantized too (a released
// CLIP-L/336's 577 × 1024 stays float16); alone it moves int8 from 0.99427 to 0.99330.
const CASES = [
  {
    name: 'phi3-v', dir: join(MODELS, 'tiny-phi3v'), style: 'phi3_v' as const, image: join(MODELS, 'tiny-phi3v', 'images', 'square.jpg'),
    minCos: { int8: 0.992 /* 0.99330 [0.99530] */, q4: 0.77 /* 0.79693 [0.81465] */, 'q4-128': 0.78 /* 0.81859 [0.81967] */ },
  },
  {
    name: 'llava-next', dir: join(MODELS, 'tiny-llava'), style: 'llava_next' as const, image: join(IMAGES, 'futureprototype-grub-p-640x480.png'),
    minCos: { int8: 0.9995 /* 0.99987 [0.99989] */, q4: 0.93 /* 0.95256 [0.95268] */, 'q4-128': 0.92 /* 0.94207 [0.94375] */ },
  },
];

for (const c of CASES) {
  test(`${c.name}: --dtype int8 / q4 / q4-128 load quantized and embed close to float32 (text and image items)`, async () => {
    const items = [
      formatInput({ text: 'A small dog running across a wet beach at sunset.' }, c.style),
      formatInput({ instruction: 'Represent the given image.', images: [c.image] }, c.style),
    ];
    const f32 = await LocalEmbedder.load(c.dir);
    const want = await f32.embed(items);
    await f32.close();
    for (const dtype of ['int8', 'q4', 'q4-128'] as const) {
      const q = await LocalEmbedder.load(c.dir, { dtype });
      try {
        assert.equal(q.encoder.dtype, dtype, 'the weights are held quantized');
        assert.match(q.id, new RegExp(`\\+dtype:${dtype}\\+quant:r2$`));
        const got = await q.embed(items);
        const cos = Math.min(...got.map((g, i) => g.reduce((s, v, k) => s + v * want[i]![k]!, 0)));
        assert.ok(cos >= c.minCos[dtype] && cos < 0.9999999, `${dtype}: min cos ${cos} to float32 (≥ ${c.minCos[dtype]}, and not float32 itself)`);
      } finally {
        await q.close();
      }
    }
  });
}
