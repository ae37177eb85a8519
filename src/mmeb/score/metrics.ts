// Ranking metrics exactly as the reference `RankingMetrics` (docs/mmeb.md §7):
// hit / ndcg_linear / ndcg_exponential / precision / recall /
// f1 / map / mrr at k ∈ {1, 5, 10}, per query, then numpy-style float64 means.
// Deliberate reproductions of reference behaviour (each can look like a bug):
// - labels are deduplicated with CPython `list(set(label))` order (pyorder.ts), and in graded
//   mode that order is zipped with `rel_scores` in their original order (the graded-nDCG quirk);
//   `graded: 'corrected'` grades each document by its own qrel instead;
// - precision divides by k even when fewer than k candidates exist;
// - recall is 1 when the label set is empty;
// - binary nDCG and MAP count a duplicated positive in the prediction each time it appears;
// - MAP is normalised by min(|L|, k).

import { Vlm2VecError, errorDetail } from '../../errors.ts';
import { METRIC_KEYS, type MetricKey, type PredLine, type ScoreDict } from '../tasks/types.ts';
import { dedupLabels, npMean, type LabelOrder, type StrHashAlgorithm } from './pyorder.ts';

export const K_LIST = [1, 5, 10] as const;

export interface ScoreOptions {
  /** `reference` (default): reproduce the set-order pairing of grades; `corrected`: grade by document. */
  graded?: 'reference' | 'corrected';
  /** str-id set order emulation (see pyorder.ts): CPython ≥ 3.11 `siphash13` (default) or 3.4–3.10 `siphash24`. */
  strHash?: StrHashAlgorithm;
}

/** Extra facts about how a task was scored, written beside the metrics by the caller. */
export interface ScoreInfo {
  /** Set when the pairing can matter — some query has at least two different grades — to say
   *  which pairing was used. Tasks whose grades are all equal (most visdoc tasks) score the same
   *  either way, and their score files keep exactly the reference's keys. */
  graded_ndcg?: 'reference' | 'corrected';
  /** Graded queries with ≥2 distinct grades and str ids (declared, or guessed when unknown): their grade pairing follows
   *  CPython's set order under PYTHONHASHSEED=0; the reference's own order depended on its random
   *  hash seed, so these queries cannot be reproduced exactly. */
  seed_dependent_graded_queries?: number;
}

/** Per-query metric values (all 24 keys). */
export type QueryMetrics = Record<MetricKey, number>;

function dcg(rels: readonly number[], exponential: boolean): number {
  // Python's sum() over a generator: left-to-right float64 additions starting at 0.
  let s = 0;
  for (let i = 0; i < rels.length; i++) {
    const r = rels[i] as number;
    s += (exponential ? 2 ** r - 1 : r) / Math.log2(i + 2);
  }
  return s;
}

function ndcgFrom(rel: number[], ideal: number[], exponential: boolean): number {
  const d = dcg(rel, exponential);
  const idcg = ideal.length > 0 ? dcg(ideal, exponential) : 1;
  return idcg > 0 ? d / idcg : 0;
}

/**
 * Metrics of one query. `labels` are deduplicated here (reference order, see file header).
 *
 * @example
 * queryMetrics({ prediction: ['a', 'a', 'b'], label: ['a'], rel_scores: null })['map@5']; // 2
 */
