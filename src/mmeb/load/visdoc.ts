// Visual-document retrieval parsers (docs/mmeb.md §3.4): `vidore` (ViDoRe V1/V2, ViDoSeek, MMLongBench)
// and `visrag`, over BEIR configs `queries` / `qrels` / `corpus`. Page images stored in the corpus
// parquet are written once to files under the task's media root (the reference does the same),
// so embedders receive file paths like every other task.

import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import sharp from 'sharp';
import { Vlm2VecError } from '../../errors.ts';
import { defaultCacheDir } from '../../io/hub.ts';
import { processInputText } from '../../embed/prompt.ts';
import type { Candidate, LabelKind, QueryRow } from '../tasks/types.ts';
import { findDataFiles } from '../data/discover.ts';
import { id, idKind, imageBytes, num, optStr, str } from '../data/fields.ts';
import { forEachRowGroup, readRows, type RowRef } from '../data/read.ts';
import { forgetExists, repoDir, taskRows, type LoaderCtx } from './context.ts';

export const VISDOC_QUERY_INSTRUCTION = 'Find a document image that matches the given query:';
export const VISDOC_TGT_INSTRUCTION = 'Understand the content of the provided document image.';

/** qrels as {query-id: {corpus-id: score}}: score > 0 only, max on repeats, first-seen order. */
export type QrelsMap = Map<string, Map<string, number>>;

/**
 * VisRAG's cached page name: `(id without extension)[:50] + "_" + md5(id)[:8] + extension`.
 * Python slices code points, so the 50 are counted in code points too.
 *
 * @example
 * visragImageName('page.png'); // 'page_' + md5('page.png').slice(0, 8) + '.png'
 */
export function visragImageName(corpusId: string): string {
  // os.path.splitext: the extension is the last '.' suffix of the base name, unless the name
  // starts with it (a dotfile).
  const ext = extname(basename(corpusId));
  const base = ext ? corpusId.slice(0, corpusId.length - ext.length) : corpusId;
  const short = [...base].slice(0, 50).join('');
  return `${short}_${createHash('md5').update(corpusId, 'utf8').digest('hex').slice(0, 8)}${ext}`;
}

/** File name of a corpus page under the image root. */
export function pageFileName(parser: 'vidore' | 'visrag', corpusId: string): string {
  return parser === 'visrag' ? visragImageName(corpusId) : `${corpusId}.png`;
}

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47];
const isPng = (b: Uint8Array): boolean => PNG_MAGIC.every((m, i) => b[i] === m);
const isJpeg = (b: Uint8Array): boolean => b[0] === 0xff && b[1] === 0xd8;

/**
 * The bytes PIL's `image.save(path)` would write for this page. PNG pages are written as
 * stored (PNG is lossless, so the decoded pixels are identical); other formats are re-encoded
 * for the extension: PNG losslessly, JPEG at PIL's default quality 75 with 4:2:0 subsampling.
 * `reencodeJpeg: false` keeps JPEG bytes as stored (what newer reference code does).
 */
export async function pageBytes(bytes: Uint8Array, ext: string, reencodeJpeg: boolean): Promise<Uint8Array> {
  const e = ext.toLowerCase();
  if (e === '.png') return isPng(bytes) ? bytes : sharp(bytes).png().toBuffer();
  if (e === '.jpg' || e === '.jpeg') {
    if (isJpeg(bytes) && !reencodeJpeg) return bytes;
    return sharp(bytes).jpeg({ quality: 75, chromaSubsampling: '4:2:0', optimiseCoding: false, mozjpeg: false }).toBuffer();
  }
  return bytes;
}

