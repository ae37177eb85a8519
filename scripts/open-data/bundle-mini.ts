// Copy the `mini` benchmark out of the open data into the folder the package ships (assets/mini),
// in the same layout, so `vlm2vec eval --benchmark mini --data assets/mini` reads it. The image
// tasks are copied as they are (Fashion-MNIST 28 × 28, emoji 64 px, drawings ≤ 224 px). Document
// pages (612 × 792 at 72 dpi) and video frames (up to 768 × 576) are shrunk to at most 224 px a
// side, which cuts the folder from about 13 MB to 4 MB: the shipped model reads images at no more
// than 12,544 pixels (about 100 × 125), so it sees nearly the same pixels either way; scores on
// the bundled copy are recorded for the copy itself (docs/open-data.md).
//
// Usage: node --import tsx scripts/open-data/bundle-mini.ts --data DIR --out assets/mini

import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import sharp from 'sharp';
import { Vlm2VecError } from '../../src/errors.ts';
import { pageFileName } from '../../src/mmeb/load/visdoc.ts';
import { MINI_REPOS, miniTasks } from '../../src/mmeb/tasks/registry-mini.ts';
import { writeBeirRepo } from './lib.ts';

const README = `# The mini benchmark, bundled

A copy of the \`mini\` benchmark (docs/open-data.md) that ships with vlm2vec, so that
\`vlm2vec eval --benchmark mini --data assets/mini\` and \`vlm2vec demo\` run offline. Written by
scripts/open-data/bundle-mini.ts from the held-out split that scripts/open-data/fetch.ts builds
with its default sources. The image tasks are as fetch.ts writes them; the document pages
(rendered from the LaTeX Project's PDF manuals, unchanged otherwise) and the video frames are
shrunk to at most ${224} px a side. LICENSES.md lists the package each part comes from, with its
version and licence; LICENSES/ holds each package's own copyright or licence file.
`;

/** Longest side of bundled pages and frames. */
export const BUNDLE_SIDE = 224;

async function rows(file: string, utf8 = true): Promise<Record<string, unknown>[]> {
  return await parquetReadObjects({ file: await asyncBufferFromFile(file), utf8 }) as Record<string, unknown>[];
}

/** Writes the bundled copy of the mini benchmark of `data` into `out` (replacing it). */
export async function bundleMini(data: string, out: string): Promise<void> {
  const tasks = miniTasks();
  for (const r of Object.values(MINI_REPOS)) {
    if (!existsSync(join(data, r))) throw new Vlm2VecError('bundle-mini', `${join(data, r)} not found: run scripts/open-data/fetch.ts with its default sources first`);
  }
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  // Image tasks: the rows and their pictures, unchanged.
  cpSync(join(data, MINI_REPOS.image), join(out, MINI_REPOS.image), { recursive: true });
  cpSync(join(data, 'image-tasks', 'mini'), join(out, 'image-tasks', 'mini'), { recursive: true });
  cpSync(join(data, MINI_REPOS.video), join(out, MINI_REPOS.video), { recursive: true });
  // Document pages: the same queries and qrels, the page images shrunk.
  const doc = join(data, MINI_REPOS.docpages);
  const file = (c: string): string => join(doc, c, 'test-00000-of-00001.parquet');
  const queries = (await rows(file('queries'))).map((r) => ({ id: Number(r['query-id']), query: String(r['query']) }));
  const qrels = (await rows(file('qrels'))).map((r) => ({ queryId: Number(r['query-id']), corpusId: Number(r['corpus-id']) }));
  const pages = [];
  for (const r of await rows(file('corpus'), false)) {  // image bytes as bytes, not text
    const img = r['image'] as { bytes?: Uint8Array } | Uint8Array;
    const bytes = img instanceof Uint8Array ? img : img.bytes;
    if (!bytes) throw new Vlm2VecError('bundle-mini', `${file('corpus')}: corpus-id ${String(r['corpus-id'])} has no image bytes`);
    const png = await sharp(bytes).resize({ width: BUNDLE_SIDE, height: BUNDLE_SIDE, fit: 'inside', withoutEnlargement: true }).png({ palette: true }).toBuffer();
    pages.push({ id: Number(r['corpus-id']), png: new Uint8Array(png) });
  }
  const docOut = join(out, MINI_REPOS.docpages);
  writeBeirRepo(docOut, queries, pages, qrels);
  // The pages also as the files the harness would extract from the corpus on first use, so an
  // eval never writes into the installed package (where it may not be allowed to).
  const docTask = tasks.find((t) => t.name === 'Mini-DocPages')!;
  for (const p of pages) {
    mkdirSync(join(out, docTask.mediaRoot), { recursive: true });
    writeFileSync(join(out, docTask.mediaRoot, pageFileName('vidore', String(p.id))), p.png);
  }
  writeFileSync(join(docOut, 'pages.json'), readFileSync(join(doc, 'pages.json')));
  // Where every file comes from, with each package's own licence text.
  cpSync(join(data, 'LICENSES.md'), join(out, 'LICENSES.md'));
  cpSync(join(data, 'LICENSES'), join(out, 'LICENSES'), { recursive: true });
  writeFileSync(join(out, 'README.md'), README);
  // Video frames: every frame kept (the harness picks from them by the reference's rule), shrunk.
  const video = tasks.find((t) => t.name === 'Mini-Video_t2v')!.mediaRoot;
  for (const clip of readdirSync(join(data, video))) {
    mkdirSync(join(out, video, clip), { recursive: true });
    for (const f of readdirSync(join(data, video, clip))) {
      const jpg = await sharp(join(data, video, clip, f)).resize({ width: BUNDLE_SIDE, height: BUNDLE_SIDE, fit: 'inside', withoutEnlargement: true }).jpeg({ quality: 85 }).toBuffer();
      writeFileSync(join(out, video, clip, f), jpg);
    }
  }
}

if (process.argv[1] === import.meta.filename) {
  const { values } = parseArgs({ options: { data: { type: 'string' }, out: { type: 'string' } } });
  if (!values.data || !values.out) throw new Vlm2VecError('bundle-mini', 'usage: bundle-mini.ts --data DIR --out assets/mini');
  await bundleMini(values.data, values.out);
  process.stderr.write(`bundled the mini benchmark of ${values.data} into ${values.out}\n`);
}
