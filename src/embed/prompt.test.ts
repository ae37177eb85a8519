// The prompt helper per backbone (docs/mmeb.md §3.1); expected strings written out by hand.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePromptStyle, processInputText, replaceImage1, stripImage1, videoToken } from './prompt.ts';

const INST = 'Find a document image that matches the given query:';

test('default styles: instruction [+ " " + text], video then image token prepended', () => {
  assert.equal(processInputText(INST, 'qwen2_vl', { text: 'revenue 2021' }), `${INST} revenue 2021`);
  assert.equal(processInputText(INST, 'qwen2_vl', { text: '' }), INST);
  assert.equal(processInputText('Understand.', 'qwen2_vl', { addImageToken: true }), '<|image_pad|> Understand.');
  assert.equal(processInputText('Understand.', 'qwen2_5_vl', { addVideoToken: true }), '<|video_pad|> Understand.');
  // both tokens: image outermost
  assert.equal(processInputText('I', 'qwen2_vl', { text: 't', addVideoToken: true, addImageToken: true }), '<|image_pad|> <|video_pad|> I t');
  assert.equal(processInputText('I', 'llava_next', { addVideoToken: true }), '<image> I');
  assert.equal(processInputText('I', 'phi3_v', { addImageToken: true }), '<|image_1|> I');
  // colpali: empty token, the separating space stays
  assert.equal(processInputText('I', 'colpali', { addImageToken: true }), ' I');
});

test('gme / lamra: no tokens, a trailing space without text', () => {
  assert.equal(processInputText('I', 'gme', { text: 'q', addImageToken: true }), 'I q');
  assert.equal(processInputText('I', 'lamra', { addVideoToken: true }), 'I ');
  assert.equal(processInputText('I', 'lamra_qwen25', { text: '' }), 'I ');
});

test('internvideo2 keeps only the text; e5_v uses the Llama-3 summary template and drops the instruction', () => {
  assert.equal(processInputText('I', 'internvideo2', { text: 'hello' }), 'hello');
  const head = '<|start_header_id|>user<|end_header_id|>\n\n';
  const tail = '<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n \n';
  assert.equal(processInputText('I', 'e5_v', { text: 'a cat' }), `${head}a cat\nSummary above sentence in one word: ${tail}`);
  assert.equal(processInputText('I', 'e5_v', { addImageToken: true }), `${head}<image>\nSummary above image in one word: ${tail}`);
  assert.equal(processInputText('I', 'e5_v', { addVideoToken: true }), `${head}<image>\nSummary above video in one word: ${tail}`);
  assert.equal(processInputText('I', 'e5_v', { text: 'q', addImageToken: true }), `${head}<image>\nq\nSummary above image and text in one word: ${tail}`);
  assert.equal(processInputText('I', 'e5_v', { text: '', addVideoToken: true }), `${head}<image>\n\nSummary above video and text in one word: ${tail}`);
  assert.throws(() => processInputText('I', 'e5_v'), /e5_v prompt needs a text or a visual token/);
});

test('<|image_1|> replacement and removal; Phi-3-V has no video token; unknown style', () => {
  assert.equal(replaceImage1('<|image_1|>\nA <|image_1|> B', 'qwen2_vl'), '<|image_pad|>\nA <|image_pad|> B');
  assert.equal(replaceImage1('<|image_1|> A', 'phi3_v'), '<|image_1|> A');
  assert.equal(replaceImage1('<|image_1|> A', 'colpali'), ' A');
  assert.equal(stripImage1('<|image_1|> Represent'), ' Represent');
  assert.throws(() => videoToken('phi3_v'), /\[prompt\] prompt style 'phi3_v' has no video token/);
  assert.throws(() => parsePromptStyle('qwen3_vl'), /unknown prompt style 'qwen3_vl': expected one of qwen2_vl, /);
  assert.equal(parsePromptStyle('llava_next'), 'llava_next');
});

test('formatInput adds the placeholders the media call for', async () => {
  const { formatInput } = await import('./prompt.ts');
  assert.deepEqual(formatInput({ instruction: 'Represent the given image.', images: ['/x.jpg'] }, 'qwen2_vl'),
    { text: '<|image_pad|> Represent the given image.', images: ['/x.jpg'] });
  assert.deepEqual(formatInput({ instruction: 'Find a video:', text: 'a dog', video: ['/f1.jpg', '/f2.jpg'] }),
    { text: '<|video_pad|> Find a video: a dog', video: ['/f1.jpg', '/f2.jpg'] });
  assert.deepEqual(formatInput({ text: 'plain' }, 'qwen2_vl'), { text: 'plain' });
  assert.deepEqual(formatInput({ instruction: '', text: 'plain' }, 'qwen2_vl'), { text: ' plain' });
  assert.deepEqual(formatInput({ text: 'a cat', images: ['/c.png'] }, 'qwen2_vl'), { text: '<|image_pad|> a cat', images: ['/c.png'] });
  assert.throws(() => formatInput({ instruction: 'x', images: ['/a', '/b'] }, 'qwen2_vl'), /2 images; the qwen2_vl prompt format takes at most one/);
});

test('checkPlaceholders: counts per style', async () => {
  const { checkPlaceholders } = await import('./prompt.ts');
  checkPlaceholders({ text: '<|image_pad|> a', images: ['/x'] }, 'qwen2_vl');
  checkPlaceholders({ text: '<|video_pad|> a', video: ['/1', '/2'] }, 'qwen2_vl');
  checkPlaceholders({ text: '<image> <image> a', images: ['/x'], video: ['/1'] }, 'llava_next');
  checkPlaceholders({ text: 'no tokens', images: ['/x'] }, 'gme');
  assert.throws(() => checkPlaceholders({ text: '<|image_pad|> a', images: [] }, 'qwen2_vl'), /1 <\|image_pad\|> placeholder\(s\) but 0 image\(s\)/);
  assert.throws(() => checkPlaceholders({ text: 'a', video: ['/1'] }, 'qwen2_vl'), /0 <\|video_pad\|> placeholder\(s\) but 1 video/);
  assert.throws(() => checkPlaceholders({ text: '<image> a', images: ['/x'], video: ['/1'] }, 'e5_v'), /1 <image> placeholder\(s\) but 1 image\(s\) and 1 video/);
});
