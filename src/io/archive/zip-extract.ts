// Unpacking ordinary zip archives (STORED and DEFLATE entries) without an `unzip` binary, e.g.
// MMEB-eval's images.zip for the legacy V1 harness. The central directory is read with the same
// reader as torch.save files (torch-zip.ts); each entry is streamed through zlib's raw inflate
// into a temp file, its CRC-32 checked, then renamed into place, so an interrupted extraction
// never leaves a truncated file that a rerun would take as done. Files already present with the
// entry's size are skipped: a rerun resumes.

import { createWriteStream, existsSync, statSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, sep } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32, createInflateRaw } from 'node:zlib';
import { Vlm2VecError } from '../../errors.ts';
import { localDataOffset, readZipDirectory, type ZipEntry } from './torch-zip.ts';

export interface ExtractZipOptions {
  /** Called after each file entry: written or already present. */
  onEntry?: (e: { name: string; index: number; count: number; skipped: boolean }) => void;
}

export interface ExtractZipResult {
  files: number;
  skipped: number;
  /** Entry names of the files (directory entries left out), in archive order. */
  names: string[];
}

/**
 * Extracts every file of the zip at `zipPath` under `destDir` (created). Entry names that would
 * land outside `destDir` (absolute, `..`) and compression methods other than STORED/DEFLATE are
 * errors naming the archive and the entry.
 *
 * @example await extractZip('data/MMEB-eval/images.zip', 'data/eval_images');
 */
export async function extractZip(zipPath: string, destDir: string, opts: ExtractZipOptions = {}): Promise<ExtractZipResult> {
  const fail = (msg: string): never => {
    throw new Vlm2VecError('zip', `${zipPath}: ${msg}`);
  };
  const fh = await open(zipPath, 'r').catch((e: Error) => fail(`cannot open: ${e.message}`));
  try {
    const size = (await fh.stat()).size;
    const entries = [...(await readZipDirectory(fh, zipPath, size)).values()].filter((e) => !e.name.endsWith('/'));
    const root = normalize(destDir);
    await mkdir(root, { recursive: true });
    let skipped = 0;
    for (const [index, entry] of entries.entries()) {
      const target = safeTarget(root, entry.name) ?? fail(`entry '${entry.name}' would be written outside ${destDir}`);
      const present = existsSync(target) && statSync(target).size === entry.size;
      if (present) skipped++;
      else await extractEntry(fh, zipPath, size, entry, target, fail);
      opts.onEntry?.({ name: entry.name, index, count: entries.length, skipped: present });
    }
    return { files: entries.length, skipped, names: entries.map((e) => e.name) };
  } finally {
    await fh.close();
  }
}

function safeTarget(root: string, name: string): string | undefined {
  if (isAbsolute(name) || /^[A-Za-z]:/.test(name)) return undefined;
  const target = normalize(join(root, name));
  return target.startsWith(root.endsWith(sep) ? root : root + sep) ? target : undefined;
}

async function extractEntry(
  fh: Awaited<ReturnType<typeof open>>, zipPath: string, zipSize: number, entry: ZipEntry, target: string, fail: (m: string) => never,
): Promise<void> {
  if (entry.method !== 0 && entry.method !== 8) fail(`entry '${entry.name}' uses compression method ${entry.method}; only STORED and DEFLATE are supported`);
  const start = await localDataOffset(fh, zipPath, zipSize, entry);
  await mkdir(dirname(target), { recursive: true });
  const tmp = `${target}.partial`;
  let crc = 0;
  let bytes = 0;
  const check = new Transform({
    transform(chunk: Buffer, _enc, done) {
      crc = crc32(chunk, crc);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  // An empty stored entry has no bytes to stream (a stream with end < start would read to EOF).
  const source = entry.compressedSize === 0
    ? [Buffer.alloc(0)]
    : fh.createReadStream({ start, end: start + entry.compressedSize - 1, autoClose: false });
  try {
    if (entry.method === 8) await pipeline(source, createInflateRaw(), check, createWriteStream(tmp));
    else await pipeline(source, check, createWriteStream(tmp));
  } catch (e) {
    await rm(tmp, { force: true });
    fail(`entry '${entry.name}' could not be extracted: ${(e as Error).message}`);
  }
  if (bytes !== entry.size || crc >>> 0 !== entry.crc32 >>> 0) {
    await rm(tmp, { force: true });
    fail(`entry '${entry.name}' is corrupt: ${bytes} bytes with CRC-32 ${(crc >>> 0).toString(16)}, the directory says ${entry.size} bytes, ${(entry.crc32 >>> 0).toString(16)}`);
  }
  await rename(tmp, target);
}
