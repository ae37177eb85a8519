// Shared plumbing of the parsers: where a task's files are, reading its rows, and checked access
// to media (images, frame folders) with errors that name the task and the path.

import { existsSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { Vlm2VecError, errorDetail } from '../../errors.ts';
import type { WarningSink } from '../../util/warn.ts';
import type { PromptStyle } from '../../embed/prompt.ts';
import { listFrames, sampleFrameIndices } from '../../io/media/frames.ts';
import type { TaskDef } from '../tasks/types.ts';
import { findDataFiles } from '../data/discover.ts';
import { readRows, type RowRef } from '../data/read.ts';

/** Everything a parser needs, resolved once per task by `loadTask`. */
export interface LoaderCtx {
  task: TaskDef;
  /** Absolute `--data` directory. */
  dataDir: string;
  style: PromptStyle;
  /** Absolute media root of the task (`DATA/<task.mediaRoot>`). */
  mediaRoot: string;
  /** Max number of queries (rows) to build; Infinity = all. */
  limit: number;
  vidoreInstructions: 'empty' | 'nonempty';
  /** Fallback folder for materialized visdoc page images when DATA is read-only. */
  cacheDir: string | undefined;
  warn: WarningSink;
  /** Existence checks memoised for this load only (see {@link exists}). */
  existCache: Map<string, boolean>;
  /** Image loader: a row's relative image path → its resolved absolute path, for this load. */
  imagePaths: Map<string, string>;
}

/** `DATA/<org>/<repo>` of a hub repo. */
export function repoDir(ctx: LoaderCtx, repo = ctx.task.source.repo): string {
  return join(ctx.dataDir, ...repo.split('/'));
}

/**
 * Rows of the task's dataset (or of `config` of it), in file order, at most `limit` rows.
 * The BEIR loaders pass their `queries`/`qrels`/`corpus` config explicitly.
 */
export async function taskRows(
  ctx: LoaderCtx, opts: { config?: string; limit?: number; columns?: string[] } = {},
): Promise<RowRef[]> {
  const { source } = ctx.task;
  const config = opts.config ?? (source.configs && source.configs.length === 1 ? source.configs[0] : undefined);
  const files = findDataFiles({
    repoDir: repoDir(ctx), repo: source.repo, split: source.split, task: ctx.task.name,
    ...(config !== undefined ? { config } : {}),
  });
  return readRows(files, {
    ...(opts.limit !== undefined && Number.isFinite(opts.limit) ? { limit: opts.limit } : {}),
    ...(opts.columns ? { columns: opts.columns } : {}),
  });
}

/** Absolute path of a file/folder under the task's media root. */
export function media(ctx: LoaderCtx, ...parts: string[]): string {
  const p = join(...parts);
  return isAbsolute(p) ? p : join(ctx.mediaRoot, p);
}

/**
 * `existsSync` memoised per load: image candidates repeat across rows (1000×1000 lookups). The
 * memo lives in the load's context, not in the module, so two loads in one process (two runs,
 * or a rerun after media were extracted) each see the disk as it is when they look.
 */
export function exists(ctx: LoaderCtx, p: string): boolean {
  let v = ctx.existCache.get(p);
  if (v === undefined) { v = existsSync(p); ctx.existCache.set(p, v); }
  return v;
}

/** Forget this load's existence checks (after it wrote files). */
export function forgetExists(ctx: LoaderCtx): void {
  ctx.existCache.clear();
}

/** Throw a clear error when a media file is missing. */
export function requireFile(ctx: LoaderCtx, path: string, what: string): string {
  if (!exists(ctx, path)) {
    throw new Vlm2VecError('mmeb', `task ${ctx.task.name}: ${what} ${path} not found (media root ${ctx.mediaRoot}; see \`vlm2vec data pull\` for the MMEB-V2 media archives)`);
  }
  return path;
}

/** Frame files of a folder, naturally sorted; errors for a missing or empty folder. */
export async function framesOf(ctx: LoaderCtx, dir: string, what: string): Promise<string[]> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new Vlm2VecError('mmeb', `task ${ctx.task.name}: ${what} frame folder ${dir} not found (media root ${ctx.mediaRoot}; extract the MMEB-V2 video archives, see \`vlm2vec data pull\`)`);
  }
  const frames = await listFrames(dir);
  if (frames.length === 0) {
    throw new Vlm2VecError('mmeb', `task ${ctx.task.name}: ${what} frame folder ${dir} has no .jpg/.jpeg/.png frames`);
  }
  return frames;
}

