// A small PNG decoder for the common case, so small PNGs skip sharp's per-call cost (a libvips
// pipeline and a thread-pool round trip, ~0.3–1 ms even for a 10×10 icon, where Pillow needs
// 0.05–0.2 ms). It produces exactly what `Image.open(f).convert("RGB")` gives:
// - alpha (colour types 4/6, tRNS) is dropped, never composited; palette entries are looked up;
// - gray of 1/2/4 bits is scaled to 8 bits (v·255/(2^d − 1)), as Pillow's L;1/L;2/L;4 unpackers do;
// - 16-bit samples keep their high byte (Pillow's "RGB;16B"/"LA;16B" raw modes), except plain
//   16-bit gray, which Pillow opens as mode I;16 and converts to RGB by clipping to 255;
// - gAMA, cHRM, sRGB and iCCP are ignored (Pillow does not colour-manage in convert("RGB")).
// Anything out of the ordinary — a CRC or zlib error, an unknown critical chunk, APNG, a palette
// index past the palette, too little or too much image data, a tRNS chunk libpng would warn about —
// returns null and the caller decodes with sharp, which keeps its behaviour (and error messages)
// for those files.

import * as zlib from 'node:zlib';
import type { RgbImage } from './image-types.ts';

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Allowed bit depths per colour type (PNG spec table 11.1). */
const DEPTHS: Record<number, readonly number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };
const SAMPLES: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** Adam7 passes: x0, y0, dx, dy. */
const ADAM7 = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]] as const;

