// `vlm2vec index` as a library: embeds the images, PDF pages, videos and text files of a folder
// into a LanceDB table, incrementally.
//
// - A file whose size and mtime match its stored rows is skipped unread; otherwise its sha256
//   decides (same content: only size/mtime are updated). New and changed files are embedded;
//   rows of files gone from the folder are deleted.
// - Rows are written in batches (`writeBatch` rows, whole files only: all pages of a PDF go in
//   one `add()`, which LanceDB commits atomically). A changed file's new rows are added before its
//   old rows are deleted, so a kill in between leaves both versions, and the next run keeps the
//   one whose hash matches the file. So a SIGKILL loses at most the batch in flight.
// - The meta row (model identity, instructions, frames, PDF dpi) must match on every rerun.
// - Below `indexThreshold` rows (default 50,000) search is exact (a flat scan: ~100k × 1536
//   float32 is ~600 MB read per query at most); from there an HNSW-SQ index on cosine distance is
//   built, and later runs fold new rows into it with `optimize()` (unindexed rows are still
//   searched exactly until then).

import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { SettledEmbedding } from '../embed/local.ts';
import { DEFAULT_PROMPT_STYLE, formatInput, type PromptStyle } from '../embed/prompt.ts';
import type { EmbedItem } from '../embed/types.ts';
import { Vlm2VecError, errorDetail } from '../errors.ts';
import { sampleFramePaths } from '../io/media/frames.ts';
import { renderPdfPages } from '../io/media/pdf.ts';
import { extractVideoFrames } from '../io/media/video.ts';
import { DEFAULT_CANDIDATE_INSTRUCTIONS, ITEM_KINDS, type CandidateInstructions, type ItemKind } from './instructions.ts';
import { loadLance, sqlString } from './lance.ts';
import { itemsTable, openIndex, toArrow, writeMeta, type IndexMeta, type ItemRow } from './store.ts';
import { walkFolder, type FoundFile } from './walk.ts';

/** What the index needs of an embedder (LocalEmbedder has it). */
export interface IndexEmbedder {
  readonly id: string;
  readonly dim: number;
  readonly batchSize: number;
  embedSettled(items: readonly EmbedItem[], onProgress?: (done: number, total: number) => void): Promise<SettledEmbedding[]>;
}

export interface IndexFolderOptions {
  input: string;
  /** Folder or object-store URI of the database. */
  db: string;
  embedder: IndexEmbedder;
  /** Recorded in the meta row (search loads it by default). */
  modelSpec: string;
  adapter?: string | undefined;
  /** Recorded in the meta row: other load options of the model (tokenizer, dtype, pixel limits). */
  modelOptions?: Record<string, string | number> | undefined;
  promptStyle?: PromptStyle | undefined;
  instructions?: Partial<CandidateInstructions> | undefined;
  /** Frames sampled per video (VLM2Vec: 8). */
  numFrames?: number | undefined;
  /** PDF render resolution (default 144 dpi). */
  pdfDpi?: number | undefined;
  /** Text files are cut to this many characters (default 8,000). */
  maxTextChars?: number | undefined;
  /** Rows per `add()` (default 32). */
  writeBatch?: number | undefined;
  /** Rows from which a vector index is built (default 50,000). */
  indexThreshold?: number | undefined;
  storageOptions?: Record<string, string> | undefined;
  /** Progress: files done of files to embed. */
  onProgress?: ((done: number, total: number) => void) | undefined;
  /** A file that could not be read or embedded (it is not stored; a rerun retries it). */
  onFileError?: ((path: string, message: string) => void) | undefined;
  signal?: AbortSignal | undefined;
}

export interface IndexFolderResult {
  files: number;
  embeddedFiles: number;
  unchangedFiles: number;
  deletedFiles: number;
  failedFiles: number;
  rows: number;
  vectorIndex: boolean;
  interrupted: boolean;
  seconds: number;
}

export const DEFAULT_INDEX_THRESHOLD = 50_000;

/** The fields of the meta row that decide whether two indexes hold the same embedding space. */
function metaMismatch(a: IndexMeta, b: IndexMeta): string | undefined {
  if (a.modelId !== b.modelId) return `model ${a.modelId} (now ${b.modelId})`;
  for (const k of ITEM_KINDS) {
    if (a.instructions[k] !== b.instructions[k]) return `${k} instruction ${JSON.stringify(a.instructions[k])} (now ${JSON.stringify(b.instructions[k])})`;
  }
  for (const k of ['numFrames', 'pdfDpi', 'maxTextChars', 'dim'] as const) {
    if (a[k] !== b[k]) return `${k} ${a[k]} (now ${b[k]})`;
  }
  return undefined;
}

