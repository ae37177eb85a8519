import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { parsePreprocessorConfig, parseTokenizerConfig } from './hf-configs.ts';

test('preprocessor_config.json: size vs legacy min/max_pixels vs caller overrides, defaults', async () => {
  // transformers' Qwen2VLImageProcessor: min_pixels/max_pixels override size; defaults 56·56 / 28·28·1280.
  const d = parsePreprocessorConfig({});
  assert.deepEqual([d.minPixels, d.maxPixels, d.patchSize, d.temporalPatchSize, d.mergeSize, d.resample], [3136, 1003520, 14, 2, 2, 3]);
  assert.deepEqual(d.imageStd, [0.26862954, 0.26130258, 0.27577711]);
  assert.equal(d.rescaleFactor, 1 / 255);
  assert.equal(parsePreprocessorConfig({ size: { shortest_edge: 100, longest_edge: 200 } }).maxPixels, 200);
  assert.equal(parsePreprocessorConfig({ size: { shortest_edge: 100, longest_edge: 200 }, max_pixels: 300 }).maxPixels, 300);
  assert.equal(parsePreprocessorConfig({ max_pixels: 300 }, 'p.json', { maxPixels: 1003520 }).maxPixels, 1003520);
  const real = parsePreprocessorConfig(JSON.parse(await readFile('test/fixtures/io/models/qwen2vl-tiny-flat/preprocessor_config.json', 'utf8')));
  assert.deepEqual([real.minPixels, real.maxPixels, real.imageProcessorType], [3136, 12845056, 'Qwen2VLImageProcessor']);
  assert.throws(() => parsePreprocessorConfig({ min_pixels: 10, max_pixels: 5 }, 'p.json'), /p\.json: min_pixels 10 is larger than max_pixels 5/);
  assert.throws(() => parsePreprocessorConfig({ image_mean: [0.5, 0.5] }, 'p.json'), /p\.json: image_mean/);
  assert.throws(() => parsePreprocessorConfig({ patch_size: 14.5 }, 'p.json'), /p\.json: patch_size/);
});

test('tokenizer_config.json: string or AddedToken-dict special tokens, padding side', () => {
  const c = parseTokenizerConfig({ pad_token: { content: '<|endoftext|>', lstrip: false }, eos_token: '<|im_end|>', bos_token: null, padding_side: 'left', chat_template: '...' });
  assert.deepEqual(c, { padToken: '<|endoftext|>', eosToken: '<|im_end|>', bosToken: undefined, addBosToken: undefined, paddingSide: 'left', modelMaxLength: undefined, tokenizerClass: undefined });
  assert.equal(parseTokenizerConfig({ add_bos_token: false }).addBosToken, false);
  assert.throws(() => parseTokenizerConfig({ pad_token: 5 }, 't.json'), /\[tokenizer\] t\.json: pad_token/);
});
