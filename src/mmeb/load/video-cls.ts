// Video classification parsers (docs/mmeb.md §3.3): `video_classification` (K700, HMDB51, UCF101,
// Breakfast: global ranking against the hard-coded label list) and `ssv2` (local ranking
// against the row's own option list). Label lists are copied from the reference
// `video_classification_utils.py` into ./labels/*.json.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Vlm2VecError } from '../../errors.ts';
import { processInputText } from '../../embed/prompt.ts';
import type { Candidate, QueryRow } from '../tasks/types.ts';
import { id, str, strList } from '../data/fields.ts';
import { media, sampledFramesOrExtract, taskRows, videoRootOf, type LoaderCtx } from './context.ts';

/** `DATASET_INSTRUCTION` of the reference, keyed by its dataset name. Breakfast's trailing space is real. */
export const VIDEO_CLS_INSTRUCTIONS: Readonly<Record<string, string>> = {
  'Kinetics-700': 'Recognize the category of the video content.',
  SmthSmthV2: 'What actions or object interactions are being performed by the person in the video?',
  UCF101: 'What activities or sports are being performed by the person in the video?',
  HMDB51: 'What actions or objects interactions are the person in the video doing?',
  Breakfast: 'Recognize the breakfast type that the person is cooking in the video. ',
};

/** Task (score-file) name → reference dataset name: only K700 differs. */
const DATASET_NAME: Readonly<Record<string, string>> = { K700: 'Kinetics-700', SmthSmthV2: 'SmthSmthV2' };

/** SSv2 is evaluated on the first 1000 rows (`num_sample_per_subset: 1000` in video.yaml). */
export const SSV2_NUM_SAMPLES = 1000;

function datasetName(task: string): string {
  return DATASET_NAME[task] ?? task;
}

/**
 * The label list of a video classification dataset, in the reference order (the order of the
 * global candidate pool after the queries' own labels).
 *
 * @example
 * videoClassLabels('Breakfast').length; // 10
 */
export function videoClassLabels(task: string): string[] {
  const name = datasetName(task);
  const url = new URL(`./labels/${name}.json`, import.meta.url);
  let parsed: { labels?: unknown };
  try {
    parsed = JSON.parse(readFileSync(url, 'utf8')) as { labels?: unknown };
  } catch (err) {
    throw new Vlm2VecError('mmeb', `task ${task}: no label list for dataset '${name}' (${url.pathname}): ${(err as Error).message}`, { cause: err });
  }
  if (!Array.isArray(parsed.labels) || !parsed.labels.every((l) => typeof l === 'string')) {
    throw new Vlm2VecError('mmeb', `task ${task}: ${url.pathname} must hold {"labels": string[]}`);
  }
  return parsed.labels as string[];
}

function instruction(ctx: LoaderCtx): string {
  const inst = VIDEO_CLS_INSTRUCTIONS[datasetName(ctx.task.name)];
  if (inst === undefined) throw new Vlm2VecError('mmeb', `task ${ctx.task.name}: no video classification instruction for it (known: ${Object.keys(VIDEO_CLS_INSTRUCTIONS).join(', ')})`);
  return inst;
}

/** Load a `video_classification` or `ssv2` task. */
export async function loadVideoClsTask(ctx: LoaderCtx): Promise<{ queries: QueryRow[]; corpus: Candidate[] }> {
  const name = ctx.task.name;
  const ssv2 = ctx.task.parser === 'ssv2';
  const maxRows = ctx.task.params?.['maxRows'];
  const limit = ssv2 ? Math.min(ctx.limit, typeof maxRows === 'number' ? maxRows : SSV2_NUM_SAMPLES) : ctx.limit;
  const rows = await taskRows(ctx, { limit });
  const text = processInputText(instruction(ctx), ctx.style, { addVideoToken: true });
  const queries: QueryRow[] = [];
  for (const r of rows) {
    const videoId = id(r, 'video_id', name);
    const label = str(r, 'pos_text', name);
    // Frames from the archives; else extracted from `video_root/<video_id>.mp4` like the reference.
    const video = await sampledFramesOrExtract(ctx, media(ctx, videoId), join(videoRootOf(ctx), `${videoId}.mp4`),
      `video '${videoId}' (${r.file} row ${r.index})`);
    const options = ssv2 ? strList(r, 'neg_text', name, { nonEmpty: true }) : [label];
    queries.push({
      item: { text, video },
      candidates: options.map((o) => ({ key: o, item: { text: o } })),
      label: [label],
      relScores: null,
    });
  }
  const corpus = ssv2 ? [] : videoClassLabels(name).map((l) => ({ key: l, item: { text: l } }));
  return { queries, corpus };
}
