// From collected records to the two data sets: MMEB-train-format subsets (+ dataset_config YAML)
// from the train split, and the `mini` benchmark in the MMEB eval layouts from the held-out split.
// Every path written here is one the loaders already read for TIGER-Lab/MMEB-train and MMEB-V2.

import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import sharp from 'sharp';
import { extractVideoFrames } from '../../src/io/media/video.ts';
import { renderPdfPages } from '../../src/io/media/pdf.ts';
import { Vlm2VecError } from '../../src/errors.ts';
import { MINI_REPOS, MINI_TASK_NAMES } from '../../src/mmeb/tasks/registry-mini.ts';
import type { DocPage, Picture, Video } from './collect.ts';
import { pdfBytes } from './collect.ts';
import {
  splitOf, writeBeirRepo, writeBytes, writeCard, writeEvalImageTask, writeParquet, writeTrainSubset, type EvalImageRow, type TrainRow,
} from './lib.ts';

/** The MMEB-train-layout repo of the training data, under the data folder. */
export const TRAIN_REPO = 'vlm2vec-open/MMEB-train';

// Prompts as TIGER-Lab/MMEB-train writes them for the same kinds of pairs (ImageNet_1K, MSCOCO_t2i,
// MSCOCO_i2t) and as the visdoc parsers word them.
const CLS_QUERY = '<|image_1|>\nRepresent the given image for classification\n';
const T2I_QUERY = (c: string): string => `Find me an everyday image that matches the given caption: ${c}\n`;
const IMAGE_TARGET = '<|image_1|>\nRepresent the given image.\n';
const I2T_QUERY = '<|image_1|>\nFind an image caption describing the given everyday image.\n';
const DOC_QUERY = (h: string): string => `Find a document image that matches the given query: ${h}\n`;
const DOC_TARGET = '<|image_1|>\nUnderstand the content of the provided document image.\n';

/** Counts of one source, for the manifest and LICENSES.md. */
export interface SourceCounts { train: number; heldOut: number }

/** A picture source after the split: each picture written once, under its split's folder. */
interface SplitPictures { train: (Picture & { path: string })[]; heldOut: (Picture & { path: string })[] }

const row = (r: Partial<TrainRow>): TrainRow => ({ qry: '', qry_image_path: '', pos_text: '', pos_image_path: '', neg_text: '', neg_image_path: '', ...r });

async function inChunks<T>(items: readonly T[], n: number, f: (x: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += n) await Promise.all(items.slice(i, i + n).map(f));
}

/**
 * Split and write the pictures of one source: train pictures as `images/<Source>/Train/<id>.png`
 * (the MMEB-train image layout, paths relative to the data folder), held-out ones as
 * `image-tasks/mini/<Source>/<id>.png` (the MMEB-V2 image-task media root). Pictures that fail
 * to render are reported through `warn` and left out.
 */
export async function writePictures(out: string, source: string, pics: readonly Picture[], heldOut: number,
  warn: (m: string) => void): Promise<SplitPictures> {
  const res: SplitPictures = { train: [], heldOut: [] };
  const safe = (id: string): string => id.replace(/[^A-Za-z0-9._-]+/g, '_');
  await inChunks(pics, 8, async (p) => {
    const held = splitOf(source, p.id, heldOut) === 'held-out';
    const rel = held ? join('mini', source, `${safe(p.id)}.png`) : join('images', source, 'Train', `${safe(p.id)}.png`);
    try {
      writeBytes(join(out, held ? 'image-tasks' : '', rel), await p.render());
    } catch (err) {
      warn(`${source}: ${p.id} could not be rendered (${(err as Error).message.split('\n')[0]}); left out`);
      return;
    }
    (held ? res.heldOut : res.train).push({ ...p, path: rel });
  });
  // Chunks finish in any order: sort back into the collection order (ids are unique per source).
  const order = new Map(pics.map((p, i) => [p.id, i]));
  res.train.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
  res.heldOut.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
  return res;
}

