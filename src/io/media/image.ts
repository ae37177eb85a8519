// Image decoding to 8-bit RGB exactly as `PIL.Image.open(f).convert("RGB")` produces it:
// alpha is dropped (never composited), EXIF orientation is ignored, embedded ICC profiles are
// ignored, palette and grayscale images are expanded, and 16-bit samples keep their high byte.
//
// JPEG/PNG/WebP/GIF/TIFF go through sharp (libvips), asked for raw pixels with auto-orientation
// off and ICC handling off, so libvips only decodes. BMP has no decoder in sharp's prebuilt
// libvips: ./image-bmp.ts decodes it. PNGs up to PNG_JS_MAX_PIXELS go through ./image-png.ts
// first (sharp's fixed cost per call dominates small images); it hands anything unusual back to
// sharp. Two places where libvips' conversions differ from Pillow's
// are redone here: 16-bit samples (Pillow takes the high byte, or clips plain 16-bit gray) and
// CMYK (Pillow's naive formula instead of an ICC transform).

import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { Vlm2VecError } from '../../errors.ts';
import type { RgbImage } from './image-types.ts';
import { decodeBmp } from './image-bmp.ts';
import { decodePng } from './image-png.ts';

export type { RgbImage } from './image-types.ts';

/** Container formats recognised from the first bytes of a file. */
export type ImageFormat = 'jpeg' | 'png' | 'gif' | 'webp' | 'bmp' | 'tiff' | 'unknown';

/** Identifies an image container by its magic bytes. */
export function sniffImageFormat(b: Uint8Array): ImageFormat {
  const at = (i: number, ...v: number[]) => v.every((x, k) => b[i + k] === x);
  if (at(0, 0xff, 0xd8, 0xff)) return 'jpeg';
  if (at(0, 0x89, 0x50, 0x4e, 0x47)) return 'png';
  if (at(0, 0x47, 0x49, 0x46, 0x38)) return 'gif';
  if (at(0, 0x52, 0x49, 0x46, 0x46) && at(8, 0x57, 0x45, 0x42, 0x50)) return 'webp';
  if (at(0, 0x42, 0x4d)) return 'bmp';
  if (at(0, 0x49, 0x49, 0x2a, 0x00) || at(0, 0x4d, 0x4d, 0x00, 0x2a)) return 'tiff';
  return 'unknown';
}

/** Expands 1–4 interleaved channels (L, LA, RGB, RGBA) to RGB, dropping alpha like Pillow. */
export function toRgb(src: Uint8Array, width: number, height: number, channels: number, label = 'image'): RgbImage {
  const n = width * height;
  if (src.length < n * channels) {
    throw new Vlm2VecError('image', `${label}: decoder returned ${src.length} bytes, expected ${n}×${channels}`);
  }
  if (channels === 3) return { width, height, data: src.length === n * 3 ? src : src.subarray(0, n * 3) };
  const out = new Uint8Array(n * 3);
  if (channels === 1 || channels === 2) {
    for (let i = 0; i < n; i++) {
      const v = src[i * channels]!;
      out[i * 3] = v;
      out[i * 3 + 1] = v;
      out[i * 3 + 2] = v;
    }
  } else if (channels === 4) {
    for (let i = 0; i < n; i++) {
      out[i * 3] = src[i * 4]!;
      out[i * 3 + 1] = src[i * 4 + 1]!;
      out[i * 3 + 2] = src[i * 4 + 2]!;
    }
  } else {
    throw new Vlm2VecError('image', `${label}: unsupported channel count ${channels} (expected 1–4)`);
  }
  return { width, height, data: out };
}

/**
 * True when the header alone shows 8-bit samples that are not CMYK (8-bit PNG, 8-bit 1- or
 * 3-component JPEG, GIF, WebP): such files decode with `raw({ depth: 'uchar' })` as they are, so
 * the separate metadata() read (a libvips header parse and a thread-pool round trip, ~0.1–0.4 ms
 * per image) is skipped. Anything else — or a header this does not understand — returns false
 * and takes the metadata path.
 */
