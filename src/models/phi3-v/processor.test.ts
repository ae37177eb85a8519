import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { loadImageRGB } from '../../io/media/image.ts';
import { HfTokenizer } from '../../io/text/tokenizer.ts';
import { CASES, readArray, TINY } from './fixtures.test-helper.ts';
import { CROP_SIZE, hdResizeSize, phi3VImageTokens, phi3VPromptIds, processPhi3VImage } from './processor.ts';

const tok = await HfTokenizer.fromFolder(TINY, { paddingSide: 'right', padTokenId: 32000 });
const BOS = 1;

test('tokenizer: the Llama-family tokenizer.json gives the Python tokenizers ids (BOS added as its post-processor does)', () => {
  for (const c of CASES.tokenizer) assert.deepEqual([BOS, ...tok.encode(c.text)], c.ids, JSON.stringify(c.text));
});

test('HD resize arithmetic and token counts (hand-computed)', () => {
  // 234×74: ratio 3.16; s = 6 (6·⌈6/3.16⌉ = 12 ≤ 16, 7·3 = 21 > 16) → 2016 × int(2016/3.162) = 637.
  assert.deepEqual(hdResizeSize(234, 74, 16), [2016, 637]);
  // Portrait: computed transposed. 400×533 → 533/400 = 1.3325, s = 4 → 1344 × 1008, back to 1008 × 1344.
  assert.deepEqual(hdResizeSize(400, 533, 16), [1008, 1344]);
  assert.deepEqual(hdResizeSize(32, 32, 16), [1344, 1344]);
  assert.deepEqual(hdResizeSize(32, 32, 4), [672, 672]);
  // 2 rows × 6 cols: (12 + 1)·144 + 1 + 3·12 = 1909.
  assert.equal(phi3VImageTokens(2, 6), 1909);
  assert.equal(phi3VImageTokens(4, 4), 2509);
});

test('processor: pixel_values, crop grid and token counts equal the reference Phi3VImageProcessor (wide, tall gray, tiny gray, huge; 16 and 4 crops)', async () => {
  const crop = 3 * CROP_SIZE * CROP_SIZE;
  for (const c of CASES.processor) {
    const img = await loadImageRGB(join(TINY, c.image));
    const out = processPhi3VImage(img, { numCrops: c.numCrops });
    assert.deepEqual([out.rows * CROP_SIZE, out.cols * CROP_SIZE], c.imageSize, c.name);
    assert.equal(out.numImgTokens, c.numImgTokens, c.name);
    const real = 1 + out.rows * out.cols;
    assert.equal(c.pixels.shape[0], c.numCrops + 1, c.name); // the reference pads with zero crops
    assert.equal(out.pixelValues.length, real * crop, c.name);
    const samples = readArray(c.pixels.samples) as Float32Array;
    const perCrop = samples.length / c.pixels.shape[0]!;
    let maxDiff = 0;
    let exactCrops = 0;
    for (let k = 0; k < c.pixels.shape[0]!; k++) {
      const mine = k < real ? out.pixelValues.subarray(k * crop, (k + 1) * crop) : new Float32Array(crop);
      const sha = createHash('sha256').update(new Uint8Array(mine.buffer, mine.byteOffset, mine.byteLength)).digest('hex');
      if (sha === c.pixels.sha256[k]) exactCrops++;
      else if (k > 0) assert.fail(`${c.name}: crop ${k} differs from the reference bytes`);
      for (let i = 0; i < perCrop; i++) maxDiff = Math.max(maxDiff, Math.abs(mine[i * c.pixels.stride]! - samples[k * perCrop + i]!));
    }
    // The crops are byte-identical; the global view (torch's float32 bicubic) within 1e-6.
    assert.ok(exactCrops >= c.pixels.shape[0]! - 1, `${c.name}: ${exactCrops} exact crops`);
    assert.ok(maxDiff <= 1e-6, `${c.name}: max |Δ| ${maxDiff}`);
  }
});

test('prompt ids: chunks around <|image_1|> each get BOS, the image becomes −1 × its token count (reference ids)', async () => {
  for (const c of CASES.processor) {
    assert.deepEqual(phi3VPromptIds(tok, c.text, [c.numImgTokens], BOS), c.ids, c.name);
  }
  assert.deepEqual(phi3VPromptIds(tok, 'a <|image_1|> b <|image_2|>', [2, 3], BOS), [BOS, ...tok.encode('a '), -1, -1, BOS, ...tok.encode(' b '), -2, -2, -2, BOS]);
  assert.throws(() => phi3VPromptIds(tok, '<|image_2|> x', [5], BOS), /<\|image_1\|> … <\|image_1\|>/);
  assert.throws(() => phi3VPromptIds(tok, 'no tag', [5], BOS), /for 1 image/);
});
