// Shared types of the MMEB harness: task metadata (typed data, see registry.ts), what a loader
// produces for one task, and the per-task score record written to `<Task>_score.json`.
// Spec: docs/mmeb.md (section numbers below refer to it).

import type { FileEmbedItem } from '../../embed/types.ts';

export type Modality = 'image' | 'video' | 'visdoc';

/** Meta-task within a modality (§1.2). Image: CLS/QA/RET/VG; video: CLS/QA/RET/MRET; visdoc groups. */
export type MetaTask = 'CLS' | 'QA' | 'RET' | 'VG' | 'MRET' | 'VDRv1' | 'VDRv2' | 'VR' | 'OOD';

/** Parser kinds of the V2 harness (§3). */
export type ParserKind =
  | 'image_cls' | 'image_qa' | 'image_i2t' | 'image_t2i' | 'image_i2i_vg'
  | 'video_classification' | 'ssv2'
  | 'msrvtt' | 'msvd' | 'didemo' | 'youcook2' | 'vatex'
  | 'moment_retrieval' | 'momentseeker'
  | 'videomme' | 'nextqa' | 'egoschema' | 'mvbench' | 'activitynetqa'
  | 'vidore' | 'visrag';

/** `local` ranks each query's own candidate list; `global` ranks the task's whole pool (§6.1). */
export type EvalType = 'local' | 'global';

/** Headline metric per modality (§7). */
export type HeadlineMetric = 'hit@1' | 'ndcg_linear@5';

/** Where a task's annotations live on the hub (and so under `--data DIR/<org>/<repo>/`). */
export interface DatasetSource {
  /** e.g. `ziyjiang/MMEB_Test_Instruct`. */
  repo: string;
  /** Dataset config names (several are concatenated in order, e.g. MVBench's 20). */
  configs?: string[];
  split: string;
}

/** Media (modality letters of §2 tables): T text, I image, V video. */
export type SideModality = 'T' | 'I' | 'I+T' | 'V' | 'V+T' | 'T|I+T|V+T';

/** One benchmark task as typed data. */
export interface TaskDef {
  /** Name exactly as in score files, e.g. `MSCOCO_t2i`, `ViDoRe_arxivqa`. */
  name: string;
  modality: Modality;
  meta: MetaTask;
  parser: ParserKind;
  source: DatasetSource;
  evalType: EvalType;
  metric: HeadlineMetric;
  query: SideModality;
  candidate: SideModality;
  /** Query count of the published runs (`num_data`). */
  numQueries: number;
  /** Split in the V1 view (image tasks only). */
  v1?: 'IND' | 'OOD';
  /** Media root relative to the data dir (image-tasks/, video-tasks/frames/..., visdoc-tasks/...). */
  mediaRoot: string;
  /** Task-specific instruction strings and options used by the parser. */
  params?: Record<string, string | number | boolean>;
  /** Version notes (MomentSeeker 1602 vs 1800, page-fixed data, vidore instructions). */
  notes?: string;
}

/** A candidate: its key (the ranking identity) and the input to embed for it. */
export interface Candidate {
  key: string;
  item: FileEmbedItem;
}

/** One evaluation query after parsing (§3). */
export interface QueryRow {
  item: FileEmbedItem;
  /** Local tasks: the row's candidate list in order (duplicates kept). Global tasks: the row's
   *  candidates that feed the pool (§6.1), may be empty when a corpus supplies them. */
  candidates: Candidate[];
  /** Positive keys in their original order (deduplication happens in the metrics, §7). */
  label: string[];
  /** Graded relevance aligned with `label` (visdoc only), else null. */
  relScores: number[] | null;
  /** The Python type the reference's ids had: `int` when the dataset column holding them is an
   *  integer column (ViDoRe's int64 `corpus-id`), `str` for a string column. It decides the
   *  CPython `set()` order of the graded-nDCG pairing (ints and strs hash differently, so an
   *  all-digit *string* id "12" is not ordered like the int 12) and whether `_pred.jsonl` writes
   *  the ids (labels and predictions) as JSON numbers. Absent: unknown, and the metrics guess
   *  from the text (canonical decimal → int). Keys stay strings in memory either way. */
  labelKind?: LabelKind;
}

/** Python type of a task's ids (see {@link QueryRow.labelKind}). */
export type LabelKind = 'int' | 'str';

/** What a loader returns for one task. */
export interface LoadedTask {
  task: TaskDef;
  queries: QueryRow[];
  /** Extra candidates appended to the pool after the queries' own (visdoc corpus, label lists). */
  corpus: Candidate[];
}

/** The 24 metric keys in the reference order (§9). */
export const METRIC_KEYS = [
  'hit@1', 'hit@5', 'hit@10',
  'ndcg_linear@1', 'ndcg_linear@5', 'ndcg_linear@10',
  'ndcg_exponential@1', 'ndcg_exponential@5', 'ndcg_exponential@10',
  'precision@1', 'precision@5', 'precision@10',
  'recall@1', 'recall@5', 'recall@10',
  'f1@1', 'f1@5', 'f1@10',
  'map@1', 'map@5', 'map@10',
  'mrr@1', 'mrr@5', 'mrr@10',
] as const;
export type MetricKey = (typeof METRIC_KEYS)[number];

/** Contents of `<Task>_score.json`: the 24 metrics plus counts. */
export type ScoreDict = Record<MetricKey, number> & { num_pred: number; num_data: number };

/** One line of `<Task>_pred.jsonl`. */
export interface PredLine {
  prediction: string[];
  label: string[];
  rel_scores: number[] | null;
  /** Not a field of the file: the Python type of the ids (from {@link QueryRow.labelKind}).
   *  `int` writes `prediction` and `label` as JSON numbers, as the reference's json.dumps of
   *  Python ints does, and selects the int set order for graded nDCG. */
  labelKind?: LabelKind;
}
