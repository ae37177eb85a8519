// The legacy V1 MMEB harness as a library (docs/mmeb.md §11; reference `v1:eval.py`): for each subset of
// `TIGER-Lab/MMEB-eval`, load the rows, prepare the images (resolution rule), embed the unique
// query pairs and the unique target pairs once each through the embedding cache, score every row
// by argmax over its own candidates, and write `<subset>_pred.txt` then `<subset>_score.json`
// (atomically; the score file marks the subset finished). Resumable like `vlm2vec eval`: finished
// subsets are skipped and every embedded batch is on disk, so a rerun after kill -9 asks the
// embedder only for what was in flight.

import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { EmbedItem, Embedder } from '../../embed/types.ts';
import { EmbeddingCache } from '../../embed/cache.ts';
import { FileHasher } from '../../embed/hash.ts';
import { embedThroughCache, MediaError } from '../../embed/cache-embed.ts';
import { replaceImage1 } from '../../embed/prompt.ts';
import { ensureOutputDir, isDirSync, writeFileAtomic } from '../../util/fs.ts';
import { Vlm2VecError } from '../../errors.ts';
import { EmbedFailure } from '../run/eval-task.ts';
import { BENCHMARKS } from '../tasks/registry.ts';
import { loadV1Subset, type V1Pair, type V1Subset } from './load.ts';
import { prepareV1Images } from './images.ts';
import { argmaxFirst, formatV1PredFile, formatV1ScoreFile, v1Scores, type V1Score } from './score.ts';

/** Backbones of the reference's `vlm_image_tokens` (v1 branch): the only ones it can format. */
export const V1_STYLES = ['qwen2_vl', 'qwen2_5_vl', 'llava_next', 'phi3_v'] as const;
export type V1Style = (typeof V1_STYLES)[number];

/** The 36 MMEB datasets, in the registry's order (MMEB-eval also has CIFAR-100, used by nobody). */
export const V1_SUBSETS: readonly string[] = BENCHMARKS['mmeb-v1'].tasks.map((t) => t.name);

/** The settings file of an output folder (a rerun with other settings is refused). */
export const V1_SETTINGS_FILE = 'eval-v1-settings.json';

/** Options of {@link runEvalV1}. */
export interface EvalV1Options {
  embedder: Embedder;
  /** `DATA` holding `TIGER-Lab/MMEB-eval/`, or that repo folder itself. */
  dataDir: string;
  /** Where MMEB-eval's images.zip was unzipped (`--image_dir` of the reference). */
  imageDir: string;
  outDir: string;
  /** Subset (config) names; default the 36 of {@link V1_SUBSETS}. */
  subsets?: readonly string[] | undefined;
  /** Backbone whose image token replaces `<|image_1|>`; default qwen2_vl. */
  style?: V1Style | undefined;
  /** `high` | `mid` | `low` | any other string (cap at 1344) | undefined (original images). */
  imageResolution?: string | undefined;
  /** Cosine scores (the reference's --normalize); default false = dot product, as the reference. */
  normalize?: boolean | undefined;
  /** Embedding cache folder; default `OUT/.embed-cache`; `null` disables it. */
  cacheDir?: string | null | undefined;
  batchSize?: number | undefined;
  concurrency?: number | undefined;
  onProgress?: ((e: EvalV1Event) => void) | undefined;
}

export type EvalV1Event =
  | { type: 'start'; subsets: string[] }
  | { type: 'subset-skip'; subset: string; index: number; count: number; scoreFile: string }
  | { type: 'subset-start'; subset: string; index: number; count: number }
  | { type: 'loaded'; subset: string; rows: number; queries: number; targets: number }
  | { type: 'images'; subset: string; done: number; total: number }
  | { type: 'approximate'; subset: string; files: string[] }
  | { type: 'embed'; subset: string; role: 'query' | 'candidate'; done: number; total: number }
  | { type: 'subset-done'; subset: string; score: V1Score; seconds: number; embedded: number; cached: number }
  | { type: 'subset-failed'; subset: string; error: string };

export interface V1SubsetResult {
  subset: string;
  status: 'done' | 'skipped' | 'failed';
  score?: V1Score;
  error?: string;
}

/** Paths of a subset's result files. */
export function v1ResultFiles(outDir: string, subset: string): { scoreFile: string; predFile: string } {
  return { scoreFile: join(outDir, `${subset}_score.json`), predFile: join(outDir, `${subset}_pred.txt`) };
}

