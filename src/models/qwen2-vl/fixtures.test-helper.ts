// Reads the golden cases written by tools/reference/model_qwen2vl.py (test/fixtures/model).

import { readFileSync } from 'node:fs';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import type { GridThw } from './rope.ts';
import type { Qwen2VLBatch } from './batch.ts';

export const FIXTURES = join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'model');
/** tiny-a carries the real Qwen tokenizer.json (test/fixtures/model/README.md: source, license). */
export const TOKENIZER_DIR = join(FIXTURES, 'tiny-a');

/**
 * Copies the DoRA adapter fixture to `dest` with `base_model_name_or_path` pointing at the tiny-a
 * fixture folder, so the adapter folder alone resolves to base + adapter.
 */
export async function copyAdapterWithLocalBase(dest: string): Promise<void> {
  await cp(join(FIXTURES, 'tiny-a-dora'), dest, { recursive: true });
  const cfg = JSON.parse(await readFile(join(dest, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
  await writeFile(join(dest, 'adapter_config.json'), JSON.stringify({ ...cfg, base_model_name_or_path: join(FIXTURES, 'tiny-a') }));
}

interface ArrayRef {
  file: string;
  dtype: 'float32' | 'int64';
  shape: number[];
}

export interface GoldenItem {
  text: string;
  images?: string[];
  video?: string[];
}

export interface GoldenCase {
  name: string;
  model: string;
  items: GoldenItem[];
  padding_side: 'left' | 'right';
  position_kind: '1d' | 'mrope_4x';
  [key: string]: unknown;
}

const index = JSON.parse(readFileSync(join(FIXTURES, 'cases.json'), 'utf8')) as { cases: GoldenCase[] };

export function goldenCase(name: string): GoldenCase {
  const c = index.cases.find((x) => x.name === name);
  assert.ok(c, `fixture case ${name} not found in cases.json`);
  return c;
}

export function goldenArray(c: GoldenCase, key: string): { data: Float32Array | BigInt64Array; shape: number[] } | undefined {
  const ref = c[key] as ArrayRef | null | undefined;
  if (!ref) return undefined;
  const buf = readFileSync(join(FIXTURES, ref.file));
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  return { data: ref.dtype === 'float32' ? new Float32Array(ab) : new BigInt64Array(ab), shape: ref.shape };
}

export function goldenF32(c: GoldenCase, key: string): Float32Array {
  const a = goldenArray(c, key);
  assert.ok(a && a.data instanceof Float32Array, `${c.name}.${key} missing or not float32`);
  return a.data;
}

function grids(c: GoldenCase, key: string): GridThw[] {
  const a = goldenArray(c, key);
  if (!a) return [];
  const d = Array.from(a.data as BigInt64Array, Number);
  return Array.from({ length: a.shape[0]! }, (_, i) => [d[3 * i]!, d[3 * i + 1]!, d[3 * i + 2]!] as const);
}

/** The exact reference batch (ids, mask, positions, pixels, grids) of a case. */
export function goldenBatch(c: GoldenCase, withPositions = true): Qwen2VLBatch {
  const ids = goldenArray(c, 'input_ids')!;
  return {
    inputIds: ids.data as BigInt64Array,
    attentionMask: goldenArray(c, 'attention_mask')!.data as BigInt64Array,
    shape: [ids.shape[0]!, ids.shape[1]!],
    positionIds: withPositions ? (goldenArray(c, 'position_ids')!.data as BigInt64Array) : undefined,
    pixelValues: goldenArray(c, 'pixel_values')?.data as Float32Array | undefined,
    imageGrids: grids(c, 'image_grid_thw'),
    pixelValuesVideos: goldenArray(c, 'pixel_values_videos')?.data as Float32Array | undefined,
    videoGrids: grids(c, 'video_grid_thw'),
  };
}

/** Row-wise cosine and global max |a-b| of two [B, D] arrays. */
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
      na += got[i]! * got[i]!;
      nb += want[i]! * want[i]!;
      maxAbs = Math.max(maxAbs, Math.abs(got[i]! - want[i]!));
    }
    minCos = Math.min(minCos, dot / Math.sqrt(na * nb));
  }
  return { minCos, maxAbs };
}

/** The float16 fixture of tools/reference/model_qwen2vl_fp16.py (float32 weights, three reference runs). */
export const FP16_FIXTURE = join(FIXTURES, 'fp16');

const fp16Index = JSON.parse(readFileSync(join(FP16_FIXTURE, 'cases.json'), 'utf8')) as { arrays: Record<string, ArrayRef> };

/** One array of the float16 fixture (`ids`, `pv`, `half.embedding`, ...). */
export function fp16Array(key: string): Float32Array | BigInt64Array {
  const ref = fp16Index.arrays[key];
  assert.ok(ref, `fp16 fixture array ${key} not found`);
  const buf = readFileSync(join(FP16_FIXTURE, ref.file));
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  return ref.dtype === 'float32' ? new Float32Array(ab) : new BigInt64Array(ab);
}

/** The float16 fixture's batch: text row, image row ([1, 4, 6]), video row ([2, 4, 4]), left padded. */
export function fp16Batch(): Qwen2VLBatch {
  const ids = fp16Array('ids') as BigInt64Array;
  const grid = (k: string): GridThw[] => {
    const g = Array.from(fp16Array(k) as BigInt64Array, Number);
    return [[g[0]!, g[1]!, g[2]!]];
  };
  return {
    inputIds: ids,
    attentionMask: fp16Array('mask') as BigInt64Array,
    shape: [3, ids.length / 3],
    positionIds: fp16Array('pos') as BigInt64Array,
    pixelValues: fp16Array('pv') as Float32Array,
    imageGrids: grid('pg'),
    pixelValuesVideos: fp16Array('vv') as Float32Array,
    videoGrids: grid('vg'),
  };
}
