// Image parsers on the fixture rows (tools/reference/mmeb_fixtures.py). Every expected prompt is
// written out by hand from docs/mmeb.md §3.2; none is produced by our code.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getTask } from '../tasks/registry.ts';
import { loadTask } from './index.ts';
import { FIXTURE_DATA, rel } from './fixtures.test-helper.ts';

const load = (name: string, style?: 'qwen2_vl' | 'phi3_v' | 'llava_next' | 'gme') =>
  loadTask(getTask(name), { dataDir: FIXTURE_DATA, ...(style ? { style } : {}) });

test('image_cls: instruction token moved to the front, " \\n" fixed, trailing newline; duplicate candidates kept', async () => {
  const t = await load('ImageNet-1K');
  assert.equal(t.queries.length, 2);
  const [a, b] = t.queries;
  assert.equal(a!.item.text, '<|image_pad|>\nRepresent the given image for classification\n');
  assert.deepEqual(rel(FIXTURE_DATA, a!.item.images), ['image-tasks/ImageNet-1K/val/n01440764_1.JPEG']);
  assert.deepEqual(a!.candidates.map((c) => c.key), ['tench', 'goldfish', 'tench']);
  assert.deepEqual(a!.candidates.map((c) => c.item), [{ text: 'tench' }, { text: 'goldfish' }, { text: 'tench' }]);
  assert.deepEqual(a!.label, ['tench']);
  assert.equal(a!.relScores, null);
  // qry_text "Line one \nline two": its own " \n" is fixed too
  assert.equal(b!.item.text, '<|image_pad|>\nRepresent the given image for classification Line one\nline two\n');
  assert.deepEqual(t.corpus, []);
});

test('image_cls with other backbones: phi3_v keeps <|image_1|>, llava_next uses <image>, gme adds no token', async () => {
  assert.equal((await load('ImageNet-1K', 'phi3_v')).queries[0]!.item.text, '<|image_1|>\nRepresent the given image for classification\n');
  assert.equal((await load('ImageNet-1K', 'llava_next')).queries[0]!.item.text, '<image>\nRepresent the given image for classification\n');
  // gme: instruction + " " (empty text); the trailing space is not followed by "\n" until the final append
  assert.equal((await load('ImageNet-1K', 'gme')).queries[0]!.item.text, '\nRepresent the given image for classification \n');
});

test('image_qa: instruction stripped and prefixed with a newline', async () => {
  const q = (await load('OK-VQA')).queries[0]!;
  assert.equal(q.item.text, '<|image_pad|>\nRepresent the given image with the following question: What is the man holding?\n');
  assert.deepEqual(q.candidates.map((c) => c.key), ['umbrella', 'bat', 'phone']);
  assert.deepEqual(q.label, ['umbrella']);
});

test('image_i2t', async () => {
  const q = (await load('MSCOCO_i2t')).queries[0]!;
  assert.equal(q.item.text, '<|image_pad|>\nFind an image caption describing the given everyday image.\n');
  assert.deepEqual(q.candidates.map((c) => c.item.text), ['A dog on a couch.', 'Two cats.']);
  assert.deepEqual(q.label, ['A dog on a couch.']);
});

test('image_t2i (VisDial): no helper, extra newline, shared candidate text with trailing newline', async () => {
  const q = (await load('VisDial')).queries[0]!;
  assert.equal(q.item.text, 'Represent the given dialogue about an image, which is used for image retrieval: Q:is it a cat A:yes\n\n');
  assert.equal(q.item.images, undefined);
  assert.deepEqual(q.candidates.map((c) => c.key), ['VisDial/a.png', 'VisDial/b.png']);
  for (const c of q.candidates) assert.equal(c.item.text, '<|image_pad|>\nRepresent the given image.\n');
  assert.deepEqual(q.candidates.map((c) => rel(FIXTURE_DATA, c.item.images)), [['image-tasks/VisDial/a.png'], ['image-tasks/VisDial/b.png']]);
  assert.deepEqual(q.label, ['VisDial/a.png']);
});

test('image_t2i with captions (WebQA): query token replaced in place, per-caption texts with a double space', async () => {
  const q = (await load('WebQA')).queries[0]!;
  assert.equal(q.item.text, '<|image_pad|> Find a Wikipedia image that answers this question: What color is the bus?\n');
  assert.deepEqual(q.candidates.map((c) => c.item.text), [
    '<|image_pad|>  Represent the given Wikipedia image with related text information: Bus. A red bus.\n',
    '<|image_pad|>  Represent the given Wikipedia image with related text information: Tram. A blue tram.\n',
  ]);
  assert.deepEqual(q.candidates.map((c) => c.key), ['WebQA/bus.jpg', 'WebQA/tram.jpg']);
  assert.deepEqual(q.label, ['WebQA/bus.jpg']);
});

test('image_i2i_vg without captions (CIRR): no trailing newline on candidates, keys "path:"', async () => {
  const q = (await load('CIRR')).queries[0]!;
  assert.equal(q.item.text, '<|image_pad|>\nGiven an image, find a similar everyday image with the described changes: make it blue\n');
  assert.deepEqual(rel(FIXTURE_DATA, q.item.images), ['image-tasks/CIRR/ref.png']);
  assert.deepEqual(q.candidates.map((c) => c.key), ['CIRR/t1.png:', 'CIRR/t2.png:']);
  for (const c of q.candidates) assert.equal(c.item.text, '<|image_pad|>\nRepresent the given image.');
  assert.deepEqual(q.label, ['CIRR/t1.png:']);
});

test('image_i2i_vg with captions (RefCOCO-Matching): keys path:caption without quotes, same image twice', async () => {
  const q = (await load('RefCOCO-Matching')).queries[0]!;
  assert.equal(q.item.text, '<|image_pad|>\nSelect the portion of the image that follows the language expressions: "the left dog"\n');
  assert.deepEqual(q.candidates.map((c) => c.key), ['RefCOCO/crop.jpg:the left dog', 'RefCOCO/crop.jpg:the right dog']);
  assert.deepEqual(q.candidates.map((c) => c.item.text), [
    '<|image_pad|>\nSelect the portion of the image that follows the language expressions: "the left dog"\n',
    '<|image_pad|>\nSelect the portion of the image that follows the language expressions: "the right dog"\n',
  ]);
  assert.deepEqual(q.label, ['RefCOCO/crop.jpg:the left dog']);
});

test('limit keeps the first rows', async () => {
  const t = await loadTask(getTask('ImageNet-1K'), { dataDir: FIXTURE_DATA, limit: 1 });
  assert.equal(t.queries.length, 1);
});
