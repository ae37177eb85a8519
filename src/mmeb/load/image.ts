// Image parsers of the V2 harness (docs/mmeb.md §3.2): image_cls, image_qa, image_i2t, image_t2i,
// image_i2i_vg over `ziyjiang/MMEB_Test_Instruct` rows (qry_inst, qry_text, qry_img_path,
// tgt_inst, tgt_text[], tgt_img_path[]). The odd `" \n"` → `"\n"` fixes and trailing newlines
// reproduce the V1 eval texts, as the reference comments say; they are kept character for character.

import { join } from 'node:path';
import { Vlm2VecError } from '../../errors.ts';
import { processInputText, replaceImage1, stripImage1 } from '../../embed/prompt.ts';
import type { Candidate, QueryRow } from '../tasks/types.ts';
import { optStr, str, strList } from '../data/fields.ts';
import type { RowRef } from '../data/read.ts';
import { exists, taskRows, type LoaderCtx } from './context.ts';
import { pyReplace, pyStrip, pyStripChars } from './pystr.ts';

/** `text.replace(" \n", "\n") + "\n"`, the V1-compatibility tail of most image prompts. */
const v1Fix = (t: string, tail = '\n'): string => pyReplace(t, ' \n', '\n') + tail;

/**
 * Absolute path of an image under `image-tasks/`. The MMEB-V2 `mmeb_v1.tar.gz` unpacks into
 * `MMEB/`, which the download script moves up; a tree left as `image-tasks/MMEB/...` (the
 * reference's newer yaml points there) is accepted too.
 */
function imagePath(ctx: LoaderCtx, rel: string, r: RowRef, field: string): string {
  // Retrieval rows repeat the same ~1000 candidate paths: resolve each once per task load
  // (1M candidates otherwise spend seconds in path.join and stat).
  const hit = ctx.imagePaths.get(rel);
  if (hit !== undefined) return hit;
  const p = join(ctx.mediaRoot, rel);
  const alt = join(ctx.mediaRoot, 'MMEB', rel);
  const found = exists(ctx, p) ? p : exists(ctx, alt) ? alt : undefined;
  if (found !== undefined) { ctx.imagePaths.set(rel, found); return found; }
  throw new Vlm2VecError('mmeb', `task ${ctx.task.name}: image ${p} (field '${field}' of ${r.file} row ${r.index}) not found; extract mmeb_v1.tar.gz of TIGER-Lab/MMEB-V2 into ${ctx.mediaRoot} (see \`vlm2vec data pull\`)`);
}

/** Query text of image_cls / image_i2t (`qa`: image_qa and the i2i_vg query, §3.2). */
function imageQueryText(ctx: LoaderCtx, r: RowRef, qa: boolean): string {
  const name = ctx.task.name;
  const rawInst = optStr(r, 'qry_inst', name) ?? '';
  const inst = qa ? `\n${pyStrip(stripImage1(rawInst))}` : stripImage1(rawInst);
  // A null qry_text is Python's None: no text appended (and e5_v's image-only template).
  const text = optStr(r, 'qry_text', name);
  return v1Fix(processInputText(inst, ctx.style, { addImageToken: true, ...(text !== undefined ? { text } : {}) }));
}

function textCandidates(ctx: LoaderCtx, r: RowRef): { candidates: Candidate[]; label: string[] } {
  const tgt = strList(r, 'tgt_text', ctx.task.name, { nonEmpty: true });
  return { candidates: tgt.map((t) => ({ key: t, item: { text: t } })), label: [tgt[0]!] };
}

/** Candidate texts of t2i / i2i_vg: per-caption texts when captions exist, else one shared text. */
function imageCandidateTexts(ctx: LoaderCtx, r: RowRef, captions: string[], n: number, sharedTail: string): string[] {
  const inst = stripImage1(optStr(r, 'tgt_inst', ctx.task.name) ?? '');
  if (pyStrip(captions[0]!) !== '') {
    if (captions.length !== n) {
      throw new Vlm2VecError('data', `task ${ctx.task.name}: ${r.file} row ${r.index}: 'tgt_text' has ${captions.length} captions but 'tgt_img_path' has ${n} images`);
    }
    return captions.map((c) => v1Fix(processInputText(`${inst} ${c}`, ctx.style, { text: '', addImageToken: true })));
  }
  const shared = v1Fix(processInputText(inst, ctx.style, { text: '', addImageToken: true }), sharedTail);
  return Array.from({ length: n }, () => shared);
}

function parseRow(ctx: LoaderCtx, r: RowRef): QueryRow {
  const name = ctx.task.name;
  switch (ctx.task.parser) {
    case 'image_cls':
    case 'image_i2t':
    case 'image_qa': {
      const text = imageQueryText(ctx, r, ctx.task.parser === 'image_qa');
      const images = [imagePath(ctx, str(r, 'qry_img_path', name), r, 'qry_img_path')];
      return { item: { text, images }, ...textCandidates(ctx, r), relScores: null };
    }
    case 'image_t2i': {
      // The query instruction keeps its token position (replaced, not stripped), and no helper.
      let text = `${replaceImage1(optStr(r, 'qry_inst', name) ?? '', ctx.style)} ${str(r, 'qry_text', name)}\n`;
      if (name === 'VisDial') text += '\n';
      const paths = strList(r, 'tgt_img_path', name, { nonEmpty: true });
      const texts = imageCandidateTexts(ctx, r, strList(r, 'tgt_text', name, { nonEmpty: true }), paths.length, '\n');
      const candidates = paths.map((p, i) => ({ key: p, item: { text: texts[i]!, images: [imagePath(ctx, p, r, 'tgt_img_path')] } }));
      return { item: { text }, candidates, label: [paths[0]!], relScores: null };
    }
    case 'image_i2i_vg': {
      const text = imageQueryText(ctx, r, true);
      const images = [imagePath(ctx, str(r, 'qry_img_path', name), r, 'qry_img_path')];
      const paths = strList(r, 'tgt_img_path', name, { nonEmpty: true });
      const captions = strList(r, 'tgt_text', name, { nonEmpty: true });
      const texts = imageCandidateTexts(ctx, r, captions, paths.length, '');
      // Keys are `path:caption` (zip truncates like Python's) so several targets in one image
      // (RefCOCO-Matching) stay distinct.
      const n = Math.min(paths.length, captions.length);
      const candidates = Array.from({ length: n }, (_, i) => ({
        key: `${paths[i]!}:${pyStripChars(captions[i]!, '"')}`,
        item: { text: texts[i]!, images: [imagePath(ctx, paths[i]!, r, 'tgt_img_path')] },
      }));
      return { item: { text, images }, candidates, label: [candidates[0]!.key], relScores: null };
    }
    default:
      throw new Vlm2VecError('mmeb', `task ${name}: parser '${ctx.task.parser}' is not an image parser`);
  }
}

/** Load an image task: one query per row, local candidates from the row (§3.2). */
export async function loadImageTask(ctx: LoaderCtx): Promise<{ queries: QueryRow[]; corpus: Candidate[] }> {
  const rows = await taskRows(ctx, { limit: ctx.limit });
  return { queries: rows.map((r) => parseRow(ctx, r)), corpus: [] };
}
