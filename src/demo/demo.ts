// `vlm2vec demo` as a library: the main jobs of the toolkit, offline, on what ships in the package:
// the bundled model (assets/model) indexes the bundled gallery (assets/demo/gallery) into a LanceDB
// folder index, a few searches run over it (text → image, image → image, text → document page),
// and the bundled mini benchmark (assets/mini) is scored by the MMEB harness. Every step is the
// function behind its own command (indexFolder, searchIndex, runEval): the demo only chooses
// inputs. Reruns reuse the index (unchanged files are skipped) and the benchmark's scores.

import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { bundledModelPixels, requireBundledAsset, requireBundledModel } from '../embed/bundled.ts';
import { LocalEmbedder, type LoadEvent } from '../embed/local.ts';
import { Vlm2VecError } from '../errors.ts';
import { defaultCacheDir } from '../io/hub.ts';
import { runEval, type EvalEvent, type EvalResult } from '../mmeb/run/eval.ts';
import { indexFolder, type IndexFolderResult } from '../search/folder-index.ts';
import type { ItemKind } from '../search/instructions.ts';
import { searchIndex, type SearchHit } from '../search/search.ts';

/** One search the demo runs. `image` is relative to the gallery. */
export interface DemoQuery {
  label: string;
  text?: string;
  image?: string;
  kinds: ItemKind[];
}

/** The searches of the demo: each direction once, with queries whose answer is plain to see. */
export const DEMO_QUERIES: readonly DemoQuery[] = [
  { label: 'text → image', text: 'a sneaker', kinds: ['image'] },
  { label: 'text → image', text: 'a pumpkin pie', kinds: ['image'] },
  { label: 'image → image', image: 'fashion/t-shirt-top-1.png', kinds: ['image'] },
  { label: 'text → document page', text: 'Choosing running shoes', kinds: ['page'] },
];

export interface DemoOptions {
  /** The LanceDB index folder (default: `<cache>/demo/<model fingerprint>/index`). */
  db?: string | undefined;
  /** The mini benchmark's data (default: the bundled assets/mini). */
  miniData?: string | undefined;
  /** Skip the benchmark (the index and searches only). */
  bench?: boolean | undefined;
  /** Hits shown per search (default 3). */
  topK?: number | undefined;
  threads?: number | undefined;
  onLoad?: ((e: LoadEvent) => void) | undefined;
  /** Files embedded of files to embed. */
  onIndexProgress?: ((done: number, total: number) => void) | undefined;
  onEvalProgress?: ((e: EvalEvent) => void) | undefined;
}

export interface DemoSearch extends DemoQuery {
  hits: SearchHit[];
}

/** Chance of a task: the expected score of a random ranking of its candidate pool. */
export interface DemoTaskScore {
  task: string;
  metric: string;
  /** ×100, as the summary prints scores. */
  score: number;
  chance: number;
}

export interface DemoResult {
  model: string;
  modelId: string;
  gallery: string;
  db: string;
  /** What the model was loaded with (also what `serve --db` reloads from the index). */
  pixels: { minPixels?: number; maxPixels?: number };
  index: IndexFolderResult;
  searches: DemoSearch[];
  /** Undefined with `bench: false`. */
  bench?: { dataDir: string; outDir: string; tasks: DemoTaskScore[]; all: number; allChance: number; eval: EvalResult } | undefined;
  seconds: number;
}

/**
 * The score a random ranking gets on average, ×100, for a query with one relevant item among
 * `pool` candidates: hit@1 is 1/pool; ndcg_linear@5 sums 1/log2(r+1) over the ranks r ≤ 5 the
 * item may take, each with probability 1/pool. The mini tasks rank each query against the whole
 * pool with one positive, which is what this assumes.
 *
 * @example chanceScore('hit@1', 10); // 10
 */