let crcTable: Int32Array | undefined;
/** CRC-32 of the PNG spec; zlib.crc32 (Node ≥ 20.15) when present. */
function crc32(b: Uint8Array): number {
  if (typeof zlib.crc32 === 'function') return zlib.crc32(b) >>> 0;
  if (!crcTable) {
    crcTable = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c;
    }
  }
  let c = -1;
  for (let i = 0; i < b.length; i++) c = crcTable[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

interface Header { width: number; height: number; depth: number; colorType: number; interlace: number }

/** True when the bytes start with the PNG signature and an IHDR this decoder handles. */
function readHeader(b: Uint8Array): Header | null {
  if (b.length < 33 || SIGNATURE.some((v, i) => b[i] !== v)) return null;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (dv.getUint32(8) !== 13 || dv.getUint32(12) !== 0x49484452) return null; // IHDR
  const h: Header = { width: dv.getUint32(16), height: dv.getUint32(20), depth: b[24]!, colorType: b[25]!, interlace: b[28]! };
  if (h.width === 0 || h.height === 0 || h.width > 0x7fffffff || h.height > 0x7fffffff) return null;
  if (!DEPTHS[h.colorType]?.includes(h.depth) || b[26] !== 0 || b[27] !== 0 || h.interlace > 1) return null;
  return h;
}

/**
 * Decodes a PNG to RGB like Pillow's convert("RGB"), or returns null when the file needs the
 * general decoder (see the header comment) or has more than `maxPixels` pixels (checked from the
 * header, before any inflating). Never throws on bad input.
 *
 * @example
 * const img = decodePng(bytes) ?? await decodeWithSharp(bytes); // 10×10 icon: ~0.02 ms
 */
export function decodePng(b: Uint8Array, maxPixels = Infinity): RgbImage | null {
  try {
    return decode(b, maxPixels);
  } catch {
    return null; // zlib errors and the like: the general decoder reports them
  }
}

function decode(b: Uint8Array, maxPixels: number): RgbImage | null {
  const h = readHeader(b);
  if (!h || h.width * h.height > maxPixels) return null;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const idat: Uint8Array[] = [];
  let palette: Uint8Array | null = null;
  let idatDone = false;
  let seenEnd = false;
  let pos = 8;
  while (pos + 12 <= b.length) {
    const len = dv.getUint32(pos);
    if (len > 0x7fffffff || pos + 12 + len > b.length) return null;
    const typeAndData = b.subarray(pos + 4, pos + 8 + len);
    if (crc32(typeAndData) !== dv.getUint32(pos + 8 + len)) return null;
    const type = String.fromCharCode(b[pos + 4]!, b[pos + 5]!, b[pos + 6]!, b[pos + 7]!);
    const data = b.subarray(pos + 8, pos + 8 + len);
    const critical = (b[pos + 4]! & 0x20) === 0; // bit 5 of the first type letter
    pos += 12 + len;
    if (type === 'IDAT') {
      if (idatDone) return null; // IDAT chunks must be consecutive
      idat.push(data);
      continue;
    }
    if (idat.length > 0) idatDone = true;
    if (type === 'IHDR') {
      if (pos !== 33) return null; // only once, first
    } else if (type === 'PLTE') {
      if (palette || idat.length > 0 || len === 0 || len % 3 !== 0 || len > 768 || h.colorType === 0 || h.colorType === 4) return null;
      palette = new Uint8Array(data); // a copy: a plain Uint8Array for the lookup loops
    } else if (type === 'tRNS') {
      // Alpha is dropped, but a tRNS chunk libpng would warn about (sharp fails on warnings) goes
      // to the general decoder so that such files behave as before.
      if (idat.length > 0) return null;
      if (h.colorType === 0 ? len !== 2 : h.colorType === 2 ? len !== 6 : h.colorType === 3 ? !palette || len > palette.length / 3 : true) return null;
    } else if (type === 'IEND') {
      seenEnd = true;
      break;
    } else if (type === 'acTL' || type === 'fcTL' || type === 'fdAT') {
      return null; // APNG: frame handling stays with the general decoder
    } else if (critical) {
      return null; // unknown critical chunk
    }
  }
  if (!seenEnd || idat.length === 0 || (h.colorType === 3 && !palette)) return null;
  const bits = h.depth * SAMPLES[h.colorType]!;
  const passes = h.interlace
    ? ADAM7.map(([x0, y0, dx, dy]) => ({ x0, y0, dx, dy, w: Math.ceil((h.width - x0) / dx), hh: Math.ceil((h.height - y0) / dy) }))
    : [{ x0: 0, y0: 0, dx: 1, dy: 1, w: h.width, hh: h.height }];
  let expected = 0;
  for (const p of passes) if (p.w > 0 && p.hh > 0) expected += p.hh * (1 + Math.ceil((p.w * bits) / 8));
  if (expected > 0x7fffffff) return null;
  const compressed = idat.length === 1 ? idat[0]! : Buffer.concat(idat);
  // maxOutputLength: more data than the image needs is an error here (libpng warns, sharp fails).
  // chunkSize: one output buffer of the final size (the default 16 KiB chunks are concatenated).
  const size = Math.max(expected, 64);
  const { buffer: raw, engine } = zlib.inflateSync(compressed, { info: true, maxOutputLength: size, chunkSize: size }) as unknown as
    { buffer: Buffer; engine: { bytesWritten: number } };
  if (raw.length !== expected || engine.bytesWritten !== compressed.length) return null;

  const { width, height } = h;
  // A plain Uint8Array view: V8 keeps the hot loops monomorphic when every array is one class.
  const data = new Uint8Array(raw.buffer, raw.byteOffset, raw.length);
  const out = new Uint8Array(width * height * 3);
  const bpp = Math.max(1, bits >> 3); // filter byte distance
  const rowRgb = h.interlace ? new Uint8Array(width * 3) : out;
  const convert = rowConverter(h, palette, rowRgb);
  let at = 0;
  for (const p of passes) {
    if (p.w === 0 || p.hh === 0) continue;
    const rowBytes = Math.ceil((p.w * bits) / 8);
    for (let y = 0; y < p.hh; y++, at += 1 + rowBytes) {
      if (!unfilter(data, data[at]!, at + 1, y === 0 ? -1 : at - rowBytes, rowBytes, bpp)) return null;
      const oy = p.y0 + y * p.dy;
      if (!convert(data, at + 1, h.interlace ? 0 : oy * width * 3, p.w)) return null;
      if (h.interlace) {
        let o = (oy * width + p.x0) * 3;
        const step = p.dx * 3;
        for (let x = 0, s = 0; x < p.w; x++, s += 3, o += step) {
          out[o] = rowRgb[s]!;
          out[o + 1] = rowRgb[s + 1]!;
          out[o + 2] = rowRgb[s + 2]!;
        }
      }
    }
  }
  return { width, height, data: out };
}

/**
 * Reverses the filter of the row at `r` (n bytes) in place, `q` being the previous row of the
 * same pass (−1 for the first row: a row of zeros). PNG spec §9. False for an unknown filter.
 */
function unfilter(d: Uint8Array, filter: number, r: number, q: number, n: number, bpp: number): boolean {
  switch (filter) {
    case 0:
      return true;
    case 1:
      for (let i = bpp; i < n; i++) d[r + i] = d[r + i]! + d[r + i - bpp]!;
      return true;
    case 2:
      if (q >= 0) for (let i = 0; i < n; i++) d[r + i] = d[r + i]! + d[q + i]!;
      return true;
    case 3:
      if (q >= 0) {
        for (let i = 0; i < bpp; i++) d[r + i] = d[r + i]! + (d[q + i]! >> 1);
        for (let i = bpp; i < n; i++) d[r + i] = d[r + i]! + ((d[r + i - bpp]! + d[q + i]!) >> 1);
      } else {
        for (let i = bpp; i < n; i++) d[r + i] = d[r + i]! + (d[r + i - bpp]! >> 1);
      }
      return true;
    case 4:
      if (q < 0) { // Paeth with a zero row above is Sub
        for (let i = bpp; i < n; i++) d[r + i] = d[r + i]! + d[r + i - bpp]!;
        return true;
      }
      for (let i = 0; i < bpp; i++) d[r + i] = d[r + i]! + d[q + i]!;
      for (let i = bpp; i < n; i++) {
        const a = d[r + i - bpp]!;
        const b = d[q + i]!;
        const c = d[q + i - bpp]!;
        const pa = Math.abs(b - c);
        const pb = Math.abs(a - c);
        const pc = Math.abs(a + b - 2 * c);
        d[r + i] = d[r + i]! + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
      }
      return true;
    default:
      return false;
  }
}

/** How one unfiltered row becomes RGB: `(d, s, o, w)` converts w pixels at d[s…] to out[o…]. */
type RowFn = (d: Uint8Array, s: number, o: number, w: number) => boolean;

/**
 * The row converter for this header. Each layout gets its own small loop (monomorphic for the
 * JIT). The 8-bit ones store a pixel as one little-endian 32-bit write of a table entry or of the
 * source's 4 bytes, whose 4th byte is overwritten by the next pixel; the last pixel of a row is
 * stored byte by byte, so nothing is written past the row.
 */
function rowConverter(h: Header, pal: Uint8Array | null, dst: Uint8Array): RowFn {
  const { colorType: ct, depth } = h;
  const dv = new DataView(dst.buffer, dst.byteOffset, dst.byteLength);
  const last = (o: number, r: number, g: number, b: number) => {
    dst[o] = r;
    dst[o + 1] = g;
    dst[o + 2] = b;
  };
  if (ct === 2 && depth === 8) {
    return (d, s, o, w) => {
      dst.set(d.subarray(s, s + w * 3), o);
      return true;
    };
  }
  if (ct === 6 && depth === 8) {
    return (d, s, o, w) => {
      const sv = new DataView(d.buffer, d.byteOffset, d.byteLength);
      const end = o + (w - 1) * 3;
      for (; o < end; s += 4, o += 3) dv.setUint32(o, sv.getUint32(s, true), true);
      last(o, d[s]!, d[s + 1]!, d[s + 2]!);
      return true;
    };
  }
  if (ct === 2 || ct === 6) { // 16-bit: the high byte of each sample (offsets 0, 2, 4)
    const step = ct === 2 ? 6 : 8;
    return (d, s, o, w) => {
      for (const end = o + w * 3; o < end; s += step, o += 3) last(o, d[s]!, d[s + 2]!, d[s + 4]!);
      return true;
    };
  }
  if (ct === 0 && depth === 16) {
    return (d, s, o, w) => {
      for (const end = o + w * 3; o < end; s += 2, o += 3) {
        const v = d[s] !== 0 ? 255 : d[s + 1]!; // mode I;16 → RGB clips to 255
        last(o, v, v, v);
      }
      return true;
    };
  }
  if (ct === 4 || (ct === 0 && depth === 8)) {
    const step = (ct === 4 ? 2 : 1) * (depth >> 3);
    return (d, s, o, w) => {
      const end = o + (w - 1) * 3;
      for (; o < end; s += step, o += 3) dv.setUint32(o, d[s]! * 0x010101, true);
      last(o, d[s]!, d[s]!, d[s]!);
      return true;
    };
  }
  if (ct === 3 && depth === 8) {
    // Entries past the palette carry bit 31, so one OR over the row detects a bad index.
    const lut = new Uint32Array(256).fill(0x80000000);
    for (let i = 0; i < pal!.length / 3; i++) lut[i] = pal![i * 3]! | (pal![i * 3 + 1]! << 8) | (pal![i * 3 + 2]! << 16);
    return (d, s, o, w) => {
      const end = o + (w - 1) * 3;
      let seen = 0;
      for (; o < end; s++, o += 3) {
        const v = lut[d[s]!]!;
        seen |= v;
        dv.setUint32(o, v, true);
      }
      const v = lut[d[s]!]!;
      last(o, v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff);
      return ((seen | v) & 0x80000000) === 0;
    };
  }
  // Packed samples (gray or palette of 1/2/4 bits), most significant bits first.
  const mask = (1 << depth) - 1;
  const scale = 255 / mask; // gray: 255, 85, 17 (Pillow's 1/L;2/L;4 unpackers)
  return (d, s, o, w) => {
    for (let x = 0; x < w; x++, o += 3) {
      const bit = x * depth;
      const v = (d[s + (bit >> 3)]! >> (8 - depth - (bit & 7))) & mask;
      if (!pal) {
        last(o, v * scale, v * scale, v * scale);
      } else {
        if (v * 3 >= pal.length) return false;
        last(o, pal[v * 3]!, pal[v * 3 + 1]!, pal[v * 3 + 2]!);
      }
    }
    return true;
  };
}
