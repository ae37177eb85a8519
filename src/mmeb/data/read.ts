// Read dataset rows from parquet (hyparquet + hyparquet-compressors for snappy/zstd/gzip/brotli/lz4)
// and from JSON lines / JSON arrays. Rows keep their file and index so a bad field can be reported
// precisely. Byte arrays without a string annotation stay bytes (`utf8: false`): HF image columns
// are `{bytes, path}` structs whose bytes must not be decoded as text.

import { readFile } from 'node:fs/promises';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { Vlm2VecError } from '../../errors.ts';

/** One dataset row plus where it came from. */
export interface RowRef {
  data: Record<string, unknown>;
  file: string;
  /** 0-based row index within `file`. */
  index: number;
}

/** Options of {@link readRows}. */
export interface ReadOptions {
  /** Only these columns (parquet); all when undefined. */
  columns?: string[];
  /** Stop after this many rows in total. */
  limit?: number;
}

async function readParquet(file: string, opts: ReadOptions, budget: number): Promise<RowRef[]> {
  let rows: Record<string, unknown>[];
  try {
    const buf = await asyncBufferFromFile(file);
    const metadata = await parquetMetadataAsync(buf);
    const n = Number(metadata.num_rows);
    const rowEnd = Math.min(n, budget);
    if (opts.columns) {
      const have = new Set(metadata.schema.slice(1).map((s) => s.name));
      const missing = opts.columns.filter((c) => !have.has(c));
      if (missing.length > 0) {
        throw new Vlm2VecError('data', `${file}: missing column(s) ${missing.map((m) => `'${m}'`).join(', ')} (columns: ${[...have].join(', ')})`);
      }
    }
    rows = await parquetReadObjects({
      file: buf, metadata, compressors, utf8: false, rowStart: 0, rowEnd,
      ...(opts.columns ? { columns: opts.columns } : {}),
    });
  } catch (err) {
    if (err instanceof Vlm2VecError) throw err;
    throw new Vlm2VecError('data', `cannot read parquet file ${file}: ${(err as Error).message}`, { cause: err });
  }
  return rows.map((data, index) => ({ data, file, index }));
}

async function readJson(file: string, budget: number): Promise<RowRef[]> {
  const text = await readFile(file, 'utf8');
  const trimmed = text.trimStart();
  let rows: unknown[];
  if (file.toLowerCase().endsWith('.json') && trimmed.startsWith('[')) {
    try {
      rows = JSON.parse(text) as unknown[];
    } catch (err) {
      throw new Vlm2VecError('data', `${file}: invalid JSON: ${(err as Error).message}`, { cause: err });
    }
  } else {
    rows = [];
    const lines = text.split(/\r?\n/);
    for (let i = 0; i < lines.length && rows.length < budget; i++) {
      const l = lines[i]!.trim();
      if (l === '') continue;
      try {
        rows.push(JSON.parse(l));
      } catch (err) {
        throw new Vlm2VecError('data', `${file}:${i + 1}: invalid JSON line: ${(err as Error).message}`, { cause: err });
      }
    }
  }
  return rows.slice(0, budget).map((data, index) => {
    if (data === null || typeof data !== 'object' || Array.isArray(data)) {
      throw new Vlm2VecError('data', `${file}: row ${index} is not a JSON object`);
    }
    return { data: data as Record<string, unknown>, file, index };
  });
}

/**
 * Read the rows of several data files in order (as `datasets` concatenates shards).
 *
 * @example
 * const rows = await readRows(findDataFiles({ repoDir, repo, config: 'ImageNet-1K', split: 'test' }));
 * rows[0].data.qry_inst; // '<|image_1|> Represent the given image for classification.'
 */
export async function readRows(files: readonly string[], opts: ReadOptions = {}): Promise<RowRef[]> {
  const out: RowRef[] = [];
  let budget = opts.limit ?? Infinity;
  for (const f of files) {
    if (budget <= 0) break;
    const rows = f.toLowerCase().endsWith('.parquet') ? await readParquet(f, opts, budget) : await readJson(f, budget);
    // Not push(...rows): spreading ~100k+ rows (MMEB-train subsets, LLaVA-Hound JSON lines)
    // overflows the call stack.
    for (const r of rows) out.push(r);
    budget -= rows.length;
  }
  return out;
}

/**
 * Visit the rows of data files one parquet row group at a time, so large binary columns (page
 * images) never sit in memory all at once. (Reading sub-ranges of a row group would decode the
 * whole column chunk again for every range.) HF writes image datasets in row groups of ~100 rows.
 */
export async function forEachRowGroup(
  files: readonly string[], columns: string[],
  visit: (rows: RowRef[]) => Promise<void>,
): Promise<void> {
  for (const f of files) {
    if (!f.toLowerCase().endsWith('.parquet')) {
      await visit(await readRows([f]));
      continue;
    }
    const buf = await asyncBufferFromFile(f);
    const metadata = await parquetMetadataAsync(buf);
    let start = 0;
    for (const rg of metadata.row_groups) {
      const rowEnd = start + Number(rg.num_rows);
      let rows: Record<string, unknown>[];
      try {
        rows = await parquetReadObjects({ file: buf, metadata, compressors, utf8: false, columns, rowStart: start, rowEnd });
      } catch (err) {
        throw new Vlm2VecError('data', `cannot read parquet file ${f} rows ${start}..${rowEnd}: ${(err as Error).message}`, { cause: err });
      }
      const first = start;
      await visit(rows.map((data, i) => ({ data, file: f, index: first + i })));
      start = rowEnd;
    }
  }
}
