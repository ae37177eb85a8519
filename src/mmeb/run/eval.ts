// The MMEB evaluation run: select tasks, evaluate each one not yet finished (a task is finished
// when its `_score.json` exists), then aggregate every finished task in OUT into
// `OUT/summary.json`. Resumable at any point: result files are atomic, embeddings are cached per
// batch, so a rerun after a crash recomputes only the batches that were in flight.

import { join } from 'node:path';
import type { Embedder } from '../../embed/types.ts';
import type { PromptStyle } from '../../embed/prompt.ts';
import type { ScoreDict, TaskDef } from '../tasks/types.ts';
import { EmbeddingCache } from '../../embed/cache.ts';
import { FileHasher } from '../../embed/hash.ts';
import { buildBenchmarks, buildRegistry, MINI_TASKS, selectTasks, type BenchmarkName, type RegistryOptions } from '../tasks/registry.ts';
import { readResultFolder, summarize, writeSummary, type Summary } from '../score/aggregate.ts';
import { EmbedFailure, evalTask, type TaskProgress } from './eval-task.ts';
import { readFinishedScores, scorePath } from './results.ts';
import { checkEvalSettings, evalSettings } from './eval-settings.ts';
import { RESIZED_DIR, type ImageResolution } from '../load/resize.ts';
import { Vlm2VecError } from '../../errors.ts';
import type { WarningSink } from '../../util/warn.ts';
import { ensureOutputDir, statOrUndefined } from '../../util/fs.ts';

/** Options of {@link runEval}. */
export interface EvalOptions {
  embedder: Embedder;
  benchmark: BenchmarkName;
  /** Task selection specs (names, modalities, `modality/META`, globs); empty = the whole benchmark. */
  tasks?: readonly string[];
  dataDir: string;
  outDir: string;
  /** Embedding cache folder; default `OUT/.embed-cache`; `null` disables the cache. */
  cacheDir?: string | null | undefined;
  /** Items per embedder call. Default 16 (the reference's per-device eval batch). */
  batchSize?: number;
  /** Embedder calls in flight. Default 4. */
  concurrency?: number;
  style?: PromptStyle;
  /** Version choices of the task registry (docs/mmeb.md §10); `vidoreInstructions` also reaches the loader. */
  registry?: Partial<RegistryOptions>;
  /** Graded nDCG pairing: `reference` (default, reproduces the reference) or `corrected`. */
  gradedNdcg?: 'reference' | 'corrected';
  /**
   * The reference's `--resize_use_processor false --image_resolution X` (how the published
   * VLM2Vec-V1-Qwen2VL MMEB-V2 scores were computed, with `high`): the images and frames the
   * reference resizes become Pillow-exact 1344² / 672² / 128² PNGs under `OUT/.resized/`.
   * Recorded in `OUT/eval-settings.json`. Default: images as they are.
   */
  imageResolution?: ImageResolution | undefined;
  /** Model name written into the summary; default the embedder id. */
  modelLabel?: string;
  onProgress?: (e: EvalEvent) => void;
  /** Non-fatal notices of the tasks (skipped rows, approximate resizes). Default: written to stderr. */
  onWarning?: WarningSink;
}

export type EvalEvent =
  | { type: 'start'; tasks: string[] }
  | { type: 'task-start'; task: string; index: number; count: number }
  | { type: 'task-skip'; task: string; index: number; count: number; scoreFile: string }
  | { type: 'task-done'; task: string; scores: ScoreDict; seconds: number; embedded: number; cached: number }
  | { type: 'task-failed'; task: string; error: string }
  | TaskProgress;

export interface TaskResult {
  task: TaskDef;
  status: 'done' | 'skipped' | 'failed';
  /** Score record (for skipped tasks: as read from the existing file). */
  scores?: Record<string, number>;
  error?: string;
}

export interface EvalResult {
  tasks: TaskResult[];
  summary: Summary;
  summaryFile: string;
}

/**
 * Check what a run needs before any embedding is requested: the task selection (unknown names
 * get a did-you-mean), the data folder (must exist) and the output folder (created; must not be
 * a file). {@link runEval} calls it; the CLI calls it too, before it contacts any endpoint.
 *
 * @example
 * prepareEval({ benchmark: 'mmeb-v2', tasks: ['image/VG'], dataDir: '/data/mmeb', outDir: 'out/run1' }); // the 4 VG tasks
 */
