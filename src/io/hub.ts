// Hugging Face Hub downloads (models and datasets) into a local cache, with @huggingface/hub.
//
// Cache layout: `<cacheDir>/<models|datasets>/<owner>/<name>/<revision>/<repo files>`, with
// `cacheDir` = $VLM2VEC_CACHE or ~/.cache/vlm2vec. A finished download writes
// `.vlm2vec-download.json` (file list + sizes); files already present with the right size are not
// fetched again, so an interrupted download resumes file by file. Files land via a temporary name
// and a rename, so a crash never leaves a truncated file under the final name.
//
// Network failures are detected (DNS, refused, unreachable, timeouts) and reported as one clear
// "offline" error instead of a stack trace; every request has a response timeout, so a dead
// network never hangs the CLI.

import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, normalize, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { downloadFile, listFiles } from '@huggingface/hub';
import { Vlm2VecError } from '../errors.ts';
import { ensureOutputDir } from '../util/fs.ts';

export type RepoType = 'model' | 'dataset';

export const DEFAULT_HUB_URL = 'https://huggingface.co';
export const COMPLETE_MARKER = '.vlm2vec-download.json';

/** $VLM2VEC_CACHE, else ~/.cache/vlm2vec. */
export function defaultCacheDir(): string {
  return process.env.VLM2VEC_CACHE || join(homedir(), '.cache', 'vlm2vec');
}

const REPO_RE = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;

/** True for strings shaped like a hub repo id (`owner/name`). */
export function isRepoId(s: string): boolean {
  return REPO_RE.test(s) && !s.includes('..');
}

/** Where a repo at a revision lives in the cache. */
export function repoCacheDir(repo: string, repoType: RepoType = 'model', revision = 'main', cacheDir = defaultCacheDir()): string {
  if (!isRepoId(repo)) throw new Vlm2VecError('hub', `'${repo}' is not a hub repo id (expected owner/name)`);
  if (!/^[\w.-]+$/.test(revision) || revision.includes('..')) {
    throw new Vlm2VecError('hub', `revision '${revision}' must be a branch, tag or commit (letters, digits, . _ -)`);
  }
  return join(cacheDir, `${repoType}s`, repo, revision);
}

export interface DownloadProgress {
  readonly file: string;
  readonly fileIndex: number;
  readonly fileCount: number;
  readonly fileBytes: number;
  readonly fileTotal: number;
  readonly bytesDone: number;
  readonly bytesTotal: number;
}

export interface DownloadRepoOptions {
  /** `owner/name` */
  readonly repo: string;
  readonly repoType: RepoType;
  /** Branch, tag or commit; default 'main'. */
  readonly revision?: string;
  /** Target folder; default {@link repoCacheDir}. */
  readonly destDir?: string;
  /** Which repo paths to fetch (default all). */
  readonly include?: (path: string) => boolean;
  /**
   * A choice over the whole listing, after `include` (e.g. skip a file when a better form of it
   * is listed too): returns the paths to fetch.
   */
  readonly select?: (paths: readonly string[]) => readonly string[];
  readonly onProgress?: (p: DownloadProgress) => void;
  /** Default $HF_TOKEN. */
  readonly accessToken?: string;
  /** Default $HF_ENDPOINT or https://huggingface.co. */
  readonly hubUrl?: string;
  /** Max wait for response headers of each request, and max silence inside a body (ms); default 30 s. */
  readonly timeoutMs?: number;
  /** Injected fetch (tests, proxies). */
  readonly fetch?: typeof fetch;
}

export interface DownloadResult {
  readonly dir: string;
  /** Repo-relative paths of the files now present. */
  readonly files: readonly string[];
  /** How many were fetched now (the rest were already there). */
  readonly downloaded: number;
}

const OFFLINE_CODES = new Set([
  'ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ECONNRESET', 'ENETUNREACH', 'EHOSTUNREACH', 'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET', 'UND_ERR_HEADERS_TIMEOUT',
]);

class TimeoutError extends Error {}

/** Wraps fetch so that a request whose response headers do not arrive in `ms` fails. */
function withTimeout(inner: typeof fetch, ms: number): typeof fetch {
  return async (input, init) => {
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(new TimeoutError(`no response in ${ms} ms`)), ms);
    const signals = init?.signal ? [init.signal, ctrl.signal] : [ctrl.signal];
    try {
      // Only the wait for headers is bounded: a multi-GB body legitimately takes long.
      return await Promise.race([
        inner(input, { ...init, signal: AbortSignal.any(signals) }),
        new Promise<never>((_, reject) => ctrl.signal.addEventListener('abort', () => reject(ctrl.signal.reason))),
      ]);
    } finally {
      clearTimeout(timer);
    }
  };
}

