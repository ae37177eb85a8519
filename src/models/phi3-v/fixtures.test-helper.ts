// Reads the golden cases written by tools/reference/phi3v_fixtures.py (test/fixtures/model/tiny-phi3v).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const FIXTURES = join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'model');
export const TINY = join(FIXTURES, 'tiny-phi3v');
export const TINY_DORA = join(FIXTURES, 'tiny-phi3v-dora');

export interface ArrayRef { file: string; dtype: string; shape: number[] }
export interface ProcessorCase {
  name: string; numCrops: number; text: string; image: string; ids: number[]; imageSize: [number, number];
  numImgTokens: number; pixels: { shape: number[]; sha256: string[]; stride: number; samples: ArrayRef };
}
export interface EmbeddingCase {
  name: string; items: string[]; numCrops: number;
  inputIds: ArrayRef; attentionMask: ArrayRef; hidden: ArrayRef; embedding: ArrayRef;
}
export interface Cases {
  items: Record<string, { text: string; image?: string }>;
  tokenizer: { text: string; ids: number[] }[];
  processor: ProcessorCase[];
  embeddings: EmbeddingCase[];
  long: EmbeddingCase[];
  window: EmbeddingCase[];
  dora: EmbeddingCase[];
  evalV1: {
    subset: string;
    items: { text: string; image: string; embedding: number[] }[];
    rows: { pred: number; scores: number[] }[];
    score: { acc: number; num_correct: number; num_pred: number };
  };
}

export const CASES = JSON.parse(readFileSync(join(TINY, 'golden', 'cases.json'), 'utf8')) as Cases;

/** The items of the embedding cases (prompt, image file relative to the fixture folder). */
export const ITEMS = CASES.items;

export function readArray(ref: ArrayRef): Float32Array | Float64Array | BigInt64Array {
  const b = readFileSync(join(TINY, ref.file));
  const ab = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  if (ref.dtype === 'float32') return new Float32Array(ab);
  if (ref.dtype === 'float64') return new Float64Array(ab);
  if (ref.dtype === 'int64') return new BigInt64Array(ab);
  throw new Error(`unexpected dtype ${ref.dtype}`);
}

export function caseByName(list: EmbeddingCase[], name: string): EmbeddingCase {
  const c = list.find((x) => x.name === name);
  if (!c) throw new Error(`no golden case ${name}`);
  return c;
}
