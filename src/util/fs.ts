// Output paths and atomic file writes.
//
// Output folders are checked and created by one helper, not by `mkdir -p`: Node 20's recursive
// mkdir loops forever on a path under /proc (mkdir says ENOENT, the parent exists, it retries),
// and a folder on /sys or a read-only disk fails with a raw errno. Every command checks its
// outputs this way before it loads a model, so a bad path costs a second, not a model load.
//
// Atomic writes: write a temp file beside the target, fsync it, then rename over the target.
// rename(2) within one directory is atomic on POSIX, so a reader (or a resumed run after
// `kill -9`) sees either the old complete file or the new complete file, never a torn one.

import { randomBytes } from 'node:crypto';
import { accessSync, constants, mkdirSync, writeFileSync, renameSync, openSync, fsyncSync, closeSync, rmSync, statSync, statfsSync, type Stats } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { dirname, basename, join, resolve } from 'node:path';
import { Vlm2VecError, errorDetail } from '../errors.ts';

/** How an output path is named in error messages. */
export interface OutputPathOptions {
  /** The role and option, e.g. 'output folder (--out)' (default 'output folder' / 'output file'). */
  what?: string | undefined;
  /** Area tag of the error (default 'fs'); commands pass their name. */
  area?: string | undefined;
}

/**
 * Kernel filesystems that hold no user files (statfs f_type, linux/magic.h): writing there fails,
 * or, under /proc, makes Node's recursive mkdir spin.
 */
const VIRTUAL_FS: ReadonlyMap<number, string> = new Map([
  [0x9fa0, 'proc'], [0x62656572, 'sysfs'], [0x27e0eb, 'cgroup'], [0x63677270, 'cgroup2'],
  [0x64626720, 'debugfs'], [0x74726163, 'tracefs'], [0x73636673, 'securityfs'], [0x1cd1, 'devpts'],
]);

/** stat, or undefined when the path does not exist (or cannot be stat'ed). */
export function statOrUndefined(p: string): Stats | undefined {
  try {
    return statSync(p);
  } catch {
    return undefined;
  }
}

function errCode(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? (e as Error).message;
}

/**
 * Checks that `dir` is, or can be created as, a writable folder, without creating anything:
 * walks up to the first existing ancestor, which must be a folder on a real filesystem (not
 * /proc, /sys…) that we may write. Returns the folders that would be created, outermost first.
 * Throws a one-line Vlm2VecError naming the path and what is wrong.
 *
 * @example checkOutputDir('runs/a', { what: 'output folder (--out)', area: 'eval' }); // ['/home/me/runs', '/home/me/runs/a'] when neither exists
 */
export function checkOutputDir(dir: string, opts: OutputPathOptions = {}): string[] {
  const what = opts.what ?? 'output folder';
  const fail = (msg: string): Vlm2VecError => new Vlm2VecError(opts.area ?? 'fs', msg);
  const abs = resolve(dir);
  const missing: string[] = [];
  let p = abs;
  let st = statOrUndefined(p);
  while (!st) {
    missing.unshift(p);
    const up = dirname(p);
    if (up === p) throw fail(`cannot create the ${what} ${dir}: no part of the path exists`);
    p = up;
    st = statOrUndefined(p);
  }
  if (!st.isDirectory()) {
    throw fail(p === abs
      ? `${what} ${dir} is a file: expected a folder (created if missing)`
      : `cannot create the ${what} ${dir}: ${p} is a file, not a folder`);
  }
  let fsType: number | undefined;
  try {
    fsType = Number(statfsSync(p).type);
  } catch {
    fsType = undefined; // statfs unsupported here: the access and mkdir checks still apply
  }
  const virtual = fsType === undefined ? undefined : VIRTUAL_FS.get(fsType);
  if (virtual) throw fail(`${what} ${dir}: ${p} is on the ${virtual} kernel filesystem, which holds no files; choose a folder on a disk`);
  try {
    accessSync(p, constants.W_OK | constants.X_OK);
  } catch (e) {
    throw fail(`${what} ${dir}: ${p} is not writable (${errCode(e)})`);
  }
  return missing;
}

/**
 * {@link checkOutputDir}, then creates the missing folders one level at a time (never Node's
 * recursive mkdir, see the file comment). Returns the absolute path.
 *
 * @example ensureOutputDir('runs/a', { what: 'output folder (--out)', area: 'eval' });
 */
export function ensureOutputDir(dir: string, opts: OutputPathOptions = {}): string {
  for (const p of checkOutputDir(dir, opts)) {
    try {
      mkdirSync(p);
    } catch (e) {
      if (errCode(e) === 'EEXIST' && statOrUndefined(p)?.isDirectory()) continue; // created meanwhile
      throw new Vlm2VecError(opts.area ?? 'fs', `cannot create the ${opts.what ?? 'output folder'} ${dir}: mkdir ${p}: ${errCode(e)}`, { cause: e });
    }
  }
  return resolve(dir);
}

/**
 * Checks an output file path without writing it: its folder as {@link checkOutputDir} checks it,
 * and the path itself must not be a folder, nor an existing file we may not write. Returns the
 * path's stats when it exists.
 *
 * @example checkOutputFile('out/emb.jsonl', { what: 'output file (--out)', area: 'embed' });
 */
export function checkOutputFile(path: string, opts: OutputPathOptions = {}): Stats | undefined {
  const what = opts.what ?? 'output file';
  const fail = (msg: string): Vlm2VecError => new Vlm2VecError(opts.area ?? 'fs', msg);
  if (path === '' || /[/\\]$/.test(path)) throw fail(`${what} '${path}' names a folder: expected a file path`);
  const st = statOrUndefined(path);
  if (st?.isDirectory()) throw fail(`${what} ${path} is a folder: expected a file path (e.g. ${join(path, 'out.jsonl')})`);
  checkOutputDir(dirname(path), { ...opts, what: `folder of the ${what}` });
  if (st) {
    try {
      accessSync(path, constants.W_OK);
    } catch (e) {
      throw fail(`${what} ${path} is not writable (${errCode(e)})`);
    }
  }
  return st;
}

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
  try {
    ensureOutputDir(dirname(path));
  } catch (err) {
    throw new Vlm2VecError('fs', `cannot write ${path}: ${errorDetail(err, 'fs')}`, { cause: err });
  }
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
    ensureOutputDir(dirname(path));
  } catch (err) {
    throw new Vlm2VecError('fs', `cannot write ${path}: ${errorDetail(err, 'fs')}`, { cause: err });
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