/**
 * The reference `process_video_frames(dir, 8)`: natural sort, then `linspace(0, n-1, 8)` picks
 * (all frames when fewer than 8). `minFrames` enforces the retrieval loaders' 8-frame assertion.
 */
export async function sampledFrames(ctx: LoaderCtx, dir: string, what: string, minFrames = 0): Promise<string[]> {
  const frames = await framesOf(ctx, dir, what);
  if (frames.length < minFrames) {
    throw new Vlm2VecError('mmeb', `task ${ctx.task.name}: ${what} frame folder ${dir} has ${frames.length} frames; this parser needs at least ${minFrames} (the reference asserts it)`);
  }
  return sampleFrameIndices(frames.length, 8).map((i) => frames[i]!);
}

/**
 * The raw-video folder of a frames root, as the reference yaml pairs them (docs/mmeb.md §12.2):
 * `video-tasks/frames/<group>/<Task>` ↔ `video-tasks/videos/<group>/<Task>`.
 */
export function videoRootOf(ctx: LoaderCtx): string {
  return rawVideoRoot(ctx.mediaRoot);
}

/** {@link videoRootOf} for a media-root path. */
export function rawVideoRoot(mediaRoot: string): string {
  return mediaRoot.replace(/([/\\])frames([/\\])/, '$1videos$2');
}

/** Parsers whose loaders extract missing frame folders from the raw videos (ffmpeg route, docs/mmeb.md §4). */
export const EXTRACTING_PARSERS: ReadonlySet<string> = new Set(['video_classification', 'ssv2', 'msrvtt', 'msvd', 'didemo', 'youcook2', 'vatex']);

/**
 * {@link sampledFrames}, extracting the frames first when the frame folder is missing or empty
 * but the raw video exists — the reference's `save_frames` (§4, ffmpeg route: all frames when
 * ≤ 64, else floor(i·total/64), written as `frame_%04d.jpg`). Used by the classification and
 * retrieval parsers, whose yaml entries name a video root; frames are written into the folder
 * the released archives would have filled.
 */
export async function sampledFramesOrExtract(
  ctx: LoaderCtx, dir: string, videoFile: string, what: string, minFrames = 0,
): Promise<string[]> {
  const hasFrames = existsSync(dir) && statSync(dir).isDirectory() && (await listFrames(dir)).length > 0;
  if (!hasFrames) {
    if (!existsSync(videoFile)) {
      try {
        await framesOf(ctx, dir, what);
      } catch (err) {
        if (!(err instanceof Vlm2VecError)) throw err;
        throw new Vlm2VecError('mmeb', `${errorDetail(err, 'mmeb')}; the raw video ${videoFile} to extract them from is not there either`, { cause: err });
      }
    } else {
      // Lazy import: ffmpeg plumbing is only needed on this rare path.
      const { extractVideoFrames } = await import('../../io/media/video.ts');
      try {
        await extractVideoFrames(videoFile, dir, { maxFramesSaved: 64 });
      } catch (err) {
        throw new Vlm2VecError('mmeb', `task ${ctx.task.name}: ${what}: extracting frames of ${videoFile} into ${dir} failed: ${(err as Error).message}`, { cause: err });
      }
      ctx.warn(`task ${ctx.task.name}: extracted frames of ${videoFile} into ${dir}`);
    }
  }
  return sampledFrames(ctx, dir, what, minFrames);
}

/** Resolve the user's data dir to an absolute path (keys of moment tasks are absolute paths). */
export function absDataDir(dir: string): string {
  return resolve(dir);
}
