// Text→video retrieval parsers (docs/mmeb.md §3.3): msrvtt, msvd, didemo, youcook2, vatex. The query is
// `instruction + " " + caption`; the candidate is the video (8 frames) with a fixed text, keyed
// by the video name; ranking is global over all the task's videos.

import { existsSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { Vlm2VecError } from '../../errors.ts';
import { processInputText } from '../../embed/prompt.ts';
import type { Candidate, ParserKind, QueryRow } from '../tasks/types.ts';
import { id, str, strList } from '../data/fields.ts';
import type { RowRef } from '../data/read.ts';
import { media, sampledFramesOrExtract, taskRows, videoRootOf, type LoaderCtx } from './context.ts';

/** Query instructions of the five retrieval parsers. */
export const VIDEO_RET_INSTRUCTIONS: Readonly<Partial<Record<ParserKind, string>>> = {
  msrvtt: 'Find a video that contains the following visual content:',
  msvd: 'Find the video snippet that corresponds to the given summary:',
  didemo: 'Find a video that includes the following described scenes:',
  youcook2: 'Find a video that demonstrates the following action while making a recipe:',
  vatex: 'Select a video that fits the description provided:',
};

export const VIDEO_TGT_INSTRUCTION = 'Understand the content of the provided video.';

/** (video name, caption, raw video file name) of one row, per parser (§12.1 columns). */
function rowFields(ctx: LoaderCtx, r: RowRef): { name: string; caption: string; videoFile: string } {
  const t = ctx.task.name;
  switch (ctx.task.parser) {
    case 'msrvtt':
      return { name: id(r, 'video_id', t), caption: str(r, 'caption', t), videoFile: str(r, 'video', t) };
    case 'msvd':
      return { name: id(r, 'video_id', t), caption: strList(r, 'caption', t, { nonEmpty: true })[0]!, videoFile: str(r, 'video', t) };
    case 'didemo': {
      const v = str(r, 'video', t);
      return { name: basename(v, extname(v)), caption: str(r, 'caption', t), videoFile: basename(v) };
    }
    case 'youcook2':
      return { name: id(r, 'id', t), caption: str(r, 'sentence', t), videoFile: basename(str(r, 'video_path', t)) };
    case 'vatex': {
      const v = id(r, 'videoID', t);
      return { name: v, caption: strList(r, 'enCap', t, { nonEmpty: true })[0]!, videoFile: `${v}.mp4` };
    }
    default:
      throw new Vlm2VecError('mmeb', `task ${t}: parser '${ctx.task.parser}' is not a video retrieval parser`);
  }
}

/** Load a video retrieval task. */
export async function loadVideoRetTask(ctx: LoaderCtx): Promise<{ queries: QueryRow[]; corpus: Candidate[] }> {
  const inst = VIDEO_RET_INSTRUCTIONS[ctx.task.parser];
  if (inst === undefined) throw new Vlm2VecError('mmeb', `task ${ctx.task.name}: parser '${ctx.task.parser}' is not a video retrieval parser`);
  // MSVD and YouCook2 skip rows whose frames and video are both absent (the released frames
  // cover 670 / 3179 queries); the other three require every video.
  const skipMissing = ctx.task.parser === 'msvd' || ctx.task.parser === 'youcook2';
  const videoRoot = videoRootOf(ctx);
  const rows = await taskRows(ctx, skipMissing ? {} : { limit: ctx.limit });
  const candText = processInputText(VIDEO_TGT_INSTRUCTION, ctx.style, { addVideoToken: true });
  const queries: QueryRow[] = [];
  let skipped = 0;
  for (const r of rows) {
    if (queries.length >= ctx.limit) break;
    const f = rowFields(ctx, r);
    const dir = media(ctx, f.name);
    if (skipMissing && !existsSync(dir) && !existsSync(join(videoRoot, f.videoFile))) {
      skipped++;
      continue;
    }
    const video = await sampledFramesOrExtract(ctx, dir, join(videoRoot, f.videoFile), `video '${f.name}' (${r.file} row ${r.index})`, 8);
    queries.push({
      item: { text: processInputText(inst, ctx.style, { text: f.caption }) },
      candidates: [{ key: f.name, item: { text: candText, video } }],
      label: [f.name],
      relScores: null,
    });
  }
  if (skipped > 0) ctx.warn(`task ${ctx.task.name}: skipped ${skipped} rows whose frames and video are both missing under ${ctx.mediaRoot} (as the reference does)`);
  return { queries, corpus: [] };
}
