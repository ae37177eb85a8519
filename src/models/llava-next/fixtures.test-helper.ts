// Reads the golden cases of tools/reference/llava_next_fixtures.py (test/fixtures/model/llava-next).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LlavaNextConfig } from './config.ts';
import type { LlavaBatchImage, LlavaNextBatch } from './model.ts';
import { featureRows, imageFeatureLayout } from './processor.ts';

export const FIXTURES = join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'model');
export const MODEL_DIR = join(FIXTURES, 'tiny-llava');
export const DORA_DIR = join(FIXTURES, 'tiny-llava-dora');
export const IMAGES_DIR = join(FIXTURES, '..', 'io', 'images', 'src');
const CASES = join(FIXTURES, 'llava-next');

interface ArrayRef { file: string; dtype: 'float32' | 'int64'; shape: number[] }
export interface GoldenItem { text: string; images?: string[] }
export interface GoldenCase { name: string; model: string; items: GoldenItem[]; [key: string]: unknown }

const index = JSON.parse(readFileSync(join(CASES, 'cases.json'), 'utf8')) as { cases: GoldenCase[] };

/** Image names of the cases → files under test/fixtures/io/images/src (the script's MEDIA). */
export const MEDIA: Record<string, string> = {
  wide: 'panorama-wide-4096x300.jpg', tall: 'panorama-tall-123x1024.png', tiny: 'crop-10x10.png',
  huge: 'fossa-4096x2304.jpg', photo: 'futureprototype-grub-p-640x480.png', square: 'crop-70x70.png',
};

export function goldenCase(name: string): GoldenCase {
  const c = index.cases.find((x) => x.name === name);
  assert.ok(c, `case ${name}`);
  return c;
}

export function goldenArray(c: GoldenCase, key: string): { data: Float32Array | BigInt64Array; shape: number[] } | undefined {
  const ref = c[key] as ArrayRef | null | undefined;
  if (!ref) return undefined;
  const b = readFileSync(join(CASES, ref.file));
  const ab = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  return { data: ref.dtype === 'float32' ? new Float32Array(ab) : new BigInt64Array(ab), shape: ref.shape };
}

export function goldenF32(c: GoldenCase, key: string): Float32Array {
  const a = goldenArray(c, key);
  assert.ok(a && a.data instanceof Float32Array, `${c.name}.${key}`);
  return a.data;
}

/** The reference batch of a case (its ids, mask, pixels and image sizes). */
export function goldenBatch(c: GoldenCase, cfg: LlavaNextConfig): LlavaNextBatch {
  const ids = goldenArray(c, 'input_ids')!;
  const pv = goldenArray(c, 'pixel_values')?.data as Float32Array | undefined;
  const sizes = goldenArray(c, 'image_sizes');
  const s = cfg.vision.imageSize;
  const images: LlavaBatchImage[] = [];
  let at = 0;
  for (let i = 0; i < (sizes?.shape[0] ?? 0); i++) {
    const hw = [Number(sizes!.data[2 * i]), Number(sizes!.data[2 * i + 1])] as const;
    const layout = imageFeatureLayout(hw, s, cfg.vision.patchSize, cfg.imageGridPinpoints);
    const n = 1 + layout.patchRows * layout.patchCols;
    images.push({ pixels: pv!.slice(at, at + n * 3 * s * s), numPatches: n, featureRows: featureRows(layout, n * layout.grid * layout.grid) });
    at += n * 3 * s * s;
  }
  assert.equal(at, pv?.length ?? 0, `${c.name}: pixel rows used`);
  return { inputIds: ids.data as BigInt64Array, attentionMask: goldenArray(c, 'attention_mask')!.data as BigInt64Array, shape: [ids.shape[0]!, ids.shape[1]!], images };
}

/** Row-wise min cosine and global max |Δ| of two [B, D] arrays. */
export function compareRows(got: Float32Array, want: Float32Array, dim: number): { minCos: number; maxAbs: number } {
  assert.equal(got.length, want.length, 'length');
  let minCos = 1;
  let maxAbs = 0;
  for (let r = 0; r < want.length / dim; r++) {
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let i = r * dim; i < (r + 1) * dim; i++) {
      dot += got[i]! * want[i]!;
      na += got[i]! ** 2;
      nb += want[i]! ** 2;
      maxAbs = Math.max(maxAbs, Math.abs(got[i]! - want[i]!));
    }
    minCos = Math.min(minCos, dot / Math.sqrt(na * nb));
  }
  return { minCos, maxAbs };
}

export function assertClose(got: Float32Array, want: Float32Array, dim: number, what: string): void {
  const { minCos, maxAbs } = compareRows(got, want, dim);
  assert.ok(minCos >= 0.999999 && maxAbs <= 1e-5, `${what}: min cos ${minCos}, max |Δ| ${maxAbs}`);
}
