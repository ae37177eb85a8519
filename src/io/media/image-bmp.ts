// Windows BMP decoder (sharp's prebuilt libvips has no BMP loader). Output matches Pillow's
// BmpImagePlugin + convert("RGB"): palette entries expanded, 32-bit pixels keep R,G,B only,
// bottom-up rows flipped. Supported: 1/4/8-bit palette (uncompressed, RLE8, RLE4), 16/24/32-bit
// BI_RGB and BI_BITFIELDS.

import { Vlm2VecError } from '../../errors.ts';
import type { RgbImage } from './image-types.ts';

const BI_RGB = 0;
const BI_RLE8 = 1;
const BI_RLE4 = 2;
const BI_BITFIELDS = 3;
const BI_ALPHABITFIELDS = 6;

/** Extracts a channel from a packed pixel with a bit mask, scaled to 8 bits like Pillow's
 * unpackers (`x * 255 / max` in integer arithmetic for narrow fields, top 8 bits for wide ones). */
function maskReader(mask: number): (v: number) => number {
  if (mask === 0) return () => 0;
  let shift = 0;
  while (((mask >>> shift) & 1) === 0) shift++;
  let bits = 0;
  while (shift + bits < 32 && ((mask >>> (shift + bits)) & 1) === 1) bits++;
  if (bits >= 8) return (v) => (((v & mask) >>> shift) >>> (bits - 8)) & 0xff;
  const max = 2 ** bits - 1;
  return (v) => Math.floor((((v & mask) >>> shift) * 255) / max);
}

/**
 * Decodes BMP bytes to RGB.
 *
 * @example
 * const img = decodeBmp(await readFile('icon.bmp'), 'icon.bmp');
 */
