// The files of a folder the index takes, by extension: images, PDFs (one row per page), videos
// (one row per file: frames sampled as VLM2Vec samples them) and text/markdown. Hidden files and
// folders (names starting with '.') are skipped, symlinks are not followed (no cycles).

import { readdir, stat } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';
import { Vlm2VecError } from '../errors.ts';

/** The file kinds the index reads. */
export type FileKind = 'image' | 'pdf' | 'video' | 'text';

const EXTENSIONS: Readonly<Record<string, FileKind>> = {
  '.jpg': 'image', '.jpeg': 'image', '.png': 'image', '.webp': 'image', '.gif': 'image', '.bmp': 'image', '.tif': 'image', '.tiff': 'image',
  '.pdf': 'pdf',
  '.mp4': 'video', '.mov': 'video', '.mkv': 'video', '.webm': 'video', '.avi': 'video', '.m4v': 'video',
  '.txt': 'text', '.md': 'text', '.markdown': 'text',
};

/** The kind of a file by its extension (case-insensitive), or undefined when the index skips it. */
export function fileKind(name: string): FileKind | undefined {
  return EXTENSIONS[extname(name).toLowerCase()];
}

/** One file found: its path relative to the root with '/' separators, kind, size and mtime. */
export interface FoundFile {
  rel: string;
  abs: string;
  kind: FileKind;
  size: number;
  mtimeMs: number;
}

/** Walks `root` recursively; files sorted by relative path so runs are reproducible. */
export async function walkFolder(root: string): Promise<FoundFile[]> {
  const st = await stat(root).catch(() => undefined);
  if (!st?.isDirectory()) throw new Vlm2VecError('index', `input folder (--input) ${root} ${st ? 'is not a folder' : 'does not exist'}`);
  const out: FoundFile[] = [];
  const visit = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      if (e.name.startsWith('.')) continue;
      const abs = join(dir, e.name);
      if (e.isDirectory()) await visit(abs);
      else if (e.isFile()) {
        const kind = fileKind(e.name);
        if (!kind) continue;
        const s = await stat(abs);
        out.push({ rel: relative(root, abs).split(sep).join('/'), abs, kind, size: s.size, mtimeMs: Math.floor(s.mtimeMs) });
      }
    }
  };
  await visit(root);
  return out.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
}
