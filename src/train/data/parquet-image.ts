// Image bytes of document-page sources, read from their parquet row when a batch needs them.
// Parquet decodes a whole column chunk at a time, so the reader keeps the last row group of each
// file: a run of consecutive examples from one source (the mixture's homogeneous runs) costs one
// decode per row group instead of one per image.

import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, type FileMetaData } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { Vlm2VecError } from '../../errors.ts';
import type { ParquetImageRef } from './types.ts';

interface CachedGroup {
  start: number;
  end: number;
  column: string;
  values: unknown[];
}

/** Reads {@link ParquetImageRef}s; one instance per training run (it caches per file). */
export class ParquetImageReader {
  private readonly meta = new Map<string, Promise<{ file: Awaited<ReturnType<typeof asyncBufferFromFile>>; metadata: FileMetaData }>>();
  private readonly groups = new Map<string, CachedGroup>();

  private open(file: string) {
    let m = this.meta.get(file);
    if (!m) {
      m = (async () => {
        const buf = await asyncBufferFromFile(file);
        return { file: buf, metadata: await parquetMetadataAsync(buf) };
      })();
      this.meta.set(file, m);
    }
    return m;
  }

  /** The encoded image bytes of `ref` (JPEG/PNG as stored). */
  async read(ref: ParquetImageRef): Promise<Uint8Array> {
    const where = `image '${ref.name}' (${ref.file} row ${ref.row}, column '${ref.column}')`;
    let g = this.groups.get(ref.file);
    if (!g || g.column !== ref.column || ref.row < g.start || ref.row >= g.end) {
      let opened;
      try {
        opened = await this.open(ref.file);
      } catch (err) {
        this.meta.delete(ref.file);
        throw new Vlm2VecError('train-data', `cannot read ${where}: ${(err as Error).message}`, { cause: err });
      }
      let start = 0;
      let end = -1;
      for (const rg of opened.metadata.row_groups) {
        const n = Number(rg.num_rows);
        if (ref.row < start + n) { end = start + n; break; }
        start += n;
      }
      if (end < 0) throw new Vlm2VecError('train-data', `${where}: the file has only ${start} rows`);
      let rows: Record<string, unknown>[];
      try {
        rows = await parquetReadObjects({ file: opened.file, metadata: opened.metadata, compressors, utf8: false, columns: [ref.column], rowStart: start, rowEnd: end });
      } catch (err) {
        throw new Vlm2VecError('train-data', `cannot read ${where}: ${(err as Error).message}`, { cause: err });
      }
      g = { start, end, column: ref.column, values: rows.map((r) => r[ref.column]) };
      this.groups.set(ref.file, g);
    }
    const v = g.values[ref.row - g.start];
    const bytes = v instanceof Uint8Array ? v : v !== null && typeof v === 'object' ? (v as Record<string, unknown>)['bytes'] : undefined;
    if (!(bytes instanceof Uint8Array) || bytes.length === 0) {
      throw new Vlm2VecError('train-data', `${where} has no image bytes`);
    }
    return bytes;
  }
}
