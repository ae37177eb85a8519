// Atomic file writes: write a temp file beside the target, fsync it, then rename over the target.
// rename(2) within one directory is atomic on POSIX, so a reader (or a resumed run after
// `kill -9`) sees either the old complete file or the new complete file, never a torn one.

import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync, renameSync, openSync, fsyncSync, closeSync, rmSync, statSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { Vlm2VecError } from '../errors.ts';

function tempName(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/** A failed write as a Vlm2VecError naming the file (the CLI prints it without a stack trace). */
function writeError(path: string, err: unknown): Vlm2VecError {
  if (err instanceof Vlm2VecError) return err;
  return new Vlm2VecError('fs', `cannot write ${path}: ${(err as Error).message}`, { cause: err });
}

/**
 * Write `data` to `path` atomically (parent directories are created). Failures are
 * Vlm2VecErrors naming `path`; the target then keeps its old content and no temp file remains.
 *
 * @example
 * await writeFileAtomic('out/image/MSCOCO_t2i_score.json', JSON.stringify(scores, null, 4));
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true }).catch((err: unknown) => {
    throw writeError(path, err);
  });
  const tmp = tempName(path);
  try {
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw writeError(path, err);
  }
}

/** Synchronous variant of {@link writeFileAtomic}. */
export function writeFileAtomicSync(path: string, data: string | Uint8Array): void {
  try {
    mkdirSync(dirname(path), { recursive: true });
  } catch (err) {
    throw writeError(path, err);
  }
  const tmp = tempName(path);
  try {
    writeFileSync(tmp, data);
    const fd = openSync(tmp, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw writeError(path, err);
  }
}


/** True when `p` exists and is a folder (false for files, dangling paths and unreadable ones). */
export function isDirSync(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
