// The Pillow resampling fixtures (tools/reference/io_images.py): noise images made with the
// script's LCG and Pillow's BICUBIC outputs for each size pair.
import { readFileSync } from 'node:fs';

const dir = new URL('../../../test/fixtures/io/images/', import.meta.url);
export const RESAMPLE_CASES = JSON.parse(readFileSync(new URL('resample.json', dir), 'utf8')) as {
  in: [number, number];
  out: [number, number];
  seed: number;
  offset: number;
}[];
export const RESAMPLE_BLOB = new Uint8Array(readFileSync(new URL('resample.bin', dir)));

/** Same LCG as tools/reference/io_images.py (lcg_bytes). */
export function lcgBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = BigInt(seed);
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245n + 12345n) & 0x7fffffffn;
    out[i] = Number((x >> 16n) & 0xffn);
  }
  return out;
}
