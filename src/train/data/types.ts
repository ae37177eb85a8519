// What the training-data parsers produce: one (query, positive, hard negatives) example per kept
// row, in file order, in the reference's common schema (base_pair_dataset.py MULTIMODAL_FEATURES:
// query_text/query_image, pos_*, neg_*, global_dataset_name) with images kept as paths or bytes
// and decoded only when a batch is built, as the reference's collator does.

import { Vlm2VecError } from '../../errors.ts';
import type { RowRef } from '../../mmeb/data/read.ts';
import type { PromptStyle } from '../../embed/prompt.ts';

/**
 * An image of an item: a file (MMEB-train), or the bytes of an HF `Image` column in a parquet
 * row (document pages), read when a batch is built (parquet-image.ts) so that a source of 100k
 * pages never sits in memory.
 */
export type TrainImage = { path: string } | ParquetImageRef;

/** Where a row's image bytes are: `file` row `row` (0-based), column `column` (`{bytes, path}`). */
export interface ParquetImageRef {
  file: string;
  row: number;
  column: string;
  /** The image's own file name (the struct's `path`, or the row's file-name column), for messages. */
  name: string;
}

/** One side of a pair: the prompt text (image token already the backbone's) and its images. */
export interface TrainItem {
  text: string;
  images: TrainImage[];
  /** Video frames (paths, in order) for a text holding the video token. */
  video?: string[];
}

export interface TrainExample {
  query: TrainItem;
  pos: TrainItem;
  /** Hard negatives (empty unless `num_hardneg` > 0 and the row has one). */
  negs: TrainItem[];
  /** The reference's `global_dataset_name`, e.g. `mmeb/ImageNet_1K` (logged per batch). */
  source: string;
  /** The data file and 0-based row the example comes from. */
  file: string;
  row: number;
}

/** One parsed source of the dataset_config. */
export interface ParsedSource {
  /** The YAML key. */
  name: string;
  /** `global_dataset_name`. */
  globalName: string;
  examples: TrainExample[];
  /** Rows read (after `num_sample_per_subset`), before skipping. */
  numRows: number;
  /** Rows the parser dropped, as the reference does (e.g. neither text nor image on one side). */
  skipped: number;
}

/** Options every parser takes. */
export interface ParseOptions {
  /** `--data`: dataset repos are `DIR/<org>/<repo>`, as `eval` finds them. */
  dataDir: string;
  /** The backbone's prompt style: which image token replaces `<|image_1|>`. */
  style: PromptStyle;
  /** `--num_hardneg`: hard negatives per example (0: none, as the reference trains). */
  numHardneg?: number;
  /** `--num_sample_per_subset`, used when the source does not set its own. */
  numSamplePerSubset?: number;
  /** Check that every image file exists while parsing (default true). */
  checkImages?: boolean;
}

/** A nullable string column: the value, '' for null (Python's falsy None), else an error. */
export function optText(r: RowRef, column: string, at: string): string {
  const v = r.data[column];
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return new TextDecoder().decode(v);
  throw new Vlm2VecError('train-data', `${at}: ${r.file} row ${r.index}: column '${column}' should be a string, found ${Array.isArray(v) ? 'a list' : typeof v}`);
}

/** Throw when the first row lacks a column the parser needs (parquet columns are per file). */
export function requireColumns(rows: readonly RowRef[], columns: readonly string[], at: string): void {
  const seen = new Set<string>();
  for (const r of rows) {
    if (seen.has(r.file)) continue;
    seen.add(r.file);
    const missing = columns.filter((c) => !(c in r.data));
    if (missing.length > 0) {
      throw new Vlm2VecError('train-data', `${at}: ${r.file} has no column(s) ${missing.map((c) => `'${c}'`).join(', ')} (columns: ${Object.keys(r.data).join(', ')})`);
    }
  }
}

/** The `num_sample_per_subset` in force: the source's own, else the command line's. */
export function sampleCap(own: number | undefined, opts: ParseOptions): number | undefined {
  return own ?? opts.numSamplePerSubset;
}