async function sha256File(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

/** Stored state of one path: its rows' hashes and the size/mtime they were written with. */
interface Stored {
  hashes: Set<string>;
  size: number;
  mtime: number;
}

/**
 * Indexes `input` into the LanceDB database `db` (see the file comment).
 *
 * @example
 * const emb = await LocalEmbedder.load('TIGER-Lab/VLM2Vec-Qwen2VL-2B');
 * await indexFolder({ input: 'photos', db: 'photos.lance', embedder: emb, modelSpec: 'TIGER-Lab/VLM2Vec-Qwen2VL-2B' });
 */
export async function indexFolder(opts: IndexFolderOptions): Promise<IndexFolderResult> {
  const t0 = performance.now();
  const emb = opts.embedder;
  const style = opts.promptStyle ?? DEFAULT_PROMPT_STYLE;
  const meta: IndexMeta = {
    modelId: emb.id,
    modelSpec: opts.modelSpec,
    adapter: opts.adapter ?? null,
    modelOptions: opts.modelOptions ?? {},
    instructions: { ...DEFAULT_CANDIDATE_INSTRUCTIONS, ...opts.instructions },
    numFrames: opts.numFrames ?? 8,
    pdfDpi: opts.pdfDpi ?? 144,
    maxTextChars: opts.maxTextChars ?? 8000,
    dim: emb.dim,
  };
  meta.root = resolve(opts.input);
  const writeBatch = opts.writeBatch ?? 32;
  const files = await walkFolder(opts.input);
  const ix = await openIndex(opts.db, { storageOptions: opts.storageOptions });
  if (ix.meta) {
    const diff = metaMismatch(ix.meta, meta);
    if (diff) {
      throw new Vlm2VecError('index', `${opts.db} was made with ${diff}; an index holds one embedding space: ` +
        'use another --db, or the model/adapter/instructions it was made with');
    }
    // The same index fed from a moved folder: the paths now point there.
    if (ix.meta.root !== meta.root) await writeMeta(ix, { ...ix.meta, root: meta.root! });
  } else {
    await writeMeta(ix, meta);
  }
  const table = await itemsTable(ix, meta.dim);

  const stored = new Map<string, Stored>();
  for (const r of await table.query().select(['path', 'hash', 'size', 'mtime']).toArray()) {
    const s = stored.get(r.path as string) ?? { hashes: new Set<string>(), size: r.size as number, mtime: r.mtime as number };
    s.hashes.add(r.hash as string);
    stored.set(r.path as string, s);
  }
  const result: IndexFolderResult = {
    files: files.length, embeddedFiles: 0, unchangedFiles: 0, deletedFiles: 0, failedFiles: 0, rows: 0, vectorIndex: false, interrupted: false, seconds: 0,
  };

  const present = new Set(files.map((f) => f.rel));
  const gone = [...stored.keys()].filter((p) => !present.has(p));
  if (gone.length > 0) {
    for (let i = 0; i < gone.length; i += 500) await table.delete(`path IN (${gone.slice(i, i + 500).map(sqlString).join(', ')})`);
    result.deletedFiles = gone.length;
  }

  // Decide per file: skip (same size+mtime, one version), touch (same content), or embed.
  const todo: { file: FoundFile; hash: string }[] = [];
  for (const f of files) {
    const s = stored.get(f.rel);
    if (s && s.hashes.size === 1 && s.size === f.size && s.mtime === f.mtimeMs) {
      result.unchangedFiles++;
      continue;
    }
    const hash = await sha256File(f.abs);
    if (s?.hashes.has(hash)) {
      // Same content: keep its rows, drop a stale version left by a killed run, record size/mtime.
      if (s.hashes.size > 1) await table.delete(`path = ${sqlString(f.rel)} AND hash <> ${sqlString(hash)}`);
      if (s.size !== f.size || s.mtime !== f.mtimeMs) await table.update({ where: `path = ${sqlString(f.rel)}`, values: { size: f.size, mtime: f.mtimeMs } });
      result.unchangedFiles++;
      continue;
    }
    todo.push({ file: f, hash });
  }

  const scratch = await mkdtemp(join(tmpdir(), 'vlm2vec-index-'));
  let pending: ItemRow[] = [];
  const pendingPaths = new Map<string, string>();
  const flush = async (): Promise<void> => {
    if (pending.length === 0) return;
    await table.add((await toArrow(ix, pending, meta.dim)) as never);
    // Only now drop the files' older versions (see the file comment).
    const stale = [...pendingPaths].map(([p, h]) => `(path = ${sqlString(p)} AND hash <> ${sqlString(h)})`);
    for (let i = 0; i < stale.length; i += 200) await table.delete(stale.slice(i, i + 200).join(' OR '));
    pending = [];
    pendingPaths.clear();
  };

  let done = 0;
  opts.onProgress?.(0, todo.length);
  try {
    // Chunks of files whose items fill a few forward batches.
    let k = 0;
    while (k < todo.length && !opts.signal?.aborted) {
      const chunk: { file: FoundFile; hash: string; items: { kind: ItemKind; page: number; instruction: string; item: EmbedItem }[] }[] = [];
      let nItems = 0;
      while (k < todo.length && nItems < emb.batchSize * 2) {
        const t = todo[k++]!;
        try {
          const items = await fileItems(t.file, meta, style, join(scratch, String(k)));
          chunk.push({ ...t, items });
          nItems += items.length;
        } catch (e) {
          result.failedFiles++;
          opts.onFileError?.(t.file.rel, errorDetail(e, 'index'));
          done++;
        }
      }
      const flat = chunk.flatMap((c) => c.items.map((x) => x.item));
      const res = flat.length > 0 ? await emb.embedSettled(flat) : [];
      let r = 0;
      for (const c of chunk) {
        const got = res.slice(r, r + c.items.length);
        r += c.items.length;
        done++;
        const bad = got.find((g) => !g.ok);
        if (bad && !bad.ok) {
          result.failedFiles++;
          opts.onFileError?.(c.file.rel, bad.error.message.replace(/item \d+: /, ''));
          continue;
        }
        if (c.items.length === 0) {
          result.failedFiles++;
          opts.onFileError?.(c.file.rel, 'nothing to embed (an empty file or a PDF without pages)');
          continue;
        }
        c.items.forEach((x, j) => {
          pending.push({
            id: x.page > 0 ? `${c.file.rel}#${x.page}` : c.file.rel,
            path: c.file.rel, page: x.page, kind: x.kind, size: c.file.size, mtime: c.file.mtimeMs, hash: c.hash,
            model: meta.modelId, instruction: x.instruction, vector: (got[j] as { embedding: Float32Array }).embedding,
          });
        });
        pendingPaths.set(c.file.rel, c.hash);
        result.embeddedFiles++;
      }
      opts.onProgress?.(done, todo.length);
      if (pending.length >= writeBatch) await flush();
      // Rendered pages and frames of this chunk are embedded: free the disk.
      await rm(scratch, { recursive: true, force: true });
    }
    await flush();
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  result.interrupted = done < todo.length;
  result.rows = await table.countRows();
  result.vectorIndex = await maintainVectorIndex(table, result.rows, opts.indexThreshold ?? DEFAULT_INDEX_THRESHOLD,
    result.embeddedFiles + result.deletedFiles > 0);
  result.seconds = (performance.now() - t0) / 1000;
  return result;
}

/** The items of one file: one per image, PDF page, video or text file. */
async function fileItems(f: FoundFile, meta: IndexMeta, style: PromptStyle, scratch: string): Promise<{ kind: ItemKind; page: number; instruction: string; item: EmbedItem }[]> {
  const inst = meta.instructions;
  switch (f.kind) {
    case 'image':
      return [{ kind: 'image', page: 0, instruction: inst.image, item: formatInput({ instruction: inst.image, images: [f.abs] }, style) }];
    case 'pdf': {
      const pages = await renderPdfPages(f.abs, { dpi: meta.pdfDpi, outDir: scratch });
      return pages.map((p) => ({ kind: 'page' as const, page: p.page, instruction: inst.page, item: formatInput({ instruction: inst.page, images: [p.pngPath!] }, style) }));
    }
    case 'video': {
      await extractVideoFrames(f.abs, scratch);
      const frames = await sampleFramePaths(scratch, meta.numFrames);
      return [{ kind: 'video', page: 0, instruction: inst.video, item: formatInput({ instruction: inst.video, video: frames }, style) }];
    }
    case 'text': {
      const text = (await readFile(f.abs, 'utf8')).slice(0, meta.maxTextChars);
      if (text.trim() === '') return [];
      const input = inst.text === '' ? { text } : { instruction: inst.text, text };
      return [{ kind: 'text', page: 0, instruction: inst.text, item: formatInput(input, style) }];
    }
  }
}

/**
 * Builds the HNSW-SQ index once the table reaches `threshold` rows, and folds new rows into an
 * existing one. Returns whether the table has a vector index.
 */
export async function maintainVectorIndex(table: import('@lancedb/lancedb').Table, rows: number, threshold: number, changed: boolean): Promise<boolean> {
  const has = (await table.listIndices()).some((i) => i.columns.includes('vector'));
  if (!has && rows >= threshold) {
    const { lance } = await loadLance();
    await table.createIndex('vector', { config: lance.Index.hnswSq({ distanceType: 'cosine', numPartitions: Math.max(1, Math.round(rows / 1_000_000)) }) });
    return true;
  }
  // Compacts the small fragments of batched writes and indexes rows added since.
  if (changed) await table.optimize();
  return has;
}