function networkCode(e: unknown): string | undefined {
  for (let cur: unknown = e, depth = 0; cur && depth < 5; depth++) {
    if (cur instanceof TimeoutError) return 'TIMEOUT';
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && OFFLINE_CODES.has(code)) return code;
    if (cur instanceof TypeError && cur.message === 'fetch failed' && !(cur as { cause?: unknown }).cause) return 'FETCH_FAILED';
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Turns library / network errors into one clear Vlm2VecError. */
function explain(e: unknown, what: string, hubUrl: string): Vlm2VecError {
  if (e instanceof Vlm2VecError) return e;
  const code = networkCode(e);
  if (code) {
    return new Vlm2VecError(
      'hub',
      `cannot reach ${hubUrl} (${code}) while ${what}: the network looks offline. ` +
        'Download the files elsewhere and pass a local folder, or retry when online.',
      { cause: e },
    );
  }
  const status = (e as { statusCode?: unknown }).statusCode;
  if (status === 401 || status === 403) {
    return new Vlm2VecError('hub', `${what}: access denied (HTTP ${status}); the repo may be gated or private: set HF_TOKEN`, { cause: e });
  }
  if (status === 404) {
    return new Vlm2VecError('hub', `${what}: not found (HTTP 404); check the repo id, its type (model/dataset) and the revision`, { cause: e });
  }
  return new Vlm2VecError('hub', `${what}: ${(e as Error).message ?? String(e)}`, { cause: e });
}

async function sizeOf(p: string): Promise<number | undefined> {
  return stat(p).then(
    (s) => s.size,
    () => undefined,
  );
}

/**
 * Downloads a model or dataset repo (or the files `include` selects) into `destDir` or the cache.
 *
 * @example
 * const { dir } = await downloadRepo({ repo: 'TIGER-Lab/VLM2Vec-Qwen2VL-2B', repoType: 'model' });
 * await downloadRepo({ repo: 'TIGER-Lab/MMEB-eval', repoType: 'dataset', include: (p) => p.startsWith('MSCOCO/') });
 */
export async function downloadRepo(options: DownloadRepoOptions): Promise<DownloadResult> {
  const revision = options.revision ?? 'main';
  const dir = options.destDir ?? repoCacheDir(options.repo, options.repoType, revision);
  if (!isRepoId(options.repo)) throw new Vlm2VecError('hub', `'${options.repo}' is not a hub repo id (expected owner/name)`);
  const hubUrl = options.hubUrl ?? process.env.HF_ENDPOINT ?? DEFAULT_HUB_URL;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const fetchFn = withTimeout(options.fetch ?? fetch, timeoutMs);
  const accessToken = options.accessToken ?? process.env.HF_TOKEN;
  const common = {
    repo: { type: options.repoType, name: options.repo },
    revision,
    hubUrl,
    fetch: fetchFn,
    ...(accessToken ? { accessToken } : {}),
  } as const;
  const label = `${options.repoType} ${options.repo}@${revision}`;

  const entries: { path: string; size: number }[] = [];
  try {
    for await (const f of listFiles({ ...common, recursive: true })) {
      if (f.type !== 'file') continue;
      if (options.include && !options.include(f.path)) continue;
      entries.push({ path: f.path, size: f.lfs?.size ?? f.size });
    }
  } catch (e) {
    throw explain(e, `listing ${label}`, hubUrl);
  }
  if (options.select) {
    const keep = new Set(options.select(entries.map((f) => f.path)));
    entries.splice(0, entries.length, ...entries.filter((f) => keep.has(f.path)));
  }
  const bytesTotal = entries.reduce((s, f) => s + f.size, 0);
  let bytesDone = 0;
  let downloaded = 0;
  // Not mkdir -p for the root: it spins forever under /proc (see util/fs); below it, it is safe.
  ensureOutputDir(dir, { what: 'download folder', area: 'hub' });
  for (const [i, f] of entries.entries()) {
    const target = normalize(join(dir, f.path));
    if (!target.startsWith(normalize(dir) + sep)) throw new Vlm2VecError('hub', `${label}: refusing path '${f.path}' outside the target folder`);
    const report = (fileBytes: number) =>
      options.onProgress?.({ file: f.path, fileIndex: i, fileCount: entries.length, fileBytes, fileTotal: f.size, bytesDone: bytesDone + fileBytes, bytesTotal });
    if ((await sizeOf(target)) === f.size) {
      bytesDone += f.size;
      report(0);
      continue;
    }
    await mkdir(dirname(target), { recursive: true });
    const tmp = `${target}.part-${process.pid}`;
    try {
      const blob = await downloadFile({ ...common, path: f.path });
      if (!blob) throw new Vlm2VecError('hub', `${label}: ${f.path} is listed but could not be downloaded (HTTP 404)`);
      let fileBytes = 0;
      const src = Readable.fromWeb(blob.stream() as unknown as WebReadableStream<Uint8Array>);
      // A body that stops flowing (network dropped mid-file) must not hang forever either.
      let idle: NodeJS.Timeout | undefined;
      const arm = () => {
        clearTimeout(idle);
        idle = setTimeout(() => src.destroy(new TimeoutError(`no data for ${timeoutMs} ms`)), timeoutMs);
      };
      arm();
      src.on('data', (chunk: Uint8Array) => {
        arm();
        fileBytes += chunk.byteLength;
        report(fileBytes);
      });
      try {
        await pipeline(src, createWriteStream(tmp));
      } finally {
        clearTimeout(idle);
      }
      const got = await sizeOf(tmp);
      if (got !== f.size) throw new Vlm2VecError('hub', `${label}: ${f.path}: got ${got} bytes, expected ${f.size}`);
      await rename(tmp, target);
    } catch (e) {
      await rm(tmp, { force: true });
      throw explain(e, `downloading ${f.path} from ${label}`, hubUrl);
    }
    bytesDone += f.size;
    downloaded++;
  }
  await writeFile(
    join(dir, COMPLETE_MARKER),
    JSON.stringify({ repo: options.repo, repoType: options.repoType, revision, files: entries }, null, 1),
  );
  return { dir, files: entries.map((f) => f.path), downloaded };
}