function writable(dir: string): boolean {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The one Python type of a `corpus-id` column (int for INT32/INT64 columns, str for strings);
 * a column mixing both cannot come from one parquet column, and would make the reference compare
 * 12 with "12" (never equal), so it is an error. `undefined` when there are no rows.
 */
function columnKind(rows: readonly RowRef[], field: string, task: string, what: string): LabelKind | undefined {
  let kind: LabelKind | undefined;
  for (const r of rows) {
    const k = idKind(r, field, task);
    if (kind === undefined) kind = k;
    else if (k !== kind) {
      throw new Vlm2VecError('data', `task ${task}: ${r.file} row ${r.index}: ${what} field '${field}' is ${k === 'int' ? 'an integer' : 'a string'}, ` +
        `but earlier rows hold ${kind === 'int' ? 'integers' : 'strings'} (expected one type per column)`);
    }
  }
  return kind;
}

/** Load the qrels of a task (§3.4). */
export async function loadQrels(ctx: LoaderCtx): Promise<QrelsMap> {
  return (await loadQrelsWithKind(ctx)).qrels;
}

/** {@link loadQrels} plus the Python type of its `corpus-id` column. */
async function loadQrelsWithKind(ctx: LoaderCtx): Promise<{ qrels: QrelsMap; kind: LabelKind | undefined }> {
  const t = ctx.task.name;
  const rows = await taskRows(ctx, { config: 'qrels' });
  const kind = columnKind(rows, 'corpus-id', t, 'qrels');
  const map: QrelsMap = new Map();
  for (const r of rows) {
    const score = num(r, 'score', t);
    if (!(score > 0)) continue;
    const qid = id(r, 'query-id', t);
    const doc = id(r, 'corpus-id', t);
    let m = map.get(qid);
    if (!m) { m = new Map(); map.set(qid, m); }
    // Map.set on an existing key keeps its position: Python dict semantics.
    m.set(doc, Math.max(m.get(doc) ?? 0, score));
  }
  return { qrels: map, kind };
}

/**
 * Write the corpus page images that are not on disk yet; returns the folder holding them
 * (the task's media root, or a cache folder when DATA is read-only) and the corpus ids in order.
 */
async function materializeCorpus(ctx: LoaderCtx, parser: 'vidore' | 'visrag'): Promise<{ root: string; ids: string[]; kind: LabelKind | undefined }> {
  const t = ctx.task.name;
  const { source } = ctx.task;
  const files = findDataFiles({ repoDir: repoDir(ctx), repo: source.repo, config: 'corpus', split: source.split, task: t });
  const idRows = await readRows(files, { columns: ['corpus-id'] });
  const kind = columnKind(idRows, 'corpus-id', t, 'corpus');
  const ids = idRows.map((r) => id(r, 'corpus-id', t));
  const rel = ctx.mediaRoot.startsWith(ctx.dataDir) ? ctx.mediaRoot.slice(ctx.dataDir.length).replace(/^[/\\]+/, '') : join('visdoc-tasks', basename(ctx.mediaRoot));
  const candidates = [ctx.mediaRoot, join(ctx.cacheDir ?? defaultCacheDir(), rel)];
  // Pages already complete somewhere (e.g. a read-only DATA prepared earlier): use them.
  for (const root of candidates) {
    if (ids.every((i) => existsSync(join(root, pageFileName(parser, i))))) return { root, ids, kind };
  }
  const root = candidates.find(writable);
  if (root === undefined) {
    throw new Vlm2VecError('mmeb', `task ${t}: cannot write page images: neither ${candidates.join(' nor ')} is writable (pass a writable cache dir)`);
  }
  if (root !== ctx.mediaRoot) ctx.warn(`task ${t}: ${ctx.mediaRoot} is not writable; page images go to ${root}`);
  const reencodeJpeg = ctx.task.params?.['reencodeJpeg'] !== false;
  await forEachRowGroup(files, ['corpus-id', 'image'], async (rows) => {
    for (const r of rows) {
      const cid = id(r, 'corpus-id', t);
      const name = pageFileName(parser, cid);
      const path = join(root, name);
      if (existsSync(path)) continue;
      const { bytes } = imageBytes(r, 'image', t);
      const out = await pageBytes(bytes, extname(name), reencodeJpeg);
      const tmp = `${path}.tmp-${process.pid}`;
      mkdirSync(dirname(path), { recursive: true }); // ids may contain '/'
      writeFileSync(tmp, out);
      renameSync(tmp, path);
    }
  });
  forgetExists(ctx);
  return { root, ids, kind };
}

/** Load a `vidore` or `visrag` task: queries with their qrels positives, plus the page corpus. */
export async function loadVisdocTask(ctx: LoaderCtx): Promise<{ queries: QueryRow[]; corpus: Candidate[] }> {
  const t = ctx.task.name;
  const parser = ctx.task.parser;
  if (parser !== 'vidore' && parser !== 'visrag') throw new Vlm2VecError('mmeb', `task ${t}: parser '${parser}' is not a visdoc parser`);
  // `visrag` always used the instructions; `vidore` had empty ones until 2025-11-03 (§3.4, §10).
  const empty = parser === 'vidore' && ctx.vidoreInstructions === 'empty';
  const qInst = empty ? '' : VISDOC_QUERY_INSTRUCTION;
  const candText = processInputText(empty ? '' : VISDOC_TGT_INSTRUCTION, ctx.style, { addImageToken: true });

  const { qrels, kind: qrelsKind } = await loadQrelsWithKind(ctx);
  const { root, ids, kind: corpusKind } = await materializeCorpus(ctx, parser);
  // Labels (qrels) and predictions (corpus keys) must be the same Python type, else the
  // reference would never match a prediction to a label (12 != "12").
  if (qrelsKind !== undefined && corpusKind !== undefined && qrelsKind !== corpusKind) {
    throw new Vlm2VecError('data', `task ${t}: qrels 'corpus-id' holds ${qrelsKind === 'int' ? 'integers' : 'strings'} but corpus ` +
      `'corpus-id' holds ${corpusKind === 'int' ? 'integers' : 'strings'} (expected the same type in both configs)`);
  }
  const labelKind = corpusKind ?? qrelsKind;
  const page = (cid: string): string[] => [join(root, pageFileName(parser, cid))];
  const inCorpus = new Set(ids);

  let qrows = await taskRows(ctx, { config: 'queries' });
  // Only the English-only configs name a language; the scored tasks use every query.
  const lang = ctx.task.params?.['language'];
  if (typeof lang === 'string') qrows = qrows.filter((r) => optStr(r, 'language', t) === lang);
  if (Number.isFinite(ctx.limit)) qrows = qrows.slice(0, ctx.limit);

  const queries: QueryRow[] = qrows.map((r) => {
    const qid = id(r, 'query-id', t);
    const rel = qrels.get(qid);
    if (!rel || rel.size === 0) {
      throw new Vlm2VecError('mmeb', `task ${t}: query without a positive: query-id '${qid}' (${r.file} row ${r.index}) has no qrels row with score > 0`);
    }
    const label = [...rel.keys()];
    for (const d of label) {
      if (!inCorpus.has(d)) throw new Vlm2VecError('mmeb', `task ${t}: qrels of query-id '${qid}' name corpus-id '${d}', which is not in the corpus`);
    }
    return {
      item: { text: processInputText(qInst, ctx.style, { text: str(r, 'query', t) }) },
      candidates: label.map((d) => ({ key: d, item: { text: candText, images: page(d) } })),
      label,
      relScores: [...rel.values()],
      ...(labelKind ? { labelKind } : {}),
    };
  });
  const corpus = ids.map((d) => ({ key: d, item: { text: candText, images: page(d) } }));
  return { queries, corpus };
}