export function queryMetrics(line: PredLine, opts: ScoreOptions = {}): { metrics: QueryMetrics; order: LabelOrder } {
  // The set order only matters for the grade pairing; binary queries skip its emulation.
  const { labels, order } = line.rel_scores !== null && opts.graded !== 'corrected'
    ? dedupLabels(line.label, opts.strHash, line.labelKind)
    : { labels: [...new Set(line.label)], order: 'cpython-int' as LabelOrder };
  const L = new Set(labels);
  const pred = line.prediction;
  const out = {} as QueryMetrics;
  let gradeOf: Map<string, number> | null = null;
  if (line.rel_scores !== null) {
    gradeOf = new Map();
    if (opts.graded === 'corrected') {
      // Each document keeps its own grade (max over repeated qrels, like the BEIR loader).
      line.label.forEach((l, i) => {
        const g = line.rel_scores?.[i] ?? 0;
        gradeOf?.set(l, Math.max(gradeOf.get(l) ?? -Infinity, g));
      });
    } else {
      if (labels.length !== line.rel_scores.length) {
        throw new Vlm2VecError('metrics', `graded query has ${labels.length} distinct labels but ${line.rel_scores.length} rel_scores (the reference requires equal lengths)`);
      }
      labels.forEach((l, i) => gradeOf?.set(l, line.rel_scores?.[i] ?? 0));
    }
  }
  for (const k of K_LIST) {
    const pk = pred.slice(0, k);
    const pkSet = new Set(pk);
    let inter = 0;
    for (const p of pkSet) if (L.has(p)) inter++;
    const precision = L.size === 0 ? 0 : inter / k;
    const recall = L.size === 0 ? 1 : inter / L.size;
    out[`precision@${k}`] = precision;
    out[`recall@${k}`] = recall;
    out[`hit@${k}`] = L.size > 0 && inter > 0 ? 1 : 0;
    out[`f1@${k}`] = precision + recall === 0 ? 0 : (2 * (precision * recall)) / (precision + recall);
    let rel: number[];
    let ideal: number[];
    if (gradeOf === null) {
      rel = pk.map((p) => (L.has(p) ? 1 : 0));
      ideal = new Array<number>(Math.min(L.size, k)).fill(1);
    } else {
      const g = gradeOf;
      rel = pk.map((p) => g.get(p) ?? 0);
      ideal = [...g.values()].sort((a, b) => b - a).slice(0, k);
    }
    out[`ndcg_linear@${k}`] = ndcgFrom(rel, ideal, false);
    out[`ndcg_exponential@${k}`] = ndcgFrom(rel, ideal, true);
    let hits = 0;
    let ap = 0;
    let rr = 0;
    for (let i = 0; i < pk.length; i++) {
      if (!L.has(pk[i] as string)) continue;
      hits++;
      ap += hits / (i + 1);
      if (rr === 0) rr = 1 / (i + 1);
    }
    out[`map@${k}`] = hits === 0 || L.size === 0 ? 0 : ap / Math.min(L.size, k);
    out[`mrr@${k}`] = rr;
  }
  return { metrics: out, order };
}

/**
 * Score a task from its prediction lines: the 24 metrics (numpy float64 means over queries)
 * plus `num_pred` and `num_data`, keys in the reference order (§9).
 *
 * @example
 * const s = scoreTask([{ prediction: ['a', 'b'], label: ['a'], rel_scores: null }]);
 * s['hit@1']; // 1
 */
export function scoreTask(preds: readonly PredLine[], opts: ScoreOptions = {}): ScoreDict {
  return scoreTaskWithInfo(preds, opts).scores;
}

/** `scoreTask` plus how graded relevance was handled (for the result file's flags). */
export function scoreTaskWithInfo(preds: readonly PredLine[], opts: ScoreOptions = {}): { scores: ScoreDict; info: ScoreInfo } {
  const columns = new Map<MetricKey, Float64Array>(METRIC_KEYS.map((k) => [k, new Float64Array(preds.length)]));
  let graded = false;
  let unordered = 0;
  preds.forEach((line, qi) => {
    let r;
    try {
      r = queryMetrics(line, opts);
    } catch (err) {
      if (err instanceof Vlm2VecError) throw new Vlm2VecError('metrics', `query ${qi}: ${errorDetail(err, 'metrics')}`, { cause: err });
      throw err;
    }
    if (line.rel_scores !== null && new Set(line.rel_scores).size > 1) {
      graded = true;
      if (r.order === 'cpython-str-seed0') unordered++;
    }
    for (const key of METRIC_KEYS) (columns.get(key) as Float64Array)[qi] = r.metrics[key];
  });
  const scores = {} as ScoreDict;
  for (const key of METRIC_KEYS) scores[key] = npMean(columns.get(key) as Float64Array);
  scores.num_pred = preds.length;
  scores.num_data = preds.length;
  const info: ScoreInfo = {};
  if (graded) {
    info.graded_ndcg = opts.graded ?? 'reference';
    if (unordered > 0 && info.graded_ndcg === 'reference') info.seed_dependent_graded_queries = unordered;
  }
  return { scores, info };
}
