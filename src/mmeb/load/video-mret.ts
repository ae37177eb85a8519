// Moment retrieval parsers (docs/mmeb.md §3.3): `moment_retrieval` (QVHighlight, Charades-STA: a video +
// description → one of its clip folders) and `momentseeker` (text, image+text or video+text
// query → clip folders, all saved frames used).

import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { Vlm2VecError } from '../../errors.ts';
import { processInputText } from '../../embed/prompt.ts';
import type { Candidate, QueryRow } from '../tasks/types.ts';
import { str, structList, structStr } from '../data/fields.ts';
import type { RowRef } from '../data/read.ts';
import { framesOf, media, requireFile, sampledFrames, taskRows, type LoaderCtx } from './context.ts';

export const MRET_QUERY_INSTRUCTION = 'Find the clip that corresponds to the described scene in the given video:';
export const MRET_TGT_INSTRUCTION = 'Understand the content of the provided video.';
export const MS_QUERY_TEXT = 'Find the clip that corresponds to the given text:';
export const MS_QUERY_IMAGE = 'Select the video clip that aligns with the given text and image:';
export const MS_QUERY_VIDEO = 'Find the clip that corresponds to the given sentence and video segment:';
export const MS_TGT_INSTRUCTION = 'Understand the content of the provided video clip.';

async function momentRow(ctx: LoaderCtx, r: RowRef): Promise<QueryRow> {
  const t = ctx.task.name;
  const query = str(r, 'query', t);
  const videoPath = str(r, 'video_path', t);
  const framesDir = media(ctx, basename(videoPath, extname(videoPath)));
  const where = `(${r.file} row ${r.index})`;
  if (!existsSync(framesDir)) {
    throw new Vlm2VecError('mmeb', `task ${t}: frame folder ${framesDir} of video '${videoPath}' ${where} not found; extract video_mret.tar.gz of TIGER-Lab/MMEB-V2 (see \`vlm2vec data pull\`)`);
  }
  const qFrames = await sampledFrames(ctx, join(framesDir, 'query'), `query clip ${where}`);
  const candText = processInputText(MRET_TGT_INSTRUCTION, ctx.style, { addVideoToken: true });
  const candidates: Candidate[] = [];
  let positive: string | undefined;
  // The reference iterates `os.listdir` (file-system order, not reproducible across machines);
  // Node lists names sorted by byte value (libuv), which is deterministic. The order only
  // matters for exact score ties and for which `positive*` folder wins when there are several.
  for (const e of readdirSync(framesDir, { withFileTypes: true })) {
    const key = join(framesDir, e.name);
    // Like the reference's `os.path.isfile` test, a symlink to a folder counts as a clip.
    const isDir = e.isDirectory() || (e.isSymbolicLink() && statSync(key).isDirectory());
    if (e.name === 'query' || !isDir) continue;
    // The reference keeps the last `positive*` folder when several exist (§3.3).
    if (e.name.startsWith('positive')) positive = key;
    candidates.push({ key, item: { text: candText, video: await sampledFrames(ctx, key, `clip ${where}`) } });
  }
  if (candidates.length === 0) throw new Vlm2VecError('mmeb', `task ${t}: no candidate clip folders under ${framesDir} ${where}`);
  if (positive === undefined) throw new Vlm2VecError('mmeb', `task ${t}: query without a positive: no 'positive*' clip folder under ${framesDir} ${where}`);
  return {
    item: { text: processInputText(MRET_QUERY_INSTRUCTION, ctx.style, { text: query, addVideoToken: true }), video: qFrames },
    candidates,
    label: [positive],
    relScores: null,
  };
}

/** `video_frames/<path with '/'→'_' up to '.mp4'>`, the clip folder naming of MomentSeeker. */
export function momentSeekerClipDir(ctx: LoaderCtx, path: string): string {
  return media(ctx, 'video_frames', path.split('.mp4')[0]!.replaceAll('/', '_'));
}

async function momentSeekerRow(ctx: LoaderCtx, r: RowRef): Promise<QueryRow> {
  const t = ctx.task.name;
  const query = str(r, 'query', t);
  const input = str(r, 'input_frames', t);
  const where = `(${r.file} row ${r.index})`;
  let item: QueryRow['item'];
  if (input.endsWith('.mp4')) {
    const dir = momentSeekerClipDir(ctx, input);
    item = { text: processInputText(MS_QUERY_VIDEO, ctx.style, { text: query, addVideoToken: true }), video: await framesOf(ctx, dir, `query video ${where}`) };
  } else if (input.endsWith('.jpg')) {
    const img = requireFile(ctx, media(ctx, `query_${input}`), `query image ${where}`);
    item = { text: processInputText(MS_QUERY_IMAGE, ctx.style, { text: query, addImageToken: true }), images: [img] };
  } else {
    item = { text: processInputText(MS_QUERY_TEXT, ctx.style, { text: query }) };
  }
  const candText = processInputText(MS_TGT_INSTRUCTION, ctx.style, { addVideoToken: true });
  const clip = async (field: string, s: Record<string, unknown>): Promise<Candidate> => {
    const dir = momentSeekerClipDir(ctx, structStr(s, 'output_path', r, field, t));
    return { key: dir, item: { text: candText, video: await framesOf(ctx, dir, `clip ${where}`) } };
  };
  const pos: Candidate[] = [];
  for (const s of structList(r, 'positive_frames', t)) pos.push(await clip('positive_frames', s));
  const neg: Candidate[] = [];
  for (const s of structList(r, 'negative_frames', t)) neg.push(await clip('negative_frames', s));
  if (pos.length === 0) throw new Vlm2VecError('mmeb', `task ${t}: query without a positive: 'positive_frames' is empty ${where}`);
  return { item, candidates: [...pos, ...neg], label: pos.map((c) => c.key), relScores: null };
}

/** Load a `moment_retrieval` or `momentseeker` task (local ranking). */
export async function loadMomentTask(ctx: LoaderCtx): Promise<{ queries: QueryRow[]; corpus: Candidate[] }> {
  const rows = await taskRows(ctx, { limit: ctx.limit });
  const queries: QueryRow[] = [];
  const seeker = ctx.task.parser === 'momentseeker';
  for (const r of rows) queries.push(seeker ? await momentSeekerRow(ctx, r) : await momentRow(ctx, r));
  return { queries, corpus: [] };
}
