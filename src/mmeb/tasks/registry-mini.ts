// The `mini` benchmark: small tasks in MMEB's own eval formats, built from the held-out split of
// the open data that scripts/open-data/fetch.ts writes (docs/open-data.md). Each task uses an
// existing parser unchanged, so `vlm2vec eval --benchmark mini --data DIR` scores it exactly as
// the MMEB-V2 task of the same kind is scored: image tasks are MMEB_Test_Instruct-style rows
// (local ranking, hit@1), the document task a BEIR repo read by the `vidore` parser (global
// ranking, ndcg_linear@5), the video task MSR-VTT-style rows (global ranking, hit@1).

import type { MetaTask, ParserKind, SideModality, TaskDef } from './types.ts';

/** Dataset repos of the mini benchmark, under `--data DIR` like hub repos. */
export const MINI_REPOS = {
  image: 'vlm2vec-open/mini-image',
  docpages: 'vlm2vec-open/mini-docpages',
  video: 'vlm2vec-open/mini-video',
} as const;

type ImageRow = [name: string, meta: MetaTask, parser: ParserKind, query: SideModality, candidate: SideModality, n: number, notes: string];

// Query counts are those of the data the fetch script writes with its defaults (fixed splits).
// Only sources whose licence lets the data ship in an Apache-2.0 package are used (no Tux Paint,
// no GPL manuals), so the package can bundle the benchmark.
const IMAGE_ROWS: readonly ImageRow[] = [
  ['Mini-FashionMNIST', 'CLS', 'image_cls', 'I', 'T', 1000, 'Fashion-MNIST test images (a fixed sample of 1000); candidates: the 10 class names.'],
  ['Mini-Emoji_t2i', 'RET', 'image_t2i', 'T', 'I', 188, 'Emoji name → Noto emoji image, among every held-out emoji.'],
  ['Mini-Emoji_i2t', 'RET', 'image_i2t', 'I', 'T', 188, 'Emoji image → its name, among every held-out name.'],
  ['Mini-OpenClipart_t2i', 'RET', 'image_t2i', 'T', 'I', 136, 'Drawing title and keywords → drawing, among every held-out drawing.'],
];

/** Task names of the mini benchmark, in order. */
export const MINI_TASK_NAMES: readonly string[] = [...IMAGE_ROWS.map((r) => r[0]), 'Mini-DocPages', 'Mini-Video_t2v'];

/** Fresh records of the mini tasks (the caller freezes them). */
export function miniTasks(): TaskDef[] {
  const image = IMAGE_ROWS.map(([name, meta, parser, query, candidate, numQueries, notes]): TaskDef => ({
    name, modality: 'image', meta, parser,
    source: { repo: MINI_REPOS.image, configs: [name], split: 'test' },
    evalType: 'local', metric: 'hit@1', query, candidate, numQueries, mediaRoot: 'image-tasks', notes,
  }));
  const docpages: TaskDef = {
    name: 'Mini-DocPages', modality: 'visdoc', meta: 'VDRv1', parser: 'vidore',
    source: { repo: MINI_REPOS.docpages, split: 'test' },
    evalType: 'global', metric: 'ndcg_linear@5', query: 'T', candidate: 'I', numQueries: 65,
    mediaRoot: 'visdoc-tasks/Mini-DocPages',
    params: {
      queryInstruction: 'Find a document image that matches the given query:',
      candidateInstruction: 'Understand the content of the provided document image.',
    },
    notes: 'A page heading of the LaTeX base or expl3 manuals → its page, among every held-out page (ViDoRe layout).',
  };
  const video: TaskDef = {
    name: 'Mini-Video_t2v', modality: 'video', meta: 'RET', parser: 'msrvtt',
    source: { repo: MINI_REPOS.video, configs: ['test'], split: 'test' },
    evalType: 'global', metric: 'hit@1', query: 'T', candidate: 'V', numQueries: 5,
    mediaRoot: 'video-tasks/frames/video_ret/Mini-Video_t2v',
    params: { instruction: 'Find a video that contains the following visual content:' },
    notes: 'A written caption → one of the five sample videos of python3-imageio and opencv-doc (MSR-VTT layout).',
  };
  return [...image, docpages, video];
}