export function plainEightBit(b: Uint8Array, format: ImageFormat): boolean {
  if (format === 'gif' || format === 'webp') return true;
  if (format === 'png') return b.length > 25 && b[24]! <= 8; // IHDR bit depth
  if (format !== 'jpeg') return false;
  // Walk the JPEG markers to the first SOFn: precision 8, 1 or 3 components (4 = CMYK/YCCK).
  let i = 2;
  while (i + 3 < b.length) {
    if (b[i] !== 0xff) return false;
    const m = b[i + 1]!;
    if (m === 0xff) { i++; continue; } // fill byte
    if ((m >= 0xd0 && m <= 0xd7) || m === 0x01) { i += 2; continue; } // no length
    const len = (b[i + 2]! << 8) | b[i + 3]!;
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
      if (i + 9 >= b.length) return false;
      const components = b[i + 9]!;
      return b[i + 4] === 8 && (components === 1 || components === 3);
    }
    if (m === 0xd9 || m === 0xda || len < 2) return false; // end or scan before any frame header
    i += 2 + len;
  }
  return false;
}

/**
 * The sharp (libvips) decoder alone, as loadImageRGB uses it for JPEG/PNG/WebP/GIF/TIFF: exported
 * so tests can check that it and the JS PNG decoder agree.
 *
 * @example
 * const img = await decodeWithSharp(bytes, 'photo.png', sniffImageFormat(bytes));
 */
export async function decodeWithSharp(bytes: Uint8Array, label: string, format: ImageFormat): Promise<RgbImage> {
  // autoOrient false: Pillow ignores EXIF orientation. ignoreIcc: Pillow's convert("RGB") does
  // not colour-manage. pages 1: Pillow's first frame of a GIF/TIFF. No limit on pixel count.
  const img = sharp(bytes, { autoOrient: false, ignoreIcc: true, pages: 1, page: 0, limitInputPixels: false });
  if (plainEightBit(bytes, format)) {
    try {
      const { data, info } = await img.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
      return toRgb(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), info.width, info.height, info.channels, label);
    } catch (err) {
      throw new Vlm2VecError('image', `${label}: cannot decode image: ${(err as Error).message}`, { cause: err });
    }
  }
  let meta;
  try {
    meta = await img.metadata();
  } catch (err) {
    throw new Vlm2VecError('image', `${label}: cannot decode image: ${(err as Error).message}`, { cause: err });
  }
  if (meta.space === 'cmyk') return decodeCmyk(bytes, label);
  // 16-bit samples. Pillow keeps the most significant byte for RGB(A) and LA ("RGB;16B" raw
  // modes) but opens plain 16-bit grayscale as mode I;16, whose conversion to RGB *clips* values
  // to 255 instead of scaling. libvips would rescale to 8 bits, so we take the 16-bit samples.
  const wide = meta.depth === 'ushort';
  const ch = meta.channels ?? 3;
  let out;
  try {
    const pipe = wide ? img.toColourspace(ch >= 3 ? 'rgb16' : 'grey16').raw({ depth: 'ushort' }) : img.raw({ depth: 'uchar' });
    out = await pipe.toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw new Vlm2VecError('image', `${label}: cannot decode image: ${(err as Error).message}`, { cause: err });
  }
  const { data, info } = out;
  let bytes8: Uint8Array = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (wide) {
    const w16 = new Uint16Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
    bytes8 = new Uint8Array(w16.length);
    // A 16-bit gray PNG with a tRNS chunk arrives as gray + alpha, but Pillow still opens it as
    // I;16 (clipped; the transparency is dropped by convert), so clip its gray channel too.
    const grayPng = format === 'png' && bytes[25] === 0;
    if (info.channels === 1 || grayPng) {
      for (let i = 0; i < w16.length; i += info.channels) bytes8[i] = Math.min(w16[i]!, 255);
    } else {
      for (let i = 0; i < w16.length; i++) bytes8[i] = w16[i]! >> 8;
    }
  }
  return toRgb(bytes8, info.width, info.height, info.channels, label);
}

