import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadImageRGB, plainEightBit, sniffImageFormat, toRgb } from './image.ts';
import { decodeBmp } from './image-bmp.ts';

const dir = new URL('../../../test/fixtures/io/images/', import.meta.url);
interface Entry { file: string; format: string; mode: string; width: number; height: number; decoded_sha256: string }
const index = JSON.parse(readFileSync(new URL('index.json', dir), 'utf8')) as { images: Entry[] };

test('decoding matches Pillow convert("RGB") byte for byte on every fixture image', async () => {
  assert.ok(index.images.length >= 20);
  const formats = new Set(index.images.map((e) => e.format));
  for (const f of ['JPEG', 'PNG', 'GIF', 'WEBP', 'BMP', 'TIFF']) assert.ok(formats.has(f), `fixtures cover ${f}`);
  for (const e of index.images) {
    const img = await loadImageRGB(new URL(e.file, dir).pathname);
    assert.equal(img.width, e.width, `${e.file} width`);
    assert.equal(img.height, e.height, `${e.file} height`);
    const sha = createHash('sha256').update(img.data).digest('hex');
    assert.equal(sha, e.decoded_sha256, `${e.file} (${e.format} ${e.mode}) decoded RGB differs from Pillow`);
  }
});

test('bytes and paths decode the same; EXIF orientation is not applied', async () => {
  const p = new URL('src/exif-orientation-6.jpg', dir).pathname;
  const a = await loadImageRGB(p);
  const b = await loadImageRGB(new Uint8Array(readFileSync(p)));
  assert.deepEqual(a.data, b.data);
  assert.deepEqual([a.width, a.height], [300, 200]); // rotated would be 200×300
});

test('format sniffing and clear errors', async () => {
  assert.equal(sniffImageFormat(new Uint8Array([0xff, 0xd8, 0xff, 0xe0])), 'jpeg');
  assert.equal(sniffImageFormat(new Uint8Array([0x42, 0x4d, 0, 0])), 'bmp');
  assert.equal(sniffImageFormat(new Uint8Array([1, 2, 3])), 'unknown');
  await assert.rejects(loadImageRGB('/nonexistent/x.png'), /\[image\] cannot read image file '\/nonexistent\/x.png'/);
  await assert.rejects(loadImageRGB(new Uint8Array([1, 2, 3, 4])), /\[image\] <bytes>: unrecognised image format/);
  const truncatedPng = new Uint8Array(readFileSync(new URL('src/crop-70x70.png', dir))).subarray(0, 60);
  await assert.rejects(loadImageRGB(truncatedPng), /\[image\] <bytes>: cannot decode image/);
  assert.throws(() => decodeBmp(new Uint8Array([0x42, 0x4d, 1, 2]), 'tiny.bmp'), /\[image\] tiny.bmp: truncated BMP header/);
});

test('channel expansion: gray replicated, alpha dropped without compositing', () => {
  assert.deepEqual(Array.from(toRgb(new Uint8Array([7, 200]), 2, 1, 1).data), [7, 7, 7, 200, 200, 200]);
  assert.deepEqual(Array.from(toRgb(new Uint8Array([9, 0]), 1, 1, 2).data), [9, 9, 9]);
  // A fully transparent red pixel stays red (Pillow drops alpha; it does not blend with black/white).
  assert.deepEqual(Array.from(toRgb(new Uint8Array([255, 0, 0, 0]), 1, 1, 4).data), [255, 0, 0]);
});

test('BMP: 16-bit 5-5-5 and bottom-up 24-bit decoded by hand-checked values', () => {
  // 2×1, 16 bpp BI_RGB (x1r5g5b5): pixels 0x7C00 (pure red 31) and 0x03E0 (green 31) → 255 each.
  const hdr = (w: number, h: number, bpp: number, dataLen: number) => {
    const b = new Uint8Array(54 + dataLen);
    const dv = new DataView(b.buffer);
    b[0] = 0x42; b[1] = 0x4d;
    dv.setUint32(2, b.length, true); dv.setUint32(10, 54, true); dv.setUint32(14, 40, true);
    dv.setInt32(18, w, true); dv.setInt32(22, h, true); dv.setUint16(26, 1, true); dv.setUint16(28, bpp, true);
    return { b, dv };
  };
  const a = hdr(2, 1, 16, 4);
  a.dv.setUint16(54, 0x7c00, true);
  a.dv.setUint16(56, 0x0210, true); // g = 16, b = 16 → floor(16·255/31) = 131
  assert.deepEqual(Array.from(decodeBmp(a.b).data), [255, 0, 0, 0, 131, 131]);
  // 1×2, 24 bpp, bottom-up: first stored row is the bottom pixel; rows padded to 4 bytes.
  const c = hdr(1, 2, 24, 8);
  c.b.set([1, 2, 3], 54); // bottom: B=1 G=2 R=3
  c.b.set([4, 5, 6], 58); // top
  assert.deepEqual(Array.from(decodeBmp(c.b).data), [6, 5, 4, 3, 2, 1]);
});

test('header check for the direct 8-bit decode: CMYK JPEG, 16-bit PNG and TIFF take the metadata path', () => {
  const check = (file: string) => {
    const b = new Uint8Array(readFileSync(new URL(`src/${file}`, dir)));
    return plainEightBit(b, sniffImageFormat(b));
  };
  // 8-bit files (JPEG with 1 or 3 components after APPn/ICC segments, palette/RGBA PNG, GIF, WebP).
  for (const f of ['joy-gray.jpg', 'plasma-preview-exif-icc.jpg', 'crop-70x70.png', 'earthmenu-rgba.png', 'earth.gif', 'joy-lossy.webp']) {
    assert.equal(check(f), true, f);
  }
  // 4-component JPEG (CMYK), 16-bit PNGs and TIFF need the metadata (space, depth) first.
  for (const f of ['joy-cmyk.jpg', 'joy-gray16.png', 'joy-rgb16.png', 'teapot.tiff']) assert.equal(check(f), false, f);
  // A JPEG cut before its frame header, or with a broken marker, is not judged from the header.
  const jpg = new Uint8Array(readFileSync(new URL('src/joy-gray.jpg', dir)));
  assert.equal(plainEightBit(jpg.subarray(0, 20), 'jpeg'), false);
  const broken = jpg.slice();
  broken[2] = 0x00;
  assert.equal(plainEightBit(broken, 'jpeg'), false);
});
