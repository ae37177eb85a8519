import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { loadImageRGB } from '../../io/media/image.ts';
import { expandPlaceholders, processImages, resizeForQwen2VL, roundHalfEven, smartResize } from './processor.ts';

const dir = new URL('../../../test/fixtures/io/images/', import.meta.url);
interface Entry {
  file: string; width: number; height: number; tiny: boolean; resized: [number, number];
  grid_thw: [number, number, number]; n_patches: number; rows: number[]; pixel_values_sha256: string;
}
const index = JSON.parse(readFileSync(new URL('index.json', dir), 'utf8')) as {
  images: Entry[]; min_pixels: number; max_pixels: number;
  custom_limits: { min_pixels: number; max_pixels: number; images: { file: string; grid_thw: number[]; pixel_values_sha256: string }[] };
};

function f32(path: URL): Float32Array {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}
function f64(path: URL): Float64Array {
  const b = readFileSync(path);
  return new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

test('smart_resize: the worked sizes of the model spec and banker\'s rounding', () => {
  // (h, w) → (h̄, w̄) from docs/vlm2vec.md §1.4 (min 3,136 / max 1,003,520).
  assert.deepEqual(smartResize(480, 640), [476, 644]);
  assert.deepEqual(smartResize(224, 224), [224, 224]);
  assert.deepEqual(smartResize(240, 320), [252, 308]);
  assert.deepEqual(smartResize(1080, 1920), [728, 1316]);
  assert.deepEqual(smartResize(1344, 1344), [980, 980]);
  assert.deepEqual(smartResize(70, 70), [56, 56]); // 2.5 rounds to 2, not 3
  assert.deepEqual(smartResize(98, 98), [112, 112]); // 3.5 rounds to 4
  assert.equal(roundHalfEven(2.5), 2);
  assert.equal(roundHalfEven(3.5), 4);
  assert.equal(roundHalfEven(2.4999999), 2);
  // min_pixels branch: 28×28 → area 784 < 3136 → β = 2 → 56×56.
  assert.deepEqual(smartResize(28, 28), [56, 56]);
  // VLM2Vec's extreme-case rule: aspect > 200 squares to max side before resizing.
  assert.deepEqual(smartResize(30, 6100), smartResize(6100, 6100));
  // configurable bounds: max 28·28·4 forces 56×56 for a 1000×1000 image.
  assert.deepEqual(smartResize(1000, 1000, { maxPixels: 28 * 28 * 4 }), [56, 56]);
});

test('full image pipeline equals transformers Qwen2VLImageProcessorPil on every fixture image', async () => {
  assert.equal(index.min_pixels, 3136);
  assert.equal(index.max_pixels, 1003520);
  for (const e of index.images) {
    const stem = e.file.replace(/^src\//, '').replace(/\.[^.]+$/, '');
    const img = await loadImageRGB(new URL(e.file, dir).pathname);
    // resized uint8 identical to Pillow
    const resized = resizeForQwen2VL(img);
    const gold = await sharp(new URL(`golden/${stem}.resized.png`, dir).pathname, { ignoreIcc: true }).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([resized.height, resized.width], e.resized, `${e.file} resized size`);
    assert.equal(gold.info.channels, 3);
    assert.ok(Buffer.from(resized.data).equals(gold.data), `${e.file}: resized uint8 differs from Pillow`);
    // grids and patch values
    const out = processImages([img]);
    assert.deepEqual(out.gridThw, [e.grid_thw], `${e.file} grid`);
    assert.equal(out.numPatches, e.n_patches);
    assert.equal(out.patchDim, 1176);
    const rows = f32(new URL(`golden/${stem}.rows.f32`, dir));
    e.rows.forEach((r, k) => {
      for (let j = 0; j < 1176; j++) {
        const d = Math.abs(out.pixelValues[r * 1176 + j]! - rows[k * 1176 + j]!);
        if (d > 1e-6) assert.fail(`${e.file} row ${r} col ${j}: ${out.pixelValues[r * 1176 + j]} vs ${rows[k * 1176 + j]}`);
      }
    });
    const colsum = f64(new URL(`golden/${stem}.colsum.f64`, dir));
    for (let j = 0; j < 1176; j++) {
      let s = 0;
      for (let r = 0; r < out.numPatches; r++) s += out.pixelValues[r * 1176 + j]!;
      assert.ok(Math.abs(s - colsum[j]!) <= 1e-6 * out.numPatches, `${e.file} column ${j} sum ${s} vs ${colsum[j]}`);
    }
    const sha = createHash('sha256').update(new Uint8Array(out.pixelValues.buffer, out.pixelValues.byteOffset, out.pixelValues.byteLength)).digest('hex');
    assert.equal(sha, e.pixel_values_sha256, `${e.file}: pixel_values not bit-identical`);
  }
});

test('configurable min/max pixels match the reference processor built with the same bounds', async () => {
  const { min_pixels: minPixels, max_pixels: maxPixels, images } = index.custom_limits;
  assert.equal(maxPixels, 12544);
  for (const e of images) {
    const img = await loadImageRGB(new URL(e.file, dir).pathname);
    const out = processImages([img], { minPixels, maxPixels });
    assert.deepEqual(out.gridThw, [e.grid_thw], `${e.file} grid`);
    const sha = createHash('sha256').update(new Uint8Array(out.pixelValues.buffer, out.pixelValues.byteOffset, out.pixelValues.byteLength)).digest('hex');
    assert.equal(sha, e.pixel_values_sha256, `${e.file} pixel_values`);
  }
  assert.throws(() => processImages([], { minPixels: 10, maxPixels: 5 }), /\[processor\] minPixels 10 exceeds maxPixels 5/);
});

test('several images: patches concatenated in order, one grid each', async () => {
  const a = await loadImageRGB(new URL('src/crop-70x70.png', dir).pathname);
  const b = await loadImageRGB(new URL('src/tcllogo.gif', dir).pathname);
  const both = processImages([a, b]);
  const ea = processImages([a]);
  const eb = processImages([b]);
  assert.deepEqual(both.gridThw, [[1, 4, 4], [1, 8, 4]]);
  assert.equal(both.numPatches, 16 + 32);
  assert.deepEqual(both.pixelValues.subarray(0, ea.pixelValues.length), ea.pixelValues);
  assert.deepEqual(both.pixelValues.subarray(ea.pixelValues.length), eb.pixelValues);
});

test('placeholder expansion: grid_t·grid_h·grid_w/4 tokens per placeholder, in order', () => {
  const I = '<|image_pad|>';
  const V = '<|video_pad|>';
  assert.equal(expandPlaceholders(`${I} Represent`, { imageGrids: [[1, 4, 4]] }), `${I.repeat(4)} Represent`);
  assert.equal(
    expandPlaceholders(`a${I}b${I}c`, { imageGrids: [[1, 2, 2], [1, 4, 6]] }),
    `a${I}b${I.repeat(6)}c`,
  );
  assert.equal(expandPlaceholders(`${V} video`, { videoGrids: [[4, 8, 12]] }), `${V.repeat(96)} video`);
  assert.throws(() => expandPlaceholders(`${I}${I}`, { imageGrids: [[1, 2, 2]] }), /\[processor\] prompt has 2 <\|image_pad\|> placeholder\(s\) but 1 image grid/);
  assert.throws(() => expandPlaceholders('no image', { imageGrids: [[1, 2, 2]] }), /has 0 <\|image_pad\|>/);
});
