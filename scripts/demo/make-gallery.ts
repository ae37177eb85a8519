// Builds the gallery of `vlm2vec demo` (assets/demo/gallery/) from the open data that
// scripts/open-data/fetch.ts writes, taking only held-out items (never seen in training) of the
// permissively licensed sources, and writes assets/demo/LICENSES.md. The PDF is made here: its
// pages are ours (Apache-2.0 with the project), set in PDF's built-in Helvetica.
//
// Usage: node --import tsx scripts/demo/make-gallery.ts [--from DIR] [--out assets/demo]
//   DIR: the open data (default $VLM2VEC_CACHE/open-data, else ~/.cache/vlm2vec/open-data)
// Deterministic: the items are taken from the held-out task files by their position in the file.

import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';

const { values } = parseArgs({ options: { from: { type: 'string' }, out: { type: 'string' } } });
const from = values.from ?? join(process.env['VLM2VEC_CACHE'] ?? join(homedir(), '.cache', 'vlm2vec'), 'open-data');
const out = values.out ?? join(import.meta.dirname, '..', '..', 'assets', 'demo');
const gallery = join(out, 'gallery');
if (!existsSync(join(from, 'manifest.json'))) {
  console.error(`make-gallery: ${from} holds no open data (no manifest.json): run scripts/open-data/fetch.ts first`);
  process.exit(1);
}

type Row = Record<string, unknown>;
async function taskRows(task: string): Promise<Row[]> {
  const dir = join(from, 'vlm2vec-open', 'mini-image', task);
  const file = readdirSync(dir).find((f) => f.endsWith('.parquet'));
  if (!file) throw new Error(`${dir}: no parquet file`);
  const buf = readFileSync(join(dir, file));
  return parquetReadObjects({ file: buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength), compressors }) as Promise<Row[]>;
}

/** A caption as a file name: lower case, words joined by '-', at most 48 characters. */
function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 48).replace(/-$/, '');
}

rmSync(gallery, { recursive: true, force: true });
const files: { path: string; source: string; origin: string; caption: string }[] = [];
function put(sub: string, name: string, src: string, source: string, caption: string): void {
  mkdirSync(join(gallery, sub), { recursive: true });
  let rel = `${sub}/${name}`;
  for (let k = 2; files.some((f) => f.path === rel); k++) rel = `${sub}/${name.replace(/(\.\w+)$/, `-${k}$1`)}`;
  copyFileSync(src, join(gallery, rel));
  files.push({ path: rel, source, origin: src.slice(from.length + 1), caption });
}
const media = (p: string): string => join(from, 'image-tasks', p);

// Fashion-MNIST test images: the first two of each class (the positive is the first candidate).
const perClass = new Map<string, number>();
for (const r of await taskRows('Mini-FashionMNIST')) {
  const label = (r['tgt_text'] as string[])[0]!;
  const n = (perClass.get(label) ?? 0) + 1;
  if (n > 2) continue;
  perClass.set(label, n);
  put('fashion', `${slug(label)}-${n}.png`, media(r['qry_img_path'] as string), 'Fashion-MNIST', label);
}
// Emoji and Openclipart: 16 held-out pictures evenly spaced through the task file (the emoji rows
// are in code-point order, where the first dozens are all faces), named after their caption.
for (const [task, sub, source, n] of [['Mini-Emoji_t2i', 'emoji', 'Emoji', 16], ['Mini-OpenClipart_t2i', 'clipart', 'Openclipart', 16]] as const) {
  const rows = await taskRows(task);
  for (const r of Array.from({ length: n }, (_, i) => rows[Math.floor((i * rows.length) / n)]!)) {
    const caption = r['qry_text'] as string;
    put(sub, `${slug(caption.replace(/\s*\(.*$/, ''))}.png`, media((r['tgt_img_path'] as string[])[0]!), source, caption);
  }
}
// One short BSD-licensed sample video of imageio.
const video = join(from, 'sources', 'x', 'python3-imageio_2.4.1-5', 'usr', 'lib', 'python3', 'dist-packages', 'imageio', 'resources', 'images', 'realshort.mp4');
put('video', 'realshort.mp4', video, 'imageio', 'a handheld shot of a potted tree and papers on a desk by a window');

