import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { decodeWithSharp, loadImageRGB } from './image.ts';
import { decodePng } from './image-png.ts';

const images = new URL('../../../test/fixtures/io/images/', import.meta.url);
const suiteDir = new URL('png-suite/', images);
interface SuiteEntry { file: string; mode: string; width: number; height: number; rgb_hex: string }
const suite = JSON.parse(readFileSync(new URL('index.json', suiteDir), 'utf8')) as { images: SuiteEntry[] };
const read = (u: URL) => new Uint8Array(readFileSync(u));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

test('every colour type, bit depth and Adam7 interlace decodes to Pillow convert("RGB") bytes, as sharp does', async () => {
  assert.ok(suite.images.length >= 38);
  for (const e of suite.images) {
    const bytes = read(new URL(e.file, suiteDir));
    const js = decodePng(bytes);
    assert.ok(js, `${e.file}: the JS decoder handles it`);
    assert.deepEqual([js.width, js.height], [e.width, e.height], e.file);
    assert.equal(hex(js.data), e.rgb_hex, `${e.file} (Pillow mode ${e.mode}): JS decoder differs from Pillow`);
    const viaLoader = await loadImageRGB(bytes);
    assert.equal(hex(viaLoader.data), e.rgb_hex, `${e.file}: loadImageRGB differs from Pillow`);
    const viaSharp = await decodeWithSharp(bytes, e.file, 'png');
    assert.equal(hex(viaSharp.data), e.rgb_hex, `${e.file}: sharp path differs from Pillow`);
  }
});

test('the fixture PNGs (palette, tRNS, 16-bit, ICC, gray+alpha) decode in JS to Pillow bytes', () => {
  const index = JSON.parse(readFileSync(new URL('index.json', images), 'utf8')) as { images: { file: string; format: string; decoded_sha256: string }[] };
  const pngs = index.images.filter((e) => e.format === 'PNG');
  assert.ok(pngs.length >= 14);
  for (const e of pngs) {
    const img = decodePng(read(new URL(e.file, images)));
    assert.ok(img, `${e.file}: the JS decoder handles it`);
    assert.equal(createHash('sha256').update(img.data).digest('hex'), e.decoded_sha256, `${e.file} differs from Pillow`);
  }
});

/** PNG chunks as [type, data]; and back to bytes with fresh CRCs. */
function chunks(b: Uint8Array): [string, Uint8Array][] {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: [string, Uint8Array][] = [];
  for (let p = 8; p + 12 <= b.length;) {
    const len = dv.getUint32(p);
    out.push([Buffer.from(b.subarray(p + 4, p + 8)).toString('latin1'), b.slice(p + 8, p + 8 + len)]);
    p += 12 + len;
  }
  return out;
}
function png(list: [string, Uint8Array][]): Uint8Array {
  const parts: Buffer[] = [Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])];
  for (const [type, data] of list) {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
    parts.push(head, Buffer.from(data), crc);
  }
  return new Uint8Array(Buffer.concat(parts));
}
/** Replaces the IDAT stream with `edit(raw)` recompressed. */
function withRaw(b: Uint8Array, edit: (raw: Uint8Array) => Uint8Array): Uint8Array {
  const list = chunks(b);
  const raw = new Uint8Array(zlib.inflateSync(Buffer.concat(list.filter(([t]) => t === 'IDAT').map(([, d]) => d))));
  const idat = new Uint8Array(zlib.deflateSync(edit(raw)));
  const first = list.findIndex(([t]) => t === 'IDAT');
  return png([...list.slice(0, first), ['IDAT', idat], ...list.slice(first).filter(([t]) => t !== 'IDAT')]);
}

test('damaged or unusual PNGs go to sharp; damaged ones raise a Vlm2VecError naming the file', async () => {
  const good = read(new URL('ct3-d8.png', suiteDir)); // 13×11, 8-bit palette of 200 entries
  assert.ok(decodePng(good));
  const badCrc = good.slice();
  badCrc[40] = badCrc[40]! ^ 0xff; // inside PLTE
  const variants: Record<string, Uint8Array> = {
    'bad-crc.png': badCrc,
    'truncated.png': good.subarray(0, good.length - 30),
    'bad-filter.png': withRaw(good, (raw) => { raw[0] = 5; return raw; }),
    'short-data.png': withRaw(good, (raw) => raw.subarray(0, raw.length - 14)),
  };
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vec-png-'));
  try {
    for (const [name, bytes] of Object.entries(variants)) {
      assert.equal(decodePng(bytes), null, `${name}: the JS decoder declines`);
      const path = join(dir, name);
      writeFileSync(path, bytes);
      await assert.rejects(loadImageRGB(path), (err: Error) => {
        assert.equal(err.name, 'Vlm2VecError', name);
        assert.match(err.message, new RegExp(`\\[image\\] ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: cannot decode image`), name);
        return true;
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // Unusual but readable files are declined too, and sharp decodes them as before (libpng
  // ignores image data past the last row).
  const extra = withRaw(good, (raw) => Buffer.concat([raw, new Uint8Array(14)]));
  assert.equal(decodePng(extra), null);
  assert.deepEqual((await loadImageRGB(extra)).data, decodePng(good)!.data);
  const idx255 = withRaw(good, (raw) => { raw[1] = 255; return raw; }); // index past the 200-entry palette
  assert.equal(decodePng(idx255), null);
  const list = chunks(good);
  const apng = png([list[0]!, ['acTL', new Uint8Array(8)], ...list.slice(1)]);
  assert.equal(decodePng(apng), null);
  const critical = png([list[0]!, ['ABCD', new Uint8Array(1)], ...list.slice(1)]);
  assert.equal(decodePng(critical), null);
  assert.equal(decodePng(good.subarray(0, 20)), null);
});
