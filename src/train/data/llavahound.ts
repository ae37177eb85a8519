// The LLaVA-Hound video parsers of the reference's V2 mix (TIGER-AI-Lab/VLM2Vec
// src/data/dataset/llavahound_dataset_caption.py, llavahound_dataset_qa.py): JSON lines from
// ShareGPTVideo/train_video_and_instruction (`{id, video, conversations: [{value}, {value}]}`)
// with the frames of each video in `video_frame_basedir/<video>/`, `num_frames` of them taken by
// `process_video_frames` (natural order, linspace sampling; all frames when there are fewer).
// - `llavahound_caption`, data_mode `caption_retrieval` (default): query = the human turn with
//   `<video>` → the video token, on the video; positive = the caption (gpt turn).
// - `llavahound_caption`, data_mode `video_retrieval`: query = VRET_QRY_PROMPT + caption (text);
//   positive = VRET_TGT_PROMPT + video token, on the video.
// - `llavahound_qa`: query = QA_QUERY_PROMPT + the human turn with the video token, on the
//   video; positive = the answer.
// As there: a row whose frame folder is missing or holds no frames is skipped (counted), and the
// map in batches of 128 input rows with `drop_last_batch=True` drops the rows after the last full
// 128 before that.

import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Vlm2VecError } from '../../errors.ts';
import { videoToken } from '../../embed/prompt.ts';
import { listFrames, sampleFrameIndices } from '../../io/media/frames.ts';
import { readRows, type RowRef } from '../../mmeb/data/read.ts';
import type { DataSourceConfig } from './config.ts';
import { sampleCap, type ParseOptions, type ParsedSource, type TrainExample } from './types.ts';

export const VRET_QRY_PROMPT = 'Find a video that contains the following visual content: ';
export const VRET_TGT_PROMPT = 'Understand the content of the provided video: ';
export const QA_QUERY_PROMPT = 'Answer a question based on the content of a video. ';
const MAP_BATCH = 128;

/** `process_video_frames(dir, num_frames)`; [] for a missing folder, as the reference's `load_frames`. */
async function videoFrames(dir: string, numFrames: number): Promise<string[]> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return [];
  const files = await listFrames(dir);
  return sampleFrameIndices(files.length, numFrames).map((i) => files[i]!);
}

function turns(r: RowRef, where: string): [string, string] {
  const c = r.data['conversations'];
  const value = (k: number): string => {
    const t = Array.isArray(c) ? c[k] : undefined;
    const v = t !== null && typeof t === 'object' ? (t as Record<string, unknown>)['value'] : undefined;
    if (typeof v !== 'string') {
      throw new Vlm2VecError('train-data', `${where}: ${r.file} row ${r.index}: 'conversations' should be a list of at least 2 turns with a string 'value', turn ${k} is ${JSON.stringify(t)}`);
    }
    return v;
  };
  return [value(0), value(1)];
}

type Mode = 'caption_retrieval' | 'video_retrieval' | 'qa';

async function parseLlavahound(src: DataSourceConfig, opts: ParseOptions, parser: string, mode: Mode): Promise<ParsedSource> {
  const globalName = `${parser}/${src.dataset_name ?? parser}`;
  const where = `source '${src.name}' (${globalName}) of ${src.file}`;
  for (const key of ['dataset_path', 'num_frames', 'video_frame_basedir'] as const) {
    if (src[key] === undefined) throw new Vlm2VecError('train-data', `${where}: key '${key}' is required for the ${parser} parser`);
  }
  const numFrames = src.num_frames!;
  const frameBase = src.video_frame_basedir!;
  const token = videoToken(opts.style);
  const cap = sampleCap(src.num_sample_per_subset, opts);
  const rows = await readRows([src.dataset_path!], cap === undefined ? {} : { limit: cap });
  const mapped = rows.length - (rows.length % MAP_BATCH);
  const examples: TrainExample[] = [];
  let skipped = rows.length - mapped;
  for (const r of rows.slice(0, mapped)) {
    const video = r.data['video'];
    if (typeof video !== 'string') {
      throw new Vlm2VecError('train-data', `${where}: ${r.file} row ${r.index}: 'video' should be a string (the frame folder under ${frameBase}), found ${JSON.stringify(video)}`);
    }
    const [human, gpt] = turns(r, where);
    const frames = await videoFrames(join(frameBase, video), numFrames);
    if (frames.length === 0) {
      skipped++;
      continue;
    }
    const withVideo = (text: string): TrainExample['query'] => ({ text, images: [], video: frames });
    const base = { negs: [], source: globalName, file: r.file, row: r.index };
    if (mode === 'caption_retrieval') {
      examples.push({ query: withVideo(human.split('<video>').join(token)), pos: { text: gpt, images: [] }, ...base });
    } else if (mode === 'video_retrieval') {
      examples.push({ query: { text: VRET_QRY_PROMPT + gpt, images: [] }, pos: withVideo(VRET_TGT_PROMPT + token), ...base });
    } else {
      examples.push({ query: withVideo(QA_QUERY_PROMPT + human.split('<video>').join(token)), pos: { text: gpt, images: [] }, ...base });
    }
  }
  return { name: src.name, globalName, examples, numRows: rows.length, skipped };
}

/** The `llavahound_caption` parser (data_mode caption_retrieval or video_retrieval). */
export async function parseLlavahoundCaption(src: DataSourceConfig, opts: ParseOptions): Promise<ParsedSource> {
  const mode = src.data_mode ?? 'caption_retrieval';
  if (mode !== 'caption_retrieval' && mode !== 'video_retrieval') {
    throw new Vlm2VecError('train-data', `source '${src.name}' of ${src.file}: data_mode '${mode}' is not one of caption_retrieval, video_retrieval`);
  }
  return parseLlavahound(src, opts, 'llavahound_caption', mode);
}

/** The `llavahound_qa` parser. */
export async function parseLlavahoundQa(src: DataSourceConfig, opts: ParseOptions): Promise<ParsedSource> {
  return parseLlavahound(src, opts, 'llavahound_qa', 'qa');
}