export function decodeBmp(b: Uint8Array, label = 'image.bmp'): RgbImage {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const fail = (msg: string): never => {
    throw new Vlm2VecError('image', `${label}: ${msg}`);
  };
  if (b.length < 26) fail('truncated BMP header');
  const dataOffset = dv.getUint32(10, true);
  const headerSize = dv.getUint32(14, true);
  let width: number, heightRaw: number, bpp: number, compression = BI_RGB, colorsUsed = 0;
  if (headerSize === 12) {
    width = dv.getUint16(18, true);
    heightRaw = dv.getInt16(20, true);
    bpp = dv.getUint16(24, true);
  } else if (headerSize >= 40) {
    if (b.length < 14 + 40) fail('truncated BMP info header');
    width = dv.getInt32(18, true);
    heightRaw = dv.getInt32(22, true);
    bpp = dv.getUint16(28, true);
    compression = dv.getUint32(30, true);
    colorsUsed = dv.getUint32(46, true);
  } else {
    return fail(`unsupported BMP header size ${headerSize}`);
  }
  const topDown = heightRaw < 0;
  const height = Math.abs(heightRaw);
  if (width <= 0 || height === 0) fail(`invalid BMP size ${width}×${heightRaw}`);
  const out = new Uint8Array(width * height * 3);
  const put = (x: number, yFile: number, r: number, g: number, bl: number) => {
    const y = topDown ? yFile : height - 1 - yFile;
    const o = (y * width + x) * 3;
    out[o] = r;
    out[o + 1] = g;
    out[o + 2] = bl;
  };

  // Palette (BGRX quads, or BGR triples for the OS/2 12-byte header).
  let palette: Uint8Array | null = null;
  if (bpp <= 8) {
    const entry = headerSize === 12 ? 3 : 4;
    const count = colorsUsed || 1 << bpp;
    const start = 14 + headerSize;
    palette = new Uint8Array(256 * 3);
    for (let i = 0; i < Math.min(count, 256); i++) {
      const p = start + i * entry;
      if (p + 3 > b.length) fail('truncated BMP palette');
      palette[i * 3] = b[p + 2]!;
      palette[i * 3 + 1] = b[p + 1]!;
      palette[i * 3 + 2] = b[p]!;
    }
  }
  const putIndex = (x: number, y: number, idx: number) => {
    const p = palette!;
    put(x, y, p[idx * 3]!, p[idx * 3 + 1]!, p[idx * 3 + 2]!);
  };

  if (compression === BI_RLE8 || compression === BI_RLE4) {
    decodeRle(b, dataOffset, width, height, compression === BI_RLE4, putIndex, fail);
    return { width, height, data: out };
  }
  if (compression !== BI_RGB && compression !== BI_BITFIELDS && compression !== BI_ALPHABITFIELDS) {
    fail(`unsupported BMP compression ${compression}`);
  }
  const stride = Math.floor((width * bpp + 31) / 32) * 4;
  if (dataOffset + stride * height > b.length) fail(`truncated BMP pixel data (need ${stride * height} bytes at offset ${dataOffset})`);

  // 8-bit palette and 24-bit BGR rows: direct loops (the per-pixel put() closure costs ~10 ns a
  // pixel, most of a 256×256 file's decode time).
  const rowOut = (y: number) => (topDown ? y : height - 1 - y) * width * 3;
  if (bpp === 8) {
    const p = palette!;
    for (let y = 0; y < height; y++) {
      let s = dataOffset + y * stride;
      for (let o = rowOut(y), end = o + width * 3; o < end; o += 3, s++) {
        const i = b[s]! * 3;
        out[o] = p[i]!;
        out[o + 1] = p[i + 1]!;
        out[o + 2] = p[i + 2]!;
      }
    }
  } else if (bpp <= 8) {
    const perByte = 8 / bpp;
    const m = (1 << bpp) - 1;
    for (let y = 0; y < height; y++) {
      const row = dataOffset + y * stride;
      for (let x = 0; x < width; x++) {
        const byte = b[row + Math.floor(x / perByte)]!;
        const sh = 8 - bpp * ((x % perByte) + 1);
        putIndex(x, y, (byte >> sh) & m);
      }
    }
  } else if (bpp === 24) {
    for (let y = 0; y < height; y++) {
      let s = dataOffset + y * stride;
      for (let o = rowOut(y), end = o + width * 3; o < end; o += 3, s += 3) {
        out[o] = b[s + 2]!;
        out[o + 1] = b[s + 1]!;
        out[o + 2] = b[s]!;
      }
    }
  } else if (bpp === 16 || bpp === 32) {
    let rm: number, gm: number, bm: number;
    if (compression === BI_BITFIELDS || compression === BI_ALPHABITFIELDS) {
      const mOff = 14 + 40; // right after a 40-byte header, or the mask fields inside a V4/V5 header
      rm = dv.getUint32(mOff, true);
      gm = dv.getUint32(mOff + 4, true);
      bm = dv.getUint32(mOff + 8, true);
    } else if (bpp === 16) {
      [rm, gm, bm] = [0x7c00, 0x03e0, 0x001f];
    } else {
      [rm, gm, bm] = [0xff0000, 0xff00, 0xff];
    }
    const [rr, gr, br] = [maskReader(rm), maskReader(gm), maskReader(bm)];
    for (let y = 0; y < height; y++) {
      const row = dataOffset + y * stride;
      for (let x = 0; x < width; x++) {
        const v = bpp === 16 ? dv.getUint16(row + x * 2, true) : dv.getUint32(row + x * 4, true);
        put(x, y, rr(v), gr(v), br(v));
      }
    }
  } else {
    fail(`unsupported BMP bit depth ${bpp}`);
  }
  return { width, height, data: out };
}

function decodeRle(
  b: Uint8Array, start: number, width: number, height: number, rle4: boolean,
  putIndex: (x: number, y: number, idx: number) => void, fail: (m: string) => never,
): void {
  let p = start;
  let x = 0;
  let y = 0;
  const emit = (idx: number) => {
    if (x < width && y < height) putIndex(x, y, idx);
    x++;
  };
  while (p + 1 < b.length && y < height) {
    const n = b[p]!;
    const v = b[p + 1]!;
    p += 2;
    if (n > 0) {
      for (let i = 0; i < n; i++) emit(rle4 ? (i % 2 === 0 ? v >> 4 : v & 15) : v);
    } else if (v === 0) {
      x = 0;
      y++;
    } else if (v === 1) {
      return;
    } else if (v === 2) {
      if (p + 1 >= b.length) fail('truncated RLE delta');
      x += b[p]!;
      y += b[p + 1]!;
      p += 2;
    } else {
      const count = v;
      const bytes = rle4 ? Math.ceil(count / 2) : count;
      for (let i = 0; i < count; i++) {
        const byte = b[p + (rle4 ? i >> 1 : i)]!;
        emit(rle4 ? (i % 2 === 0 ? byte >> 4 : byte & 15) : byte);
      }
      p += bytes + (bytes % 2);
    }
  }
}
