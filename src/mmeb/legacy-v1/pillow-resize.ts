// `PIL.Image.open(path).resize((w, h))` with Pillow's DEFAULT filter, mode by mode, as the V1
// harness calls it (docs/mmeb.md §11). Pillow picks the filter and the arithmetic from the image mode:
//   - "P" (palette; every GIF) and "1" (1-bit): NEAREST, Pillow's ImagingScaleAffine — source
//     coordinates accumulated in float64 from `scale / 2`, truncated (Geometry.c);
//   - "RGBA" / "LA": BICUBIC on premultiplied alpha (convert to RGBa/La, resize, convert back;
//     Convert.c MULDIV255 for premultiplying, `255 * c / a` clipped for the way back);
//   - everything else 8-bit ("RGB", "L"): BICUBIC, our bit-exact port (src/io/media/pillow-resample.ts).
// The result keeps its alpha (RGBA) so an embedder sees what it would see from Pillow's image.
// CMYK and 16-bit images are resized from their RGB conversion, which is not exact (`exact: false`).

import sharp from 'sharp';
import { Vlm2VecError } from '../../errors.ts';
import { loadImageRGB } from '../../io/media/image.ts';
import { resampleBicubicU8, resampleBicubicU8Reference } from '../../io/media/pillow-resample.ts';

/** Interleaved 8-bit pixels, 3 (RGB) or 4 (RGBA) channels. */
export interface ResizedImage {
  width: number;
  height: number;
  channels: 3 | 4;
  /** [height, width, channels] */
  data: Uint8Array;
  /** Pillow mode the source was read as (what chose the filter). */
  mode: 'RGB' | 'L' | 'P' | '1' | 'RGBA' | 'LA' | 'other';
  /** False when we cannot reproduce Pillow's bytes for this mode (CMYK, 16-bit). */
  exact: boolean;
}

const OPEN = { autoOrient: false, ignoreIcc: true, pages: 1, page: 0, limitInputPixels: false } as const;

/**
 * Resize image file bytes to `width`×`height` the way `Image.open(f).resize((width, height))`
 * does with its default filter.
 *
 * @example
 * const r = await pillowDefaultResize(await readFile('cat.png'), 'cat.png', 128, 128);
 * r.mode; // 'RGB' → BICUBIC; 'P' → NEAREST
 */
export async function pillowDefaultResize(bytes: Uint8Array, label: string, width: number, height: number): Promise<ResizedImage> {
  let meta;
  try {
    meta = await sharp(bytes, OPEN).metadata();
  } catch (err) {
    throw new Vlm2VecError('image', `${label}: cannot decode image: ${(err as Error).message}`, { cause: err });
  }
  const rgb = async () => loadImageRGB(bytes);
  if (meta.space === 'cmyk' || meta.depth === 'ushort') {
    const im = await rgb();
    return { width, height, channels: 3, data: resampleBicubicU8(im.data, im.width, im.height, 3, width, height), mode: 'other', exact: false };
  }
  if (meta.format === 'gif' || meta.isPalette || (meta.channels === 1 && meta.bitsPerSample === 1)) {
    // Nearest sampling commutes with the palette lookup: sample the RGB conversion.
    const im = await rgb();
    const mode = meta.isPalette || meta.format === 'gif' ? 'P' : '1';
    return { width, height, channels: 3, data: resizeNearest(im.data, im.width, im.height, 3, width, height), mode, exact: true };
  }
  if (meta.hasAlpha) {
    const { data, info } = await sharp(bytes, OPEN).raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true }).catch((err: unknown) => {
      throw new Vlm2VecError('image', `${label}: cannot decode image: ${(err as Error).message}`, { cause: err });
    });
    const rgba = toRgba(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), info.width * info.height, info.channels, label);
    premultiply(rgba);
    // The JS resampler: the WebAssembly fast path is RGB only; both give identical bytes.
    const out = resampleBicubicU8Reference(rgba, info.width, info.height, 4, width, height);
    unpremultiply(out);
    return { width, height, channels: 4, data: out, mode: info.channels === 2 ? 'LA' : 'RGBA', exact: true };
  }
  const im = await rgb();
  return { width, height, channels: 3, data: resampleBicubicU8(im.data, im.width, im.height, 3, width, height), mode: meta.channels === 1 ? 'L' : 'RGB', exact: true };
}

/** LA (2 channels) or RGBA (4) → RGBA; L is replicated, as Pillow's LA → RGBA. */
function toRgba(src: Uint8Array, n: number, channels: number, label: string): Uint8Array {
  if (channels === 4) return src.slice(0, n * 4);
  if (channels !== 2) throw new Vlm2VecError('image', `${label}: expected 2 or 4 channels with alpha, got ${channels}`);
  const out = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) {
    const l = src[i * 2]!;
    out[i * 4] = l;
    out[i * 4 + 1] = l;
    out[i * 4 + 2] = l;
    out[i * 4 + 3] = src[i * 2 + 1]!;
  }
  return out;
}

/** Pillow's MULDIV255: round(a·b/255) in integer arithmetic. */
function muldiv255(a: number, b: number): number {
  const t = a * b + 128;
  return ((t >> 8) + t) >> 8;
}

/** RGBA → RGBa in place (Pillow's rgbA2rgba). */
export function premultiply(rgba: Uint8Array): void {
  for (let i = 0; i < rgba.length; i += 4) {
    const a = rgba[i + 3]!;
    for (let c = 0; c < 3; c++) rgba[i + c] = muldiv255(rgba[i + c]!, a);
  }
}

/** RGBa → RGBA in place (Pillow's rgba2rgbA): alpha 0 and 255 unchanged, else 255·c/a clipped. */
export function unpremultiply(rgba: Uint8Array): void {
  for (let i = 0; i < rgba.length; i += 4) {
    const a = rgba[i + 3]!;
    if (a === 0 || a === 255) continue;
    for (let c = 0; c < 3; c++) rgba[i + c] = Math.min(255, Math.trunc((255 * rgba[i + c]!) / a));
  }
}

/**
 * Pillow's NEAREST resize (ImagingScaleAffine): the source column of output x is
 * `trunc(s/2 + x·s)` with `s = inW / outW`, the sum accumulated step by step in float64 as the C
 * loop does (a multiplication can round differently).
 *
 * @example
 * resizeNearest(Uint8Array.of(1, 2, 3, 4), 4, 1, 1, 2, 1); // [2, 4]
 */
export function resizeNearest(data: Uint8Array, inW: number, inH: number, channels: number, outW: number, outH: number): Uint8Array {
  const table = (inSize: number, outSize: number): Int32Array => {
    const t = new Int32Array(outSize);
    const s = inSize / outSize;
    let o = s * 0.5;
    for (let i = 0; i < outSize; i++) {
      t[i] = Math.min(inSize - 1, Math.max(0, Math.trunc(o)));
      o += s;
    }
    return t;
  };
  const xs = table(inW, outW);
  const ys = table(inH, outH);
  const out = new Uint8Array(outW * outH * channels);
  for (let y = 0; y < outH; y++) {
    const row = ys[y]! * inW;
    for (let x = 0; x < outW; x++) {
      const src = (row + xs[x]!) * channels;
      const dst = (y * outW + x) * channels;
      for (let c = 0; c < channels; c++) out[dst + c] = data[src + c]!;
    }
  }
  return out;
}