/** The finished score of a subset, or undefined (absent or unreadable: the subset runs again). */
export function readV1Score(outDir: string, subset: string): V1Score | undefined {
  const f = v1ResultFiles(outDir, subset).scoreFile;
  if (!existsSync(f)) return undefined;
  try {
    const j = JSON.parse(readFileSync(f, 'utf8')) as Partial<V1Score>;
    return typeof j.acc === 'number' && typeof j.num_correct === 'number' && typeof j.num_pred === 'number'
      ? { acc: j.acc, num_correct: j.num_correct, num_pred: j.num_pred } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Run the legacy V1 harness over `subsets` and write the reference's result files into `outDir`.
 * A subset whose data or images are missing or malformed fails alone; an embedder failure stops
 * the run (every later subset would fail the same way).
 *
 * @example
 * const r = await runEvalV1({ embedder, dataDir: '/data', imageDir: '/data/eval_images', outDir: 'runs/v1',
 *   subsets: ['ImageNet-1K'], imageResolution: 'high', normalize: true });
 * r[0].score?.acc; // e.g. 0.745
 */
export async function runEvalV1(opts: EvalV1Options): Promise<V1SubsetResult[]> {
  const style = opts.style ?? 'qwen2_vl';
  if (!(V1_STYLES as readonly string[]).includes(style)) {
    throw new Vlm2VecError('mmeb-v1', `style '${style}' has no image token in the V1 harness: expected one of ${V1_STYLES.join(', ')}`);
  }
  checkV1Folders(opts);
  const subsets = opts.subsets && opts.subsets.length > 0 ? [...opts.subsets] : [...V1_SUBSETS];
  await checkV1Settings(opts.outDir, {
    model: opts.embedder.id, style, imageResolution: opts.imageResolution ?? null, normalize: opts.normalize ?? false,
  });
  const emit = opts.onProgress ?? (() => {});
  emit({ type: 'start', subsets });
  const cache = opts.cacheDir === null ? undefined : await EmbeddingCache.open(opts.cacheDir ?? join(opts.outDir, '.embed-cache'));
  const hasher = new FileHasher();
  const results: V1SubsetResult[] = [];
  try {
    for (const [index, subset] of subsets.entries()) {
      const done = readV1Score(opts.outDir, subset);
      if (done) {
        emit({ type: 'subset-skip', subset, index, count: subsets.length, scoreFile: v1ResultFiles(opts.outDir, subset).scoreFile });
        results.push({ subset, status: 'skipped', score: done });
        continue;
      }
      emit({ type: 'subset-start', subset, index, count: subsets.length });
      const t0 = performance.now();
      try {
        const r = await evalSubset(subset, { ...opts, style, cache, hasher, emit });
        emit({ type: 'subset-done', subset, score: r.score, seconds: (performance.now() - t0) / 1000, embedded: r.embedded, cached: r.cached });
        results.push({ subset, status: 'done', score: r.score });
      } catch (err) {
        if (err instanceof EmbedFailure || !(err instanceof Vlm2VecError)) throw err;
        emit({ type: 'subset-failed', subset, error: err.message });
        results.push({ subset, status: 'failed', error: err.message });
      }
    }
  } finally {
    cache?.close();
  }
  return results;
}

/**
 * Check the folders of a run before any embedder is built or contacted: --data and --image-dir
 * must be folders; OUT is created (it must not be a file).
 *
 * @example
 * checkV1Folders({ dataDir: '/data', imageDir: '/data/eval_images', outDir: 'runs/v1' });
 */
export function checkV1Folders(opts: Pick<EvalV1Options, 'dataDir' | 'imageDir' | 'outDir'>): void {
  for (const [what, dir] of [['data folder (--data)', opts.dataDir], ['image folder (--image-dir)', opts.imageDir]] as const) {
    if (!isDirSync(dir)) {
      throw new Vlm2VecError('mmeb-v1', `${what} ${dir} ${existsSync(dir) ? 'is not a folder' : 'does not exist'}`);
    }
  }
  if (existsSync(opts.outDir) && !isDirSync(opts.outDir)) {
    throw new Vlm2VecError('mmeb-v1', `output folder ${opts.outDir} is a file: expected a folder for the result files (created if missing)`);
  }
  ensureOutputDir(opts.outDir, { what: 'output folder', area: 'mmeb-v1' });
}

interface SubsetCtx extends EvalV1Options {
  style: V1Style;
  cache: EmbeddingCache | undefined;
  hasher: FileHasher;
  emit: (e: EvalV1Event) => void;
}

async function evalSubset(subset: string, ctx: SubsetCtx): Promise<{ score: V1Score; embedded: number; cached: number }> {
  const data: V1Subset = await loadV1Subset(ctx.dataDir, subset);
  ctx.emit({ type: 'loaded', subset, rows: data.rows.length, queries: data.queries.length, targets: data.targets.length });

  // Python's os.path.join(image_dir, p): an absolute p wins, as with path.resolve.
  const imageOf = (p: V1Pair): string => resolve(ctx.imageDir, p.imgPath);
  const withImage = [...data.queries, ...data.targets].filter((p) => p.imgPath !== '');
  // phi3_v gets the original images (the reference skips process_image for it).
  const prepared = await prepareV1Images(withImage.map((p) => ({ path: imageOf(p), origin: p.origin })), {
    resolution: ctx.style === 'phi3_v' ? undefined : ctx.imageResolution,
    workDir: join(ctx.outDir, '.v1-images'),
    onProgress: (done, total) => ctx.emit({ type: 'images', subset, done, total }),
  });
  if (prepared.approximate.length > 0) ctx.emit({ type: 'approximate', subset, files: prepared.approximate });

  const toItem = (p: V1Pair): EmbedItem => ({
    // phi3_v keeps the stored token (its own); the others get theirs.
    text: ctx.style === 'phi3_v' ? p.text : replaceImage1(p.text, ctx.style),
    ...(p.imgPath !== '' ? { images: [prepared.files.get(imageOf(p))!] } : {}),
  });
  const embed = async (role: 'query' | 'candidate', pairs: readonly V1Pair[]) => {
    try {
      return await embedThroughCache(pairs.map(toItem), {
        embedder: ctx.embedder, cache: ctx.cache, hasher: ctx.hasher,
        batchSize: ctx.batchSize ?? 16, concurrency: ctx.concurrency ?? 4,
        ctx: { task: subset, role },
        onProgress: (done, total) => ctx.emit({ type: 'embed', subset, role, done, total }),
      });
    } catch (err) {
      if (err instanceof MediaError) throw err;
      throw new EmbedFailure(subset, err);
    }
  };
  const q = await embed('query', data.queries);
  const t = await embed('candidate', data.targets);
  if (q.stats.dim !== t.stats.dim) {
    throw new EmbedFailure(subset, new Error(`query vectors have ${q.stats.dim} dimensions but candidate vectors ${t.stats.dim}`));
  }

  let correct = 0;
  const preds = data.rows.map((row) => {
    const pred = argmaxFirst(v1Scores(q.vectors[row.query]!, row.targets.map((j) => t.vectors[j]!), ctx.normalize ?? false));
    if (pred === 0) correct++;
    return data.targets[row.targets[pred]!]!;
  });
  const score: V1Score = { acc: correct / data.rows.length, num_correct: correct, num_pred: data.rows.length };
  const files = v1ResultFiles(ctx.outDir, subset);
  await writeFileAtomic(files.predFile, formatV1PredFile(preds));
  await writeFileAtomic(files.scoreFile, formatV1ScoreFile(score));
  return { score, embedded: q.stats.embedded + t.stats.embedded, cached: q.stats.cached + t.stats.cached };
}

interface V1Settings {
  model: string;
  style: string;
  imageResolution: string | null;
  normalize: boolean;
}

/** Record the settings on the first run; refuse a later run into the same folder with others
 *  (its finished subsets would be skipped and two kinds of results mixed). */
async function checkV1Settings(outDir: string, s: V1Settings): Promise<void> {
  const file = join(outDir, V1_SETTINGS_FILE);
  if (!existsSync(file)) {
    await writeFileAtomic(file, `${JSON.stringify(s, null, 2)}\n`);
    return;
  }
  let saved: Partial<V1Settings>;
  try {
    saved = JSON.parse(readFileSync(file, 'utf8')) as Partial<V1Settings>;
  } catch (err) {
    throw new Vlm2VecError('mmeb-v1', `${file} is not valid JSON (${(err as Error).message}); delete it to adopt this run's settings`, { cause: err });
  }
  const diffs = (Object.keys(s) as (keyof V1Settings)[])
    .filter((k) => saved[k] !== undefined && saved[k] !== s[k])
    .map((k) => `${k}: ${JSON.stringify(saved[k])} there, ${JSON.stringify(s[k])} now`);
  if (diffs.length > 0) {
    throw new Vlm2VecError('mmeb-v1', `${outDir} holds results computed with other settings (${diffs.join('; ')}); use another --out`);
  }
}
