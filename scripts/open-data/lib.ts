// Shared pieces of the open-data fetch script: the fixed train / held-out split, parquet writing in
// the two layouts the project reads (TIGER-Lab/MMEB-train rows for `vlm2vec train`, the MMEB eval
// repos for `vlm2vec eval --benchmark mini`), image normalisation and the dataset cards.

import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { parquetWriteFile } from 'hyparquet-writer';
import { Vlm2VecError } from '../../src/errors.ts';

/** Salt of the split hash: changing it reshuffles every split, so it is part of the data version. */
export const SPLIT_SEED = 'vlm2vec-open-data-v1';

/**
 * Where an item goes: a fixed function of (source, id), so the split does not depend on the order
 * files are listed in or on which other items exist, and a rerun (or another machine) gets the
 * same split. The first 32 bits of sha256(seed/source/id) as a fraction in [0, 1).
 *
 * @example
 * splitFraction('TuxPaint', 'animals/cat'); // the same number on every run
 */
export function splitFraction(source: string, id: string): number {
  const h = createHash('sha256').update(`${SPLIT_SEED}/${source}/${id}`, 'utf8').digest();
  return h.readUInt32BE(0) / 2 ** 32;
}

/** `held-out` when the item's split fraction is below `heldOut`, else `train`. */
export function splitOf(source: string, id: string, heldOut: number): 'train' | 'held-out' {
  return splitFraction(source, id) < heldOut ? 'held-out' : 'train';
}

/** Items ordered by their split fraction: a seeded sample of n is the first n (stable as above). */
export function seededOrder<T>(source: string, items: readonly T[], id: (x: T) => string): T[] {
  return items.map((x) => ({ x, k: splitFraction(`${source}/order`, id(x)) })).sort((a, b) => a.k - b.k).map((e) => e.x);
}

/** A parquet column: strings, lists of strings, int64 ids or raw bytes (images). */
export type Column =
  | { name: string; kind: 'string'; data: string[] }
  | { name: string; kind: 'string-list'; data: string[][] }
  | { name: string; kind: 'int64'; data: bigint[] }
  | { name: string; kind: 'image'; data: Uint8Array[] };

/**
 * Write a parquet file with an explicit schema, as the Hugging Face datasets of MMEB have them:
 * strings as UTF8 byte arrays, lists as 3-level LIST<element: string>, images as the `datasets`
 * Image feature's struct<bytes: binary, path: string>. Every column is OPTIONAL like pyarrow's.
 */
