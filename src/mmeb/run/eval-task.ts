// Evaluation of one task (docs/mmeb.md §9): load → embed the queries and
// the deduplicated candidate pool through the cache → rank (local or global, §6) → metrics (§7)
// → result files. Embedding errors propagate as EmbedFailure so the run can stop (every further
// task would fail the same way); anything else (a missing annotation file, a missing or
// undecodable image) fails only this task.

import type { EmbedContext, Embedder } from '../../embed/types.ts';
import type { EmbeddingCache } from '../../embed/cache.ts';
import type { FileHasher } from '../../embed/hash.ts';
import type { PromptStyle } from '../../embed/prompt.ts';
import type { LoadedTask, PredLine, ScoreDict, TaskDef } from '../tasks/types.ts';
import { embedThroughCache, MediaError, type EmbedStats } from '../../embed/cache-embed.ts';
import { loadTask } from '../load/index.ts';
import { buildCandidatePool } from '../load/pool.ts';
import { rankGlobalAsync, rankLocal } from '../score/rank.ts';
import { scoreTaskWithInfo } from '../score/metrics.ts';
import { writeTaskResults } from './results.ts';
import { ImageResizer, resizesMedia, type ImageResolution } from '../load/resize.ts';
import { Vlm2VecError } from '../../errors.ts';
import { warnToStderr, type WarningSink } from '../../util/warn.ts';

/** Progress of one task, as the pipeline reports it. */
export type TaskProgress =
  | { type: 'loaded'; task: string; queries: number; candidates: number }
  | { type: 'resize'; task: string; done: number; total: number }
  | { type: 'embed'; task: string; role: 'query' | 'candidate'; done: number; total: number }
  | { type: 'ranking'; task: string };

export interface TaskRunOptions {
  embedder: Embedder;
  cache?: EmbeddingCache | undefined;
  hasher: FileHasher;
  dataDir: string;
  outDir: string;
  batchSize: number;
  concurrency: number;
  style?: PromptStyle | undefined;
  vidoreInstructions?: 'empty' | 'nonempty' | undefined;
  gradedNdcg?: 'reference' | 'corrected' | undefined;
  /**
   * The reference's `--resize_use_processor false --image_resolution X`: the images and frames
   * the reference resizes are replaced by Pillow-exact s×s copies under `resizeDir` (./resize.ts).
   */
  imageResolution?: ImageResolution | undefined;
  /** Where the resized copies go; required with `imageResolution` (runEval: `OUT/.resized`). */
  resizeDir?: string | undefined;
  onProgress?: ((p: TaskProgress) => void) | undefined;
  /** Non-fatal notices (the loader's skipped rows and cache fallbacks, approximate resizes). Default: written to stderr. */
  onWarning?: WarningSink | undefined;
}

export interface TaskOutcome {
  scores: ScoreDict;
  scoreFile: string;
  predFile: string;
  queries: EmbedStats;
  candidates: EmbedStats;
}

/** Wraps an error raised while embedding: it stops the whole run. */
export class EmbedFailure extends Vlm2VecError {
  constructor(task: string, cause: unknown) {
    super('eval', `task ${task}: embedding failed: ${(cause as Error).message ?? String(cause)}`, { cause });
    this.name = 'EmbedFailure';
  }
}

/**
 * Evaluate one task and write its result files.
 *
 * @example
 * const r = await evalTask(getTask('MSCOCO_t2i'), { embedder, hasher: new FileHasher(), dataDir, outDir, batchSize: 16, concurrency: 4 });
 * r.scores['hit@1'];
 */