export function prepareEval(opts: Pick<EvalOptions, 'benchmark' | 'tasks' | 'dataDir' | 'outDir' | 'registry'>): TaskDef[] {
  const bench = buildBenchmarks(buildRegistry(opts.registry ?? {}))[opts.benchmark];
  const selected = selectTasks(bench, opts.tasks ?? []);
  const data = statOrUndefined(opts.dataDir);
  if (!data?.isDirectory()) {
    throw new Vlm2VecError('eval', `data folder ${opts.dataDir} ${data ? 'is not a folder' : 'does not exist'}: expected the MMEB ` +
      'data (HF dataset repos as <dir>/<org>/<repo>/ plus image-tasks/, video-tasks/, visdoc-tasks/); see `vlm2vec data pull`');
  }
  // Never Node's recursive mkdir: it loops forever under /proc (src/util/fs.ts says why).
  ensureOutputDir(opts.outDir, { area: 'eval', what: 'output folder' });
  return selected;
}

/**
 * Evaluate an embedder on (a selection of) a benchmark and write the result files.
 *
 * @example
 * const r = await runEval({ embedder, benchmark: 'mmeb-v2', tasks: ['image/VG'], dataDir: '/data/mmeb', outDir: 'out/run1' });
 * r.summary.scores['image/VG']; // e.g. 78.4 (partial groups are listed in r.summary.partial)
 */
export async function runEval(opts: EvalOptions): Promise<EvalResult> {
  const registry = buildRegistry(opts.registry ?? {});
  const selected = prepareEval(opts);
  await checkEvalSettings(opts.outDir, evalSettings(opts.embedder.id, opts.style, opts.registry, opts.imageResolution));
  const emit = opts.onProgress ?? (() => {});
  emit({ type: 'start', tasks: selected.map((t) => t.name) });

  const cache = opts.cacheDir === null ? undefined : await EmbeddingCache.open(opts.cacheDir ?? join(opts.outDir, '.embed-cache'));
  const hasher = new FileHasher();
  const results: TaskResult[] = [];
  try {
    for (const [index, task] of selected.entries()) {
      const done = readFinishedScores(opts.outDir, task, opts.gradedNdcg);
      if (done) {
        emit({ type: 'task-skip', task: task.name, index, count: selected.length, scoreFile: scorePath(opts.outDir, task) });
        results.push({ task, status: 'skipped', scores: done });
        continue;
      }
      emit({ type: 'task-start', task: task.name, index, count: selected.length });
      const t0 = performance.now();
      try {
        const r = await evalTask(task, {
          embedder: opts.embedder,
          cache,
          hasher,
          dataDir: opts.dataDir,
          outDir: opts.outDir,
          batchSize: opts.batchSize ?? 16,
          concurrency: opts.concurrency ?? 4,
          style: opts.style,
          vidoreInstructions: opts.registry?.vidoreInstructions,
          gradedNdcg: opts.gradedNdcg,
          imageResolution: opts.imageResolution,
          resizeDir: join(opts.outDir, RESIZED_DIR),
          onProgress: emit,
          onWarning: opts.onWarning,
        });
        emit({
          type: 'task-done', task: task.name, scores: r.scores, seconds: (performance.now() - t0) / 1000,
          embedded: r.queries.embedded + r.candidates.embedded, cached: r.queries.cached + r.candidates.cached,
        });
        results.push({ task, status: 'done', scores: r.scores });
      } catch (err) {
        // The embedder failing (every endpoint dead, bad responses) would fail every later task
        // the same way: stop. A task whose data is missing or malformed fails alone.
        if (err instanceof EmbedFailure || !(err instanceof Vlm2VecError)) throw err;
        emit({ type: 'task-failed', task: task.name, error: err.message });
        results.push({ task, status: 'failed', error: err.message });
      }
    }
  } finally {
    cache?.close();
  }

  // The summary covers every finished task in OUT (earlier runs' too), partial groups flagged.
  // The mini benchmark's tasks are not MMEB tasks: its folder is read and summarized over them.
  const scope = opts.benchmark === 'mini' ? MINI_TASKS : registry;
  const run = { ...readResultFolder(opts.outDir, scope), model: opts.modelLabel ?? opts.embedder.id };
  const summary = summarize(run, opts.benchmark, scope);
  const summaryFile = await writeSummary(opts.outDir, summary);
  return { tasks: results, summary, summaryFile };
}