export function chanceScore(metric: string, pool: number): number {
  if (pool <= 0) return Number.NaN;
  if (metric === 'hit@1') return 100 / pool;
  const m = /^ndcg(?:_linear)?@(\d+)$/.exec(metric);
  if (m) {
    let s = 0;
    for (let r = 1; r <= Math.min(Number(m[1]), pool); r++) s += 1 / Math.log2(r + 1);
    return (100 * s) / pool;
  }
  return Number.NaN;
}

/**
 * Runs the demo (see the file comment). The model is loaded once and closed at the end.
 *
 * @example
 * const r = await runDemo({ db: '/tmp/demo.lance' });
 * r.searches[0].hits[0].path; // 'fashion/sneaker-2.png'
 */
export async function runDemo(opts: DemoOptions = {}): Promise<DemoResult> {
  const t0 = performance.now();
  const model = requireBundledModel();
  const gallery = requireBundledAsset('demo/gallery', 'the demo gallery');
  const miniData = opts.bench === false ? undefined : (opts.miniData ?? requireBundledAsset('mini', 'the mini benchmark data'));
  const pixels = bundledModelPixels();
  const embedder = await LocalEmbedder.load(model, { ...pixels, threads: opts.threads, onLoad: opts.onLoad });
  try {
    // One folder per model identity: a retrained bundled model gets a fresh index and fresh scores.
    const db = resolve(opts.db ?? join(defaultCacheDir(), 'demo', createHash('sha256').update(embedder.id).digest('hex').slice(0, 12), 'index'));
    const index = await indexFolder({
      input: gallery, db, embedder, modelSpec: model, modelOptions: { ...pixels },
      // The model learnt document pages from 72 dpi renders (docs/open-data.md).
      pdfDpi: 72,
      onProgress: opts.onIndexProgress,
    });
    if (index.failedFiles > 0) throw new Vlm2VecError('demo', `${index.failedFiles} file(s) of ${gallery} could not be indexed`);
    const searches: DemoSearch[] = [];
    const topK = opts.topK ?? 3;
    for (const q of DEMO_QUERIES) {
      // An image query finds itself first; the demo shows the other hits.
      const hits = await searchIndex({
        db, embedder, kinds: q.kinds, topK: q.image ? topK + 1 : topK,
        ...(q.text !== undefined ? { text: q.text } : { image: join(gallery, q.image!) }),
      });
      searches.push({ ...q, hits: hits.filter((h) => h.path !== q.image).slice(0, topK) });
    }
    let bench: DemoResult['bench'];
    if (miniData !== undefined) {
      const pools = new Map<string, number>();
      // Scored afresh on every run (a finished task would be skipped, unloaded, and its pool
      // unknown); the embeddings come from the cache on a rerun, so only ranking is redone.
      const outDir = join(db, 'mini-scores');
      await rm(outDir, { recursive: true, force: true });
      const ev = await runEval({
        embedder, benchmark: 'mini', dataDir: miniData, outDir, cacheDir: join(db, 'mini-embed-cache'), concurrency: 1,
        onProgress: (e) => {
          if (e.type === 'loaded') pools.set(e.task, e.candidates);
          opts.onEvalProgress?.(e);
        },
      });
      const tasks: DemoTaskScore[] = ev.tasks.filter((t) => t.scores !== undefined).map((t) => {
        const metric = t.task.metric;
        return { task: t.task.name, metric, score: 100 * t.scores![metric]!, chance: chanceScore(metric, pools.get(t.task.name) ?? Number.NaN) };
      });
      const failed = ev.tasks.filter((t) => t.status === 'failed');
      if (failed.length > 0) throw new Vlm2VecError('demo', `mini task(s) failed: ${failed.map((t) => `${t.task.name}: ${t.error}`).join('; ')}`);
      const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
      bench = { dataDir: miniData, outDir, tasks, all: ev.summary.scores['all'] ?? mean(tasks.map((t) => t.score)), allChance: mean(tasks.map((t) => t.chance)), eval: ev };
    }
    return { model, modelId: embedder.id, gallery, db, pixels, index, searches, bench, seconds: (performance.now() - t0) / 1000 };
  } finally {
    await embedder.close();
  }
}
