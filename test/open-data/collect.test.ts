// The readers of the unpacked packages (scripts/open-data/collect.ts), on small trees laid out as
// the real packages are: what becomes a caption, a category and an id, and what is left out.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { collectEmoji, collectFashion, collectOpenClipart, collectTuxPaint, fashionPng } from '../../scripts/open-data/collect.ts';

let root: string;
const put = (rel: string, data: string | Uint8Array): void => {
  mkdirSync(dirname(join(root, rel)), { recursive: true });
  writeFileSync(join(root, rel), data);
};
const PNG = (): Promise<Buffer> => sharp({ create: { width: 300, height: 150, channels: 4, background: { r: 0, g: 0, b: 255, alpha: 0 } } }).png().toBuffer();
const SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="20" height="10"><rect width="20" height="10" fill="red"/></svg>';

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'v2v-collect-'));
  const s = 'tux/usr/share/tuxpaint/stamps';
  put(`${s}/animals/mammals/cat.png`, await PNG());
  put(`${s}/animals/mammals/cat.txt`, 'A cat.\nde.utf8=Eine Katze.\nfr.utf8=Un chat.\n');
  // A PNG with an SVG original: the SVG is taken, once.
  put(`${s}/food/apple.png`, await PNG());
  put(`${s}/food/apple.svg`, SVG);
  put(`${s}/food/apple.txt`, '\nde.utf8=Ein Apfel.\nAn   apple.\n');
  put(`${s}/food/nocaption.png`, await PNG());
  // Same description as the cat (case aside): left out.
  put(`${s}/people/cat2.png`, await PNG());
  put(`${s}/people/cat2.txt`, 'a cat.\n');

  put('emoji/package/emoji.json', JSON.stringify([
    { name: 'GRINNING FACE', image: '1f600.png', category: 'Smileys & Emotion', has_img_google: true, sort_order: 2 },
    { name: 'Egypt Flag', image: '1f1ea-1f1ec.png', category: 'Flags', has_img_google: true, sort_order: 1 },
    { name: 'NO GOOGLE', image: '1f601.png', category: 'Smileys & Emotion', has_img_google: false, sort_order: 3 },
    { name: 'EMOJI MODIFIER FITZPATRICK TYPE-1-2', image: '1f3fb.png', category: 'Component', has_img_google: true, sort_order: 4 },
    { name: 'MISSING FILE', image: '1f602.png', category: 'Smileys & Emotion', has_img_google: true, sort_order: 5 },
  ]));
  for (const f of ['1f600.png', '1f1ea-1f1ec.png', '1f601.png', '1f3fb.png']) put(`emoji/package/img/google/64/${f}`, await PNG());

  const o = 'clip/usr/share/openclipart/svg';
  const work = (title: string, keys: string[]): string => `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><metadata><rdf:RDF><cc:Work>` +
    `<dc:title>${title}</dc:title><dc:subject><rdf:Bag>${keys.map((k) => `<rdf:li>${k}</rdf:li>`).join('')}</rdf:Bag></dc:subject>` +
    `</cc:Work><cc:Agent><dc:title>Someone</dc:title></cc:Agent></rdf:RDF></metadata><rect width="10" height="10"/></svg>`;
  put(`${o}/food/fruit/apple.svg`, work('Red apple &amp; leaf', ['fruit', 'clip art', 'Food', 'red apple &amp; leaf', 'fruit', 'a', 'b', 'c']));
  put(`${o}/tools/hammer.svg`, work('Untitled', ['tool']));
  put(`${o}/tools/saw.svg`, work('saw', []));

  // IDX: magic 2051 [n, 28, 28] images, magic 2049 [n] labels, big-endian, gzipped.
  const n = 2;
  const img = Buffer.alloc(16 + n * 784);
  img.writeUInt32BE(2051, 0); img.writeUInt32BE(n, 4); img.writeUInt32BE(28, 8); img.writeUInt32BE(28, 12);
  img[16 + 784 + 5] = 200; // image 1, row 0, column 5
  const lab = Buffer.alloc(8 + n);
  lab.writeUInt32BE(2049, 0); lab.writeUInt32BE(n, 4); lab[8] = 9; lab[9] = 0;
  put('fm/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz', gzipSync(img));
  put('fm/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz', gzipSync(lab));
});
after(() => rmSync(root, { recursive: true, force: true }));

test('Tux Paint: the English line is the caption, the top folder the category; repeats and stamps without text are left out', async () => {
  const pics = collectTuxPaint(join(root, 'tux'));
  assert.deepEqual(pics.map((p) => [p.id, p.caption, p.category]), [
    ['animals/mammals/cat', 'A cat.', 'animals'],
    ['food/apple', 'An apple.', 'food'],
  ]);
  // Transparent blue flattened onto white, 300×150 shrunk to fit 224.
  const { data, info } = await sharp(await pics[0]!.render()).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height, info.channels], [224, 112, 3]);
  assert.deepEqual([...data.subarray(0, 3)], [255, 255, 255]);
  const svg = await sharp(await pics[1]!.render()).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([...svg.data.subarray(0, 3)], [255, 0, 0], 'the SVG drawing, not the PNG');
});

test('emoji: names lower-cased in sort order; no Google image, components and missing files left out', () => {
  const pics = collectEmoji(join(root, 'emoji'));
  assert.deepEqual(pics.map((p) => [p.id, p.caption, p.category]), [
    ['1f1ea-1f1ec', 'egypt flag', 'Flags'],
    ['1f600', 'grinning face', 'Smileys & Emotion'],
  ]);
});

test('Openclipart: the work\'s title plus up to four distinct keywords (entities decoded, generic ones and the title dropped)', () => {
  const pics = collectOpenClipart(join(root, 'clip'));
  assert.deepEqual(pics.map((p) => [p.id, p.caption, p.category]), [
    ['food/fruit/apple', 'Red apple & leaf (fruit, food, a, b)', 'food'],
    ['tools/saw', 'saw', 'tools'],
  ]);
});

test('Fashion-MNIST: the IDX arrays and labels, each image a 28×28 grey PNG', async () => {
  const s = collectFashion(join(root, 'fm'), 't10k');
  assert.equal(s.count, 2);
  assert.deepEqual([...s.labels], [9, 0]);
  const png = await fashionPng(s, 1);
  const meta = await sharp(png).metadata();
  assert.deepEqual([meta.width, meta.height, meta.channels], [28, 28, 1]);
  const { data } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  // Raw decoding may expand grey to RGB: pixel 5 of row 0 is 200 in every channel, pixel 4 is 0.
  const ch = data.length / 784;
  assert.equal(data[5 * ch], 200);
  assert.equal(data[4 * ch], 0);
});
