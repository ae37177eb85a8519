// Thumbnails of the search page (`vlm2vec serve --db DIR --ui`): `GET /thumbnail?path=P&page=N`
// answers a small JPEG of an indexed image, PDF page (rendered from the PDF) or video (a 2×2 grid
// of sampled frames), or the start of an indexed text file.
//
// Only files that are in the index are served: (path, page) must be a row of the items table,
// looked up by exact match, and the file must resolve, symlinks followed, inside the indexed
// folder. So `../`, absolute paths, files the index skipped (hidden, other extensions) and a file
// swapped for a symlink to elsewhere are all refused, whatever the request says.

import { mkdtemp, open, realpath, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { Vlm2VecError } from '../errors.ts';
import { sampleFramePaths } from '../io/media/frames.ts';
import { renderPdfPages } from '../io/media/pdf.ts';
import { extractVideoFrames } from '../io/media/video.ts';
import type { ItemKind } from '../search/instructions.ts';
import { sqlString } from '../search/lance.ts';
import { openSearchIndex } from '../search/search.ts';

/** A refused thumbnail request, with its HTTP status. */
export class ThumbnailError extends Vlm2VecError {
  constructor(readonly status: 400 | 403 | 404, message: string) {
    super('serve', message);
  }
}

export interface Thumbnail {
  type: string;
  body: Buffer;
}

/** Longest side of a thumbnail, px. */
const SIZE = 384;
/** Characters of a text file's preview. */
const TEXT_CHARS = 800;
/** Thumbnails kept in memory (a few MB). */
const CACHE_ENTRIES = 256;
/** Renders at once: PDF pages and video frames are slow, and the model needs the CPU too. */
const CONCURRENT_RENDERS = 2;

/** Checks that the folder thumbnails are read from exists; returns its real path. */
export async function thumbnailRoot(root: string | undefined, db: string): Promise<string> {
  if (root === undefined) {
    throw new Vlm2VecError('serve', `--ui: ${db} does not record the folder it was made from (an index made by an older vlm2vec): give it with --root DIR`);
  }
  const real = await realpath(root).catch(() => undefined);
  if (real === undefined || !(await stat(real)).isDirectory()) {
    throw new Vlm2VecError('serve', `--ui: the indexed folder ${root} (thumbnails are read from there) is not a folder here: give it with --root DIR`);
  }
  return real;
}

/** Thumbnails of one index's files (see the file comment). */
export class Thumbnails {
  private readonly cache = new Map<string, { size: number; mtime: number; thumb: Thumbnail }>();
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  /** `root` is the real path of the indexed folder (see {@link thumbnailRoot}). */
  constructor(private readonly db: string, private readonly root: string, private readonly maxImagePixels: number) {}

  /** The thumbnail of `path` (as stored in the index) and `page` (query-string values). */
  async get(path: string | null, pageText: string | null): Promise<Thumbnail> {
    if (path === null || path === '') throw new ThumbnailError(400, 'thumbnail: the query needs path=<indexed path>');
    const page = pageText === null || pageText === '' ? 0 : /^\d{1,6}$/.test(pageText) ? Number(pageText) : NaN;
    if (Number.isNaN(page)) throw new ThumbnailError(400, `thumbnail: page must be a whole number (0 for files that are not PDFs), got ${JSON.stringify(pageText!.slice(0, 20))}`);
    const { table } = await openSearchIndex(this.db);
    const rows = await table.query().where(`path = ${sqlString(path)} AND page = ${page}`).select(['path', 'page', 'kind']).limit(1).toArray();
    const row = rows[0] as { path: string; kind: ItemKind } | undefined;
    if (!row) throw new ThumbnailError(404, `thumbnail: ${JSON.stringify(path.slice(0, 200))}${page > 0 ? ` page ${page}` : ''} is not in the index`);
    const abs = resolve(this.root, row.path);
    if (!abs.startsWith(this.root + sep)) throw new ThumbnailError(403, `thumbnail: ${JSON.stringify(row.path)} is outside the indexed folder`);
    const real = await realpath(abs).catch(() => undefined);
    if (real === undefined) throw new ThumbnailError(404, `thumbnail: ${row.path} is in the index but no longer in the folder (rerun vlm2vec index)`);
    if (!real.startsWith(this.root + sep)) throw new ThumbnailError(403, `thumbnail: ${row.path} now leads outside the indexed folder`);
    const st = await stat(real);
    if (!st.isFile()) throw new ThumbnailError(404, `thumbnail: ${row.path} is not a file`);
    const key = `${row.path}#${page}`;
    const hit = this.cache.get(key);
    if (hit && hit.size === st.size && hit.mtime === st.mtimeMs) return hit.thumb;
    const thumb = await this.limited(() => render(real, row.kind, page, this.maxImagePixels)).catch((e: unknown) => {
      throw new Vlm2VecError('serve', `thumbnail of ${row.path}${page > 0 ? ` page ${page}` : ''}: ${(e as Error).message}`, { cause: e });
    });
    this.cache.delete(key);
    this.cache.set(key, { size: st.size, mtime: st.mtimeMs, thumb });
    if (this.cache.size > CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value!);
    return thumb;
  }

  private async limited<T>(fn: () => Promise<T>): Promise<T> {
    while (this.running >= CONCURRENT_RENDERS) await new Promise<void>((r) => this.waiting.push(r));
    this.running++;
    try {
      return await fn();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}

const jpeg = (img: Sharp): Promise<Buffer> => img.flatten({ background: '#ffffff' }).jpeg({ quality: 82 }).toBuffer();
const fit = (img: Sharp, w: number, h: number): Sharp => img.resize(w, h, { fit: 'inside', withoutEnlargement: true });

async function render(file: string, kind: ItemKind, page: number, maxPixels: number): Promise<Thumbnail> {
  switch (kind) {
    case 'image':
      // rotate(): EXIF orientation, as a photo viewer shows it.
      return { type: 'image/jpeg', body: await jpeg(fit(sharp(file, { limitInputPixels: maxPixels }).rotate(), SIZE, SIZE)) };
    case 'page': {
      // 72 dpi: an A4 page is 595 × 842 px, enough for a 384 px thumbnail.
      const [p] = await renderPdfPages(file, { dpi: 72, pages: [page] });
      if (!p) throw new Error(`the PDF has no page ${page}`);
      const raw = sharp(Buffer.from(p.image.data.buffer, p.image.data.byteOffset, p.image.data.byteLength), {
        raw: { width: p.image.width, height: p.image.height, channels: 3 },
      });
      return { type: 'image/jpeg', body: await jpeg(fit(raw, SIZE, SIZE)) };
    }
    case 'video':
      return { type: 'image/jpeg', body: await videoGrid(file) };
    case 'text': {
      const fh = await open(file, 'r');
      try {
        const buf = Buffer.alloc(TEXT_CHARS * 4);
        const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
        // A multi-byte character cut at the end decodes to U+FFFD: drop it.
        const text = buf.subarray(0, bytesRead).toString('utf8').replace(/\uFFFD$/, '').slice(0, TEXT_CHARS);
        return { type: 'text/plain; charset=utf-8', body: Buffer.from(text, 'utf8') };
      } finally {
        await fh.close();
      }
    }
  }
}

/** Four frames sampled over the video (as the index samples its frames), in a 2×2 grid. */
async function videoGrid(file: string): Promise<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), 'vlm2vec-thumb-'));
  try {
    await extractVideoFrames(file, dir);
    const frames = await sampleFramePaths(dir, 4);
    const meta = await sharp(frames[0]!).metadata();
    const cw = SIZE / 2;
    const ch = Math.max(1, Math.round((cw * (meta.height ?? 1)) / (meta.width ?? 1)));
    const tiles = await Promise.all(frames.map((f) => sharp(f).resize(cw, ch, { fit: 'cover' }).toBuffer()));
    const grid = sharp({ create: { width: SIZE, height: ch * Math.ceil(tiles.length / 2), channels: 3, background: '#000000' } })
      .composite(tiles.map((t, i) => ({ input: t, left: (i % 2) * cw, top: Math.floor(i / 2) * ch })));
    return await grid.jpeg({ quality: 82 }).toBuffer();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