/** Training rows of a picture source: caption→picture and picture→caption (and →category). */
export function pictureTrainRows(pics: SplitPictures['train'], withCategory: boolean): Record<string, TrainRow[]> {
  const out: Record<string, TrainRow[]> = {
    t2i: pics.map((p) => row({ qry: T2I_QUERY(p.caption), pos_text: IMAGE_TARGET, pos_image_path: p.path })),
    i2t: pics.map((p) => row({ qry: I2T_QUERY, qry_image_path: p.path, pos_text: p.caption })),
  };
  if (withCategory) out['cls'] = pics.map((p) => row({ qry: CLS_QUERY, qry_image_path: p.path, pos_text: p.category }));
  return out;
}

/** Rows of a classification task: the true class first, then every other class in list order. */
export function clsEvalRows(items: { path: string; label: string }[], classes: readonly string[]): EvalImageRow[] {
  return items.map((x) => ({
    qry_inst: '<|image_1|>\nRepresent the given image for classification', qry_text: '', qry_img_path: x.path, tgt_inst: '',
    tgt_text: [x.label, ...classes.filter((c) => c !== x.label)], tgt_img_path: classes.map(() => ''),
  }));
}

/** Caption → picture rows: every held-out picture of the source is a candidate, the positive first. */
export function t2iEvalRows(pics: { path: string; caption: string }[]): EvalImageRow[] {
  return pics.map((p) => {
    const paths = [p.path, ...pics.filter((q) => q.path !== p.path).map((q) => q.path)];
    return {
      qry_inst: 'Find me an everyday image that matches the given caption:', qry_text: p.caption, qry_img_path: '',
      tgt_inst: '<|image_1|>\nRepresent the given image.', tgt_text: paths.map(() => ''), tgt_img_path: paths,
    };
  });
}

/** Picture → caption rows: every held-out caption of the source is a candidate, the positive first. */
export function i2tEvalRows(pics: { path: string; caption: string }[]): EvalImageRow[] {
  return pics.map((p) => {
    const texts = [p.caption, ...pics.filter((q) => q.path !== p.path).map((q) => q.caption)];
    return {
      qry_inst: '<|image_1|>\nFind an image caption describing the given everyday image.', qry_text: '', qry_img_path: p.path,
      tgt_inst: '', tgt_text: texts, tgt_img_path: texts.map(() => ''),
    };
  });
}

/** Write the image tasks of the mini benchmark into their MMEB_Test_Instruct-layout repo. */
export function writeMiniImageTasks(out: string, tasks: Record<string, EvalImageRow[]>): void {
  const repo = join(out, ...MINI_REPOS.image.split('/'));
  for (const [name, rows] of Object.entries(tasks)) {
    if (!MINI_TASK_NAMES.includes(name)) throw new Vlm2VecError('open-data', `'${name}' is not a task of the mini benchmark (${MINI_TASK_NAMES.join(', ')})`);
    writeEvalImageTask(repo, name, rows);
  }
  writeCard(repo, Object.keys(tasks).map((t) => ({ config: t, split: 'test', path: `${t}/test-*` })),
    '# vlm2vec-open mini benchmark: image tasks\n\nWritten by scripts/open-data/fetch.ts; see docs/open-data.md.\n');
}

/** The PNG of a PDF page at 72 dpi (a letter/A4 page is about 612×792). */
export async function pagePng(file: string, page: number): Promise<Buffer> {
  const [r] = await renderPdfPages(pdfBytes(file), { dpi: 72, pages: [page] });
  const img = r!.image;
  return sharp(Buffer.from(img.data), { raw: { width: img.width, height: img.height, channels: 3 } }).png().toBuffer();
}

/**
 * Document pages: train pages become heading→page rows (up to 3 headings a page) with the page at
 * `images/DocPages/Train/<id>.png`; held-out pages become the BEIR repo of Mini-DocPages, one
 * query per page (its first heading; a heading that names two held-out pages is dropped, as it
 * has no single answer).
 */
