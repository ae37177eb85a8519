// Local file paths as media, only behind `--allow-local-media DIR`: a server reading whatever
// path a client names would hand out any file it can read, so paths are refused unless their
// real location (symlinks resolved) lies inside one of the folders the operator listed. An
// accepted path is replaced by the file's bytes as a data URI before the request is decoded, so
// the rest of the server sees one form.

import { realpath, readFile, stat } from 'node:fs/promises';
import { isAbsolute, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProtocolError, toDataUri } from '../embed/protocol.ts';

/** A media reference that is not a data URI but names a local file (absolute path or file: URL). */
function localPath(v: unknown): string | undefined {
  if (typeof v !== 'string' || v.startsWith('data:')) return undefined;
  if (v.startsWith('file://')) return fileURLToPath(v);
  return isAbsolute(v) ? v : undefined;
}

async function load(value: string, field: string, roots: readonly string[], maxBytes: number): Promise<string> {
  const path = localPath(value)!;
  if (roots.length === 0) {
    throw new ProtocolError(field, `${JSON.stringify(value.slice(0, 80))} is a local path; this server accepts media as data URIs only ` +
      '(start it with --allow-local-media DIR to read files under DIR)');
  }
  let real: string;
  try {
    real = await realpath(path);
  } catch (e) {
    throw new ProtocolError(field, `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (!roots.some((r) => real === r || real.startsWith(r.endsWith(sep) ? r : r + sep))) {
    throw new ProtocolError(field, `${path} is outside the folders of --allow-local-media`);
  }
  const st = await stat(real);
  if (!st.isFile()) throw new ProtocolError(field, `${path} is not a file`);
  if (st.size > maxBytes) throw new ProtocolError(field, `${path}: ${st.size} bytes, more than the limit of ${maxBytes} per image or frame`);
  return toDataUri(await readFile(real), real);
}

/**
 * The real paths of the `--allow-local-media` folders (checked to exist).
 *
 * @example await mediaRoots(['/data/photos']) // ['/data/photos']
 */
export async function mediaRoots(dirs: readonly string[]): Promise<string[]> {
  return Promise.all(dirs.map(async (d) => realpath(resolve(d))));
}

/**
 * Replaces local-path media of either request form (`input[i].images[j]`, `input[i].video[j]`,
 * `messages[0].content[k].image_url.url`) in place by data URIs of the files, or throws a
 * {@link ProtocolError} naming the field. Anything else is left for `decodeRequest` to judge.
 */
export async function inlineLocalMedia(body: unknown, roots: readonly string[], maxBytes: number): Promise<void> {
  const jobs: Promise<void>[] = [];
  const visit = (holder: Record<string, unknown> | unknown[], key: string | number, field: string): void => {
    const v = (holder as Record<string | number, unknown>)[key];
    if (localPath(v) === undefined) return;
    jobs.push(load(v as string, field, roots, maxBytes).then((uri) => {
      (holder as Record<string | number, unknown>)[key] = uri;
    }));
  };
  const b = body as { input?: unknown; messages?: unknown } | null;
  if (b && Array.isArray(b.input)) {
    b.input.forEach((item: unknown, i) => {
      if (typeof item !== 'object' || item === null) return;
      for (const kind of ['images', 'video']) {
        const list = (item as Record<string, unknown>)[kind];
        if (Array.isArray(list)) list.forEach((_, j) => visit(list, j, `input[${i}].${kind}[${j}]`));
      }
    });
  }
  if (b && Array.isArray(b.messages) && typeof b.messages[0] === 'object' && b.messages[0] !== null) {
    const content = (b.messages[0] as { content?: unknown }).content;
    if (Array.isArray(content)) {
      content.forEach((part: unknown, k) => {
        const iu = (part as { image_url?: unknown } | null)?.image_url;
        if (typeof iu === 'object' && iu !== null) visit(iu as Record<string, unknown>, 'url', `messages[0].content[${k}].image_url.url`);
      });
    }
  }
  // Every read settles before the first error is thrown (no read left running unobserved).
  const settled = await Promise.allSettled(jobs);
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
}