export function writeParquet(file: string, columns: readonly Column[]): void {
  const n = columns[0]?.data.length ?? 0;
  for (const c of columns) {
    if (c.data.length !== n) throw new Vlm2VecError('open-data', `${file}: column '${c.name}' has ${c.data.length} values, expected ${n}`);
  }
  const schema: Record<string, unknown>[] = [{ name: 'root', num_children: columns.length }];
  const columnData: { name: string; data: unknown[] }[] = [];
  for (const c of columns) {
    switch (c.kind) {
      case 'string':
        schema.push({ name: c.name, type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' });
        break;
      case 'string-list':
        schema.push({ name: c.name, repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 });
        schema.push({ name: 'list', repetition_type: 'REPEATED', num_children: 1 });
        schema.push({ name: 'element', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' });
        break;
      case 'int64':
        schema.push({ name: c.name, type: 'INT64', repetition_type: 'OPTIONAL' });
        break;
      case 'image':
        schema.push({ name: c.name, repetition_type: 'OPTIONAL', num_children: 2 });
        schema.push({ name: 'bytes', type: 'BYTE_ARRAY', repetition_type: 'OPTIONAL' });
        schema.push({ name: 'path', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' });
        break;
    }
    columnData.push({ name: c.name, data: c.kind === 'image' ? c.data.map((bytes) => ({ bytes, path: null })) : c.data });
  }
  mkdirSync(dirname(file), { recursive: true });
  // Row groups of 1000 rows keep hyparquet's one-row-group cache (page images) small.
  parquetWriteFile({ filename: file, columnData, schema, rowGroupSize: 1000 } as unknown as Parameters<typeof parquetWriteFile>[0]);
}

/** One MMEB-train row (TIGER-Lab/MMEB-train's six columns; `<|image_1|>` marks an image side). */
export interface TrainRow {
  qry: string;
  qry_image_path: string;
  pos_text: string;
  pos_image_path: string;
  neg_text: string;
  neg_image_path: string;
}

/** `<Subset>/original-00000-of-00001.parquet` of an MMEB-train-layout repo. */
export function writeTrainSubset(repoDir: string, subset: string, rows: readonly TrainRow[]): string {
  const file = join(repoDir, subset, 'original-00000-of-00001.parquet');
  const col = (k: keyof TrainRow): Column => ({ name: k, kind: 'string', data: rows.map((r) => r[k]) });
  writeParquet(file, [col('qry'), col('qry_image_path'), col('pos_text'), col('pos_image_path'), col('neg_text'), col('neg_image_path')]);
  return file;
}

/** One row of an MMEB image eval task (ziyjiang/MMEB_Test_Instruct's columns). */
export interface EvalImageRow {
  qry_inst: string;
  qry_text: string;
  qry_img_path: string;
  tgt_inst: string;
  tgt_text: string[];
  tgt_img_path: string[];
}

/** `<Task>/test-00000-of-00001.parquet` of an MMEB_Test_Instruct-layout repo. */
export function writeEvalImageTask(repoDir: string, task: string, rows: readonly EvalImageRow[]): string {
  const file = join(repoDir, task, 'test-00000-of-00001.parquet');
  writeParquet(file, [
    { name: 'qry_inst', kind: 'string', data: rows.map((r) => r.qry_inst) },
    { name: 'qry_text', kind: 'string', data: rows.map((r) => r.qry_text) },
    { name: 'qry_img_path', kind: 'string', data: rows.map((r) => r.qry_img_path) },
    { name: 'tgt_inst', kind: 'string', data: rows.map((r) => r.tgt_inst) },
    { name: 'tgt_text', kind: 'string-list', data: rows.map((r) => r.tgt_text) },
    { name: 'tgt_img_path', kind: 'string-list', data: rows.map((r) => r.tgt_img_path) },
  ]);
  return file;
}

/** A BEIR-style visual-document retrieval repo (the ViDoRe layout the `vidore` parser reads). */
export function writeBeirRepo(repoDir: string, queries: { id: number; query: string }[], pages: { id: number; png: Uint8Array }[],
  qrels: { queryId: number; corpusId: number }[]): void {
  writeParquet(join(repoDir, 'queries', 'test-00000-of-00001.parquet'), [
    { name: 'query-id', kind: 'int64', data: queries.map((q) => BigInt(q.id)) },
    { name: 'query', kind: 'string', data: queries.map((q) => q.query) },
  ]);
  writeParquet(join(repoDir, 'qrels', 'test-00000-of-00001.parquet'), [
    { name: 'query-id', kind: 'int64', data: qrels.map((q) => BigInt(q.queryId)) },
    { name: 'corpus-id', kind: 'int64', data: qrels.map((q) => BigInt(q.corpusId)) },
    { name: 'score', kind: 'int64', data: qrels.map(() => 1n) },
  ]);
  writeParquet(join(repoDir, 'corpus', 'test-00000-of-00001.parquet'), [
    { name: 'corpus-id', kind: 'int64', data: pages.map((p) => BigInt(p.id)) },
    { name: 'image', kind: 'image', data: pages.map((p) => p.png) },
  ]);
  writeCard(repoDir, ['corpus', 'queries', 'qrels'].map((c) => ({ config: c, split: 'test', path: `${c}/test-*` })));
}

/** A dataset card whose `configs:` tell findDataFiles (and `datasets`) which files hold which split. */
export function writeCard(repoDir: string, configs: { config: string; split: string; path: string }[], body = ''): void {
  const lines = ['---', 'configs:'];
  for (const c of configs) {
    lines.push(`- config_name: ${JSON.stringify(c.config)}`, '  data_files:', `  - split: ${c.split}`, `    path: ${JSON.stringify(c.path)}`);
  }
  lines.push('---', '', body);
  mkdirSync(repoDir, { recursive: true });
  writeFileSync(join(repoDir, 'README.md'), `${lines.join('\n')}\n`);
}

/** Longest side of the stored images of pictures (stamps, drawings, emoji stay at most this). */
export const MAX_SIDE = 224;

/**
 * A picture as the PNG the data stores: transparency flattened onto white (the models read RGB, and
 * Pillow's convert('RGB') would otherwise turn transparent pixels into whatever colour they hold),
 * shrunk to fit `maxSide` (never enlarged).
 */
export async function normalizePicture(input: Buffer | string, maxSide = MAX_SIDE, density?: number): Promise<Buffer> {
  const img = sharp(input, density !== undefined ? { density } : {});
  return img.flatten({ background: '#ffffff' })
    .resize({ width: maxSide, height: maxSide, fit: 'inside', withoutEnlargement: true })
    .png()
    .toBuffer();
}

/** Write bytes, creating the folder. */
export function writeBytes(file: string, bytes: Uint8Array | string): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, bytes);
}