/** Pillow's cmyk2rgb: r = clip(nk − c·nk/255) with nk = 255 − k, MULDIV255 rounding. */
export function cmykToRgb(cmyk: Uint8Array, width: number, height: number): RgbImage {
  const n = width * height;
  const out = new Uint8Array(n * 3);
  const muldiv255 = (a: number, b: number) => {
    const t = a * b + 128;
    return ((t >> 8) + t) >> 8;
  };
  for (let i = 0; i < n; i++) {
    const nk = 255 - cmyk[i * 4 + 3]!;
    for (let c = 0; c < 3; c++) {
      const v = nk - muldiv255(cmyk[i * 4 + c]!, nk);
      out[i * 3 + c] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return { width, height, data: out };
}

/** CMYK JPEG/TIFF: Pillow converts without colour management, so we take libvips' raw CMYK
 * samples (Adobe-inverted like Pillow's "CMYK;I"; no ICC transform) and convert as Pillow does. */
async function decodeCmyk(bytes: Uint8Array, label: string): Promise<RgbImage> {
  try {
    const { data, info } = await sharp(bytes, { autoOrient: false, ignoreIcc: true, pages: 1, page: 0, limitInputPixels: false })
      .pipelineColourspace('cmyk').toColourspace('cmyk').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (info.channels !== 4) throw new Error(`expected 4 CMYK channels, got ${info.channels}`);
    return cmykToRgb(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), info.width, info.height);
  } catch (err) {
    throw new Vlm2VecError('image', `${label}: cannot decode CMYK image: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * PNGs up to this many pixels decode in ./image-png.ts (zlib inflate + JS unfiltering), which
 * beats sharp's fixed per-call cost on small images; measured on a 2-core x86-64 box, JS was
 * 10–30× faster on icons, ~1.3× on 640×480, about even near 0.2–0.3 MP with heavy filtering, and
 * slower on a 1920×1200 palette image, where libpng's C loops win over the fixed cost.
 */
export const PNG_JS_MAX_PIXELS = 512 * 1024;

/**
 * Decodes an image file (or its bytes) to 8-bit RGB like Pillow's `Image.open(p).convert("RGB")`.
 *
 * @example
 * const img = await loadImageRGB('photo.jpg');
 * console.log(img.width, img.height, img.data.length); // 640 480 921600
 */
export async function loadImageRGB(src: string | Uint8Array): Promise<RgbImage> {
  const label = typeof src === 'string' ? src : '<bytes>';
  let bytes: Uint8Array;
  if (typeof src === 'string') {
    // A synchronous read, like Pillow's open: fs.promises.readFile takes several thread-pool
    // round trips (~0.2–0.3 ms per file here, 5–50× the read itself, a few % of the whole
    // pipeline per image). The serve module embeds in worker threads, so this never blocks the
    // server's event loop; a slow network filesystem would block the calling thread for the read.
    try {
      bytes = readFileSync(src);
    } catch (err) {
      throw new Vlm2VecError('image', `cannot read image file '${src}': ${(err as Error).message}`, { cause: err });
    }
  } else {
    bytes = src;
  }
  const format = sniffImageFormat(bytes);
  if (format === 'bmp') return decodeBmp(bytes, label);
  if (format === 'png') {
    const img = decodePng(bytes, PNG_JS_MAX_PIXELS);
    if (img) return img;
  }
  if (format === 'unknown') {
    throw new Vlm2VecError('image', `${label}: unrecognised image format (expected JPEG, PNG, GIF, WebP, BMP or TIFF)`);
  }
  return decodeWithSharp(bytes, label, format);
}
