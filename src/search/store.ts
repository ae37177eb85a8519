// The two LanceDB tables of a folder index: `items` (one row per image, PDF page, video or text
// file: vector + metadata) and `meta` (one row: what the vectors were made with). The meta row
// is what lets a rerun refuse another model, adapter or instruction instead of mixing two
// embedding spaces in one table, and lets `search` load the index's own model.

import { existsSync } from 'node:fs';
import type { Connection, Table } from '@lancedb/lancedb';
import { Vlm2VecError } from '../errors.ts';
import type { CandidateInstructions, ItemKind } from './instructions.ts';
import { loadLance, type ArrowModule } from './lance.ts';

export const ITEMS_TABLE = 'items';
export const META_TABLE = 'meta';

/** What an index was made with; a rerun must match it. */
export interface IndexMeta {
  /** The embedder's identity (model source + weights fingerprint, adapter, dtype, pixels). */
  modelId: string;
  /** The `--model` / `--adapter` given when the index was made (used by `search` by default). */
  modelSpec: string;
  adapter: string | null;
  /** Other load options the model was given (tokenizer, dtype, pixel limits), to load it the same way. */
  modelOptions: Record<string, string | number>;
  instructions: CandidateInstructions;
  numFrames: number;
  pdfDpi: number;
  maxTextChars: number;
  dim: number;
  /** Absolute path of the folder last indexed (`--input`), where the stored relative paths
   *  point: the search page reads thumbnails from there. Absent in indexes made before it was
   *  recorded. Not part of the index's identity. */
  root?: string;
}

/** One stored row (the vector as LanceDB returns it). */
export interface ItemRow {
  /** `path` for one-row files, `path#page` for PDF pages. */
  id: string;
  /** Relative to the indexed folder, '/' separators. */
  path: string;
  /** 1-based PDF page; 0 for other files. */
  page: number;
  kind: ItemKind;
  size: number;
  /** Modification time, ms since the epoch (whole ms). */
  mtime: number;
  /** sha256 of the file's bytes, hex. */
  hash: string;
  model: string;
  instruction: string;
  vector: Float32Array;
}

function itemsSchema(arrow: ArrowModule, dim: number): InstanceType<ArrowModule['Schema']> {
  const { Schema, Field, Utf8, Int32, Float64, FixedSizeList, Float32 } = arrow;
  return new Schema([
    new Field('id', new Utf8(), false),
    new Field('path', new Utf8(), false),
    new Field('page', new Int32(), false),
    new Field('kind', new Utf8(), false),
    new Field('size', new Float64(), false),
    new Field('mtime', new Float64(), false),
    new Field('hash', new Utf8(), false),
    new Field('model', new Utf8(), false),
    new Field('instruction', new Utf8(), false),
    new Field('vector', new FixedSizeList(dim, new Field('item', new Float32(), true)), false),
  ]);
}

/** An open index: connection, tables (items absent until the first write) and its meta. */
export interface OpenIndex {
  db: Connection;
  arrow: ArrowModule;
  items: Table | undefined;
  meta: IndexMeta | undefined;
}

/** Opens (or prepares to create) the index at `uri`: a folder, or an `s3://` / `gs://` / `az://` URI. */
export async function openIndex(uri: string, opts: { mustExist?: boolean; storageOptions?: Record<string, string> | undefined } = {}): Promise<OpenIndex> {
  // connect() creates a missing local folder: a search must not leave one behind.
  if (opts.mustExist && !/^[a-z][a-z0-9+.-]*:\/\//i.test(uri) && !existsSync(uri)) {
    throw new Vlm2VecError('search', `${uri} does not exist: make an index with vlm2vec index --db ${uri}`);
  }
  const { lance, arrow } = await loadLance();
  const db = await lance.connect(uri, opts.storageOptions ? { storageOptions: opts.storageOptions } : {});
  const names = await db.tableNames();
  if (opts.mustExist && !names.includes(META_TABLE)) {
    throw new Vlm2VecError('search', `${uri} holds no vlm2vec index (no '${META_TABLE}' table): make one with vlm2vec index --db ${uri}`);
  }
  let meta: IndexMeta | undefined;
  if (names.includes(META_TABLE)) {
    const rows = await (await db.openTable(META_TABLE)).query().toArray();
    const json = rows[0]?.json as string | undefined;
    if (json === undefined) throw new Vlm2VecError('search', `${uri}: the '${META_TABLE}' table is empty`);
    meta = JSON.parse(json) as IndexMeta;
  }
  const items = names.includes(ITEMS_TABLE) ? await db.openTable(ITEMS_TABLE) : undefined;
  return { db, arrow, items, meta };
}

/** Writes the meta row (once, when the index is made: it never changes afterwards). */
export async function writeMeta(ix: OpenIndex, meta: IndexMeta): Promise<void> {
  await ix.db.createTable(META_TABLE, [{ json: JSON.stringify(meta) }], { mode: 'overwrite' });
  ix.meta = meta;
}

/** The items table, created empty with the fixed schema (float32 vectors of `dim`) when absent. */
export async function itemsTable(ix: OpenIndex, dim: number): Promise<Table> {
  ix.items ??= await ix.db.createEmptyTable(ITEMS_TABLE, itemsSchema(ix.arrow, dim), { existOk: true });
  return ix.items;
}

/** Rows → an Arrow table with the index's schema (so vectors stay float32, not inferred float64). */
export async function toArrow(ix: OpenIndex, rows: readonly ItemRow[], dim: number): Promise<unknown> {
  const { lance } = await loadLance();
  return lance.makeArrowTable(rows.map((r) => ({ ...r, vector: Array.from(r.vector) })), { schema: itemsSchema(ix.arrow, dim) });
}