export async function writeDocPages(out: string, pages: readonly DocPage[], heldOut: number,
  warn: (m: string) => void): Promise<{ rows: TrainRow[]; counts: SourceCounts; queries: number }> {
  const rows: TrainRow[] = [];
  const held: { page: DocPage; png: Uint8Array }[] = [];
  let train = 0;
  // One document open per file would be faster, but renderPdfPages per page keeps memory flat on
  // the 2,400-page reference manual.
  for (const p of pages) {
    let png: Buffer;
    try {
      png = await pagePng(p.file, p.page);
    } catch (err) {
      warn(`DocPages: ${p.id} could not be rendered (${(err as Error).message.split('\n')[0]}); left out`);
      continue;
    }
    if (splitOf('DocPages', p.id, heldOut) === 'held-out') {
      held.push({ page: p, png });
      continue;
    }
    const rel = join('images', 'DocPages', 'Train', `${p.id}.png`);
    writeBytes(join(out, rel), png);
    train++;
    for (const h of p.headings.slice(0, 3)) rows.push(row({ qry: DOC_QUERY(h), pos_text: DOC_TARGET, pos_image_path: rel }));
  }
  const firstHeading = new Map<string, number>();
  for (const h of held) firstHeading.set(h.page.headings[0]!, (firstHeading.get(h.page.headings[0]!) ?? 0) + 1);
  const queries: { id: number; query: string }[] = [];
  const qrels: { queryId: number; corpusId: number }[] = [];
  held.forEach((h, corpusId) => {
    const q = h.page.headings[0]!;
    if (firstHeading.get(q) !== 1) return;
    queries.push({ id: queries.length, query: q });
    qrels.push({ queryId: queries.length - 1, corpusId });
  });
  writeBeirRepo(join(out, ...MINI_REPOS.docpages.split('/')), queries, held.map((h, id) => ({ id, png: h.png })), qrels);
  writeFileSync(join(out, ...MINI_REPOS.docpages.split('/'), 'pages.json'),
    `${JSON.stringify(held.map((h, id) => ({ 'corpus-id': id, page: h.page.id, headings: h.page.headings })), null, 1)}\n`);
  return { rows, counts: { train, heldOut: held.length }, queries: queries.length };
}

/**
 * The video task (MSR-VTT layout: video_id, video, caption): each sample video's frames as the
 * reference extracts them (≤ 64 frames, `frame_%04d.jpg`) under the task's frame root, and the
 * raw file under the matching `videos/` root. All five videos are evaluation data (there are too
 * few to hold some out of training, so none is trained on).
 */
export async function writeVideos(out: string, videos: readonly Video[], frameRoot: string): Promise<void> {
  const videoRoot = frameRoot.replace(/([/\\])frames([/\\])/, '$1videos$2');
  for (const v of videos) {
    await extractVideoFrames(v.file, join(out, frameRoot, v.id));
    mkdirSync(join(out, videoRoot), { recursive: true });
    copyFileSync(v.file, join(out, videoRoot, basename(v.file)));
  }
  const repo = join(out, ...MINI_REPOS.video.split('/'));
  writeParquet(join(repo, 'test', 'test-00000-of-00001.parquet'), [
    { name: 'video_id', kind: 'string', data: videos.map((v) => v.id) },
    { name: 'video', kind: 'string', data: videos.map((v) => basename(v.file)) },
    { name: 'caption', kind: 'string', data: videos.map((v) => v.caption) },
  ]);
  writeCard(repo, [{ config: 'test', split: 'test', path: 'test/test-*' }]);
}

/** Write the training subsets and the dataset_config YAML naming them. */
export function writeTrainData(out: string, subsets: Record<string, TrainRow[]>, yamlName = 'open-data.yaml'): string {
  const repo = join(out, ...TRAIN_REPO.split('/'));
  const names = Object.keys(subsets).filter((s) => subsets[s]!.length > 0);
  for (const s of names) writeTrainSubset(repo, s, subsets[s]!);
  writeCard(repo, names.map((s) => ({ config: s, split: 'original', path: `${s}/original-*` })),
    '# vlm2vec-open MMEB-train-format training pairs\n\nWritten by scripts/open-data/fetch.ts; see docs/open-data.md.\n');
  const yaml = [
    '# dataset_config for `vlm2vec train` (the reference\'s train.py format): one mmeb source per subset.',
    '# Use with --data_basedir <this folder> (images/ and the vlm2vec-open/ repo are under it).',
    ...names.flatMap((s) => [
      `${s}:`, '  dataset_parser: mmeb', `  dataset_name: ${TRAIN_REPO}`, `  subset_name: ${s}`, '  dataset_split: original',
      "  image_dir: '.'", '  weight: 1',
    ]),
  ];
  const file = join(out, yamlName);
  writeFileSync(file, `${yaml.join('\n')}\n`);
  return file;
}