// The PDF: three pages, each a heading and a few lines of body text.
const PAGES: { heading: string; lines: string[] }[] = [
  { heading: 'Washing wool sweaters', lines: ['Turn the sweater inside out and use cold water.', 'Press the water out gently; never wring wool.', 'Dry it flat on a towel, away from the sun.'] },
  { heading: 'Choosing running shoes', lines: ['Try shoes on in the afternoon, when feet are largest.', 'Leave a thumb\'s width in front of the longest toe.', 'Replace them every 600 to 800 kilometres.'] },
  { heading: 'Packing a travel bag', lines: ['Roll soft clothes; fold shirts and trousers.', 'Put shoes at the bottom, near the wheels.', 'Keep documents and chargers in the top pocket.'] },
];
function pdfText(s: string): string {
  return s.replace(/[\\()]/g, (c) => `\\${c}`);
}
function makePdf(): Buffer {
  const objs: string[] = ['<< /Type /Catalog /Pages 2 0 R >>', '', '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold >>', '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>'];
  const kids: number[] = [];
  for (const [i, p] of PAGES.entries()) {
    const body = p.lines.map((l, k) => `BT /F2 14 Tf 60 ${600 - k * 26} Td (${pdfText(l)}) Tj ET`).join('\n');
    const content = [
      '0.15 0.35 0.6 rg 0 712 612 80 re f',
      `BT 1 1 1 rg /F1 30 Tf 60 740 Td (${pdfText(p.heading)}) Tj ET`,
      `0 0 0 rg ${body}`,
      `BT 0.4 0.4 0.4 rg /F2 10 Tf 60 50 Td (vlm2vec demo guide, page ${i + 1}) Tj ET`,
    ].join('\n');
    objs.push(`<< /Length ${Buffer.byteLength(content)} >>\nstream\n${content}\nendstream`);
    objs.push(`<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents ${objs.length} 0 R >>`);
    kids.push(objs.length);
  }
  objs[1] = `<< /Type /Pages /Kids [${kids.map((k) => `${k} 0 R`).join(' ')}] /Count ${kids.length} >>`;
  let pdf = '%PDF-1.4\n';
  const at: number[] = [];
  objs.forEach((o, i) => {
    at.push(Buffer.byteLength(pdf));
    pdf += `${i + 1} 0 obj\n${o}\nendobj\n`;
  });
  const xref = Buffer.byteLength(pdf);
  pdf += `xref\n0 ${objs.length + 1}\n0000000000 65535 f \n${at.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('')}`;
  pdf += `trailer\n<< /Size ${objs.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(pdf, 'latin1');
}
mkdirSync(join(gallery, 'docs'), { recursive: true });
writeFileSync(join(gallery, 'docs', 'guide.pdf'), makePdf());
files.push({ path: 'docs/guide.pdf', source: 'vlm2vec', origin: 'scripts/demo/make-gallery.ts', caption: PAGES.map((p) => p.heading).join(' / ') });

const SOURCES: Record<string, string> = {
  'Fashion-MNIST': '| Fashion-MNIST (`fashion/`) | Debian `dataset-fashion-mnist` 0.0~git20200523.55506a9-1 | MIT (Expat), © 2017 Zalando SE | test-set images (held out from training), named by class |',
  Emoji: '| Emoji (`emoji/`) | npm `emoji-datasource-google` 16.0.0 | MIT (emoji-data); the images are Google\'s Noto Emoji, Apache-2.0 | held-out 64 px emoji, named by their Unicode name |',
  Openclipart: '| Openclipart (`clipart/`) | Debian `openclipart-svg` 1:0.18+dfsg-19 | public domain (Creative Commons Public Domain Dedication) | held-out drawings rendered to PNG, named by their title |',
  imageio: '| imageio sample video (`video/realshort.mp4`) | Debian `python3-imageio` 2.4.1-5 | BSD-2-Clause | the file as shipped |',
  vlm2vec: '| `docs/guide.pdf` | this project (scripts/demo/make-gallery.ts) | Apache-2.0 | three pages written for the demo |',
};
// Each package's own copyright / licence file travels with its files (MIT and BSD ask for it).
const LICENCE_FILES: Record<string, string> = {
  'Fashion-MNIST': 'dataset-fashion-mnist.txt', Emoji: 'emoji-datasource-google.txt', Openclipart: 'openclipart-svg.txt', imageio: 'python3-imageio.txt',
};
rmSync(join(out, 'LICENSES'), { recursive: true, force: true });
mkdirSync(join(out, 'LICENSES'), { recursive: true });
for (const f of Object.values(LICENCE_FILES)) copyFileSync(join(from, 'LICENSES', f), join(out, 'LICENSES', f));
const used = [...new Set(files.map((f) => f.source))];
writeFileSync(join(out, 'LICENSES.md'), `# The demo gallery: sources and licences

\`gallery/\` is what \`vlm2vec demo\` indexes and searches: ${files.length} files, made by
\`scripts/demo/make-gallery.ts\` from the open data of \`scripts/open-data/fetch.ts\`
(docs/open-data.md). Every picture is from the held-out split, so the bundled model never saw it
in training. Each file keeps the licence of its source:

| files | package (version) | licence | what |
|---|---|---|---|
${used.map((s) => SOURCES[s]).join('\n')}

\`LICENSES/\` holds each package's own copyright or licence file (${Object.values(LICENCE_FILES).join(', ')}:
the Debian \`copyright\` file, or the npm package's LICENSE). The Noto Emoji images are under the
Apache License 2.0, whose text is the LICENSE file at the root of this package. \`gallery.json\` gives
each file's source, original path and caption.
`);
writeFileSync(join(out, 'gallery.json'), `${JSON.stringify(files, null, 1)}\n`);
console.error(`make-gallery: ${files.length} files in ${gallery}`);
