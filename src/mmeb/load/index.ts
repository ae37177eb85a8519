// Entry point of the MMEB loaders: turns a task's released data on local disk into queries and
// a candidate corpus exactly as the reference parsers do (docs/mmeb.md §3). One file per parser family;
// this file resolves options and dispatches on the task's parser kind.

import { join } from 'node:path';
import { Vlm2VecError } from '../../errors.ts';
import { warnToStderr, type WarningSink } from '../../util/warn.ts';
import { DEFAULT_PROMPT_STYLE, type PromptStyle } from '../../embed/prompt.ts';
import type { Candidate, LoadedTask, ParserKind, QueryRow, TaskDef } from '../tasks/types.ts';
import { absDataDir, type LoaderCtx } from './context.ts';
import { loadImageTask } from './image.ts';
import { loadVideoClsTask } from './video-cls.ts';
import { loadVideoRetTask } from './video-ret.ts';
import { loadMomentTask } from './video-mret.ts';
import { loadVideoQaTask } from './video-qa.ts';
import { loadVisdocTask } from './visdoc.ts';

/** Options of {@link loadTask}. */
export interface LoadTaskOptions {
  /** The `--data DIR`: HF dataset repos as `DIR/<org>/<repo>/` plus the MMEB-V2 media layout. */
  dataDir: string;
  /** Backbone prompt style (placeholder tokens, §3.1). Default `qwen2_vl`. */
  style?: PromptStyle;
  /** Instructions of the `vidore` parser (§3.4): `nonempty` (reference HEAD, default) or `empty`
   *  (the code state of the v2.0.0 / v2.0.1 score commits). Overrides `task.params.vidoreInstructions`. */
  vidoreInstructions?: 'empty' | 'nonempty';
  /** Where visdoc page images go when `DATA/visdoc-tasks/...` is not writable
   *  (default `$VLM2VEC_CACHE` or `~/.cache/vlm2vec`; the task's media root path is kept below it). */
  cacheDir?: string;
  /** Build at most this many queries (smoke runs); default all. */
  limit?: number;
  /** Non-fatal notices (skipped rows, cache fallback). Default: written to stderr. */
  onWarning?: WarningSink;
}

type Loader = (ctx: LoaderCtx) => Promise<{ queries: QueryRow[]; corpus: Candidate[] }>;

/** Parser kind → loader; `satisfies` makes a new ParserKind a compile error until it is handled. */
const LOADERS = {
  image_cls: loadImageTask, image_qa: loadImageTask, image_i2t: loadImageTask, image_t2i: loadImageTask, image_i2i_vg: loadImageTask,
  video_classification: loadVideoClsTask, ssv2: loadVideoClsTask,
  msrvtt: loadVideoRetTask, msvd: loadVideoRetTask, didemo: loadVideoRetTask, youcook2: loadVideoRetTask, vatex: loadVideoRetTask,
  moment_retrieval: loadMomentTask, momentseeker: loadMomentTask,
  videomme: loadVideoQaTask, nextqa: loadVideoQaTask, egoschema: loadVideoQaTask, mvbench: loadVideoQaTask, activitynetqa: loadVideoQaTask,
  vidore: loadVisdocTask, visrag: loadVisdocTask,
} satisfies Record<ParserKind, Loader>;

function vidoreSetting(task: TaskDef, opt: LoadTaskOptions['vidoreInstructions']): 'empty' | 'nonempty' {
  if (opt) return opt;
  const p = task.params?.['vidoreInstructions'];
  if (p === 'empty' || p === 'nonempty') return p;
  // The registry records the choice as the instruction strings themselves.
  if (task.params?.['queryInstruction'] === '') return 'empty';
  return 'nonempty';
}

/**
 * The context one load of `task` runs in: options resolved, and its own memo of file checks, so
 * two loads in one process never see each other's (possibly stale) answers.
 *
 * @example
 * const ctx = createLoaderCtx(getTask('MSCOCO_t2i'), { dataDir: '/data/mmeb' });
 * ctx.mediaRoot; // '/data/mmeb/image-tasks'
 */
export function createLoaderCtx(task: TaskDef, opts: LoadTaskOptions): LoaderCtx {
  const dataDir = absDataDir(opts.dataDir);
  return {
    task,
    dataDir,
    style: opts.style ?? DEFAULT_PROMPT_STYLE,
    mediaRoot: join(dataDir, task.mediaRoot),
    limit: opts.limit ?? Infinity,
    vidoreInstructions: vidoreSetting(task, opts.vidoreInstructions),
    cacheDir: opts.cacheDir,
    warn: opts.onWarning ?? warnToStderr,
    existCache: new Map(),
    imagePaths: new Map(),
  };
}

/**
 * Load one task: read its dataset files, build every query and candidate exactly per docs/mmeb.md §3.
 * Errors (missing repo/files/media, malformed rows, queries without a positive) are
 * {@link Vlm2VecError}s naming the task, the file and the field.
 *
 * @example
 * const t = await loadTask(getTask('MSCOCO_t2i'), { dataDir: '/data/mmeb' });
 * t.queries[0].item.text; // 'Find me an everyday image that matches the given caption: <caption>\n'
 */
export async function loadTask(task: TaskDef, opts: LoadTaskOptions): Promise<LoadedTask> {
  const loader: Loader | undefined = (LOADERS as Record<string, Loader>)[task.parser];
  if (!loader) throw new Vlm2VecError('mmeb', `task ${task.name}: unknown parser kind '${task.parser}'`);
  const ctx = createLoaderCtx(task, opts);
  const { queries, corpus } = await loader(ctx);
  if (queries.length === 0) {
    throw new Vlm2VecError('mmeb', `task ${task.name}: no queries were loaded from ${join(ctx.dataDir, ...task.source.repo.split('/'))}`);
  }
  return { task, queries, corpus };
}

export { PROMPT_STYLES, type PromptStyle } from '../../embed/prompt.ts';