export async function evalTask(task: TaskDef, opts: TaskRunOptions): Promise<TaskOutcome> {
  const loaded: LoadedTask = await loadTask(task, {
    dataDir: opts.dataDir,
    ...(opts.style ? { style: opts.style } : {}),
    ...(opts.vidoreInstructions ? { vidoreInstructions: opts.vidoreInstructions } : {}),
    ...(opts.onWarning ? { onWarning: opts.onWarning } : {}),
  });
  if (loaded.queries.length === 0) throw new Vlm2VecError('eval', `task ${task.name}: the loader produced no queries`);
  const pool = buildCandidatePool(loaded);
  if (pool.length === 0) throw new Vlm2VecError('eval', `task ${task.name}: the candidate pool is empty`);
  opts.onProgress?.({ type: 'loaded', task: task.name, queries: loaded.queries.length, candidates: pool.length });
  // An embedder that declares it cannot take video (the vLLM chat protocol) or images fails
  // such a task here, alone; otherwise its first request would be an embedder failure that
  // stops the whole run.
  const caps = opts.embedder.capabilities;
  let qItems = loaded.queries.map((r) => r.item);
  let cItems = pool.map((x) => x.item);
  const items = [...qItems, ...cItems];
  if (caps?.video === false && items.some((it) => it.video !== undefined)) {
    throw new Vlm2VecError('eval', `task ${task.name} has video items, which embedder ${opts.embedder.id} cannot embed ` +
      '(it declares capabilities.video = false; the vllm protocol carries text and images only); use --protocol vlm2vec with a server that accepts video');
  }
  if (caps?.images === false && items.some((it) => it.images !== undefined && it.images.length > 0)) {
    throw new Vlm2VecError('eval', `task ${task.name} has image items, which embedder ${opts.embedder.id} cannot embed ` +
      '(it declares capabilities.images = false)');
  }

  const embed = async (role: EmbedContext['role'], items: Parameters<typeof embedThroughCache>[0]) => {
    try {
      return await embedThroughCache(items, {
        embedder: opts.embedder,
        cache: opts.cache,
        hasher: opts.hasher,
        batchSize: opts.batchSize,
        concurrency: opts.concurrency,
        ctx: { task: task.name, role },
        onProgress: (done, total) => opts.onProgress?.({ type: 'embed', task: task.name, role, done, total }),
      });
    } catch (err) {
      // A missing or undecodable image or frame (MediaError, the local model reports it too)
      // fails this task only; anything else is the embedder's failure.
      if (err instanceof MediaError) throw err;
      throw new EmbedFailure(task.name, err);
    }
  };
  if (opts.imageResolution !== undefined && resizesMedia(task.parser)) {
    if (opts.resizeDir === undefined) throw new Vlm2VecError('eval', `task ${task.name}: imageResolution needs resizeDir (where the resized images go)`);
    const resizer = new ImageResizer(opts.imageResolution, opts.resizeDir, opts.hasher);
    const total = qItems.length + cItems.length;
    const nq = qItems.length;
    const progress = (done: number): void => opts.onProgress?.({ type: 'resize', task: task.name, done, total });
    qItems = await resizer.resizeItems(qItems, task.name, progress);
    cItems = await resizer.resizeItems(cItems, task.name, (d) => progress(nq + d));
    const approx = resizer.stats.approximate;
    if (approx.length > 0) {
      const warn = opts.onWarning ?? warnToStderr;
      warn(`task ${task.name}: ${approx.length} CMYK or 16-bit image(s) resized from their RGB conversion, not bit-exactly ` +
        `as Pillow resizes them in their own mode (first: ${approx[0]})`);
    }
  }
  const q = await embed('query', qItems);
  const c = await embed('candidate', cItems);
  if (q.stats.dim !== c.stats.dim) {
    throw new EmbedFailure(task.name, new Error(`query vectors have ${q.stats.dim} dimensions but candidate vectors ${c.stats.dim}`));
  }

  opts.onProgress?.({ type: 'ranking', task: task.name });
  let predictions: string[][];
  if (task.evalType === 'global') {
    predictions = await rankGlobalAsync(q.vectors, c.vectors, pool.map((x) => x.key));
  } else {
    const byKey = new Map(pool.map((x, i) => [x.key, c.vectors[i]!] as const));
    predictions = rankLocal(q.vectors, loaded.queries.map((r) => r.candidates.map((x) => x.key)), byKey);
  }
  const preds: PredLine[] = loaded.queries.map((r, i) => ({
    prediction: predictions[i]!, label: r.label, rel_scores: r.relScores, ...(r.labelKind ? { labelKind: r.labelKind } : {}),
  }));
  const { scores, info } = scoreTaskWithInfo(preds, opts.gradedNdcg ? { graded: opts.gradedNdcg } : {});
  // The scorer only reports facts that apply (graded-nDCG handling on graded tasks), so ordinary
  // score files stay byte-for-byte in the reference's shape.
  const flags: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(info)) if (typeof v === 'string' || typeof v === 'number') flags[k] = v;
  const files = await writeTaskResults(opts.outDir, task, scores, preds, flags);
  return { scores, ...files, queries: q.stats, candidates: c.stats };
}
