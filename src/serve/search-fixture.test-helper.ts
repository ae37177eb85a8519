// A small folder index for the tests of `serve --db` and its search page, made with the tiny
// fixture model: drawn images, the fixture PNGs, a two-page PDF, the fixture video and a
// markdown file, plus files the index skips (hidden, other extensions) to prove they are never
// served. The model's vectors are random-weight noise: tests compare the server's results with
// searchIndex's on the same index, never with what a trained model would find.

import { copyFile, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { LocalEmbedder } from '../embed/local.ts';
import { FIXTURES, TOKENIZER_DIR } from '../models/qwen2-vl/fixtures.test-helper.ts';
import { indexFolder } from '../search/folder-index.ts';

export const MODEL = join(FIXTURES, 'tiny-a');
export { TOKENIZER_DIR };
const ROOT = join(import.meta.dirname, '..', '..');

/** A minimal valid PDF (correct xref offsets), one page per content stream. */
export function makePdf(pages: { w: number; h: number; content: string }[]): Uint8Array {
  const objs = ['<< /Type /Catalog /Pages 2 0 R >>', `<< /Type /Pages /Kids [${pages.map((_, i) => `${3 + 2 * i} 0 R`).join(' ')}] /Count ${pages.length} >>`];
  for (const p of pages) {
    objs.push(`<< /Type /Page /Parent 2 0 R /MediaBox [0 0 ${p.w} ${p.h}] /Contents ${objs.length + 2} 0 R >>`);
    objs.push(`<< /Length ${p.content.length} >>\nstream\n${p.content}\nendstream`);
  }
  let out = '%PDF-1.4\n';
  const at: number[] = [];
  objs.forEach((o, i) => {
    at.push(out.length);
    out += `${i + 1} 0 obj\n${o}\nendobj\n`;
  });
  const xref = out.length;
  out += `xref\n0 ${objs.length + 1}\n0000000000 65535 f \n${at.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('')}`;
  out += `trailer\n<< /Size ${objs.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return new TextEncoder().encode(out);
}

/** A page that looks like a report: a coloured title bar, grey text lines, a chart block. */
function reportPage(w: number, h: number, rgb: string): string {
  const lines = Array.from({ length: 9 }, (_, i) => `0.75 0.75 0.75 rg 40 ${h - 130 - i * 22} ${w - 80 - (i % 3) * 60} 10 re f`);
  return [`${rgb} rg 0 ${h - 80} ${w} 80 re f`, ...lines, `${rgb} rg 60 60 60 120 re f 140 60 60 80 re f 220 60 60 150 re f`].join('\n');
}

/** An SVG drawing rasterised to PNG. */
function drawing(body: string, bg: string, w = 320, h = 240): Promise<Buffer> {
  return sharp(Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}"><rect width="100%" height="100%" fill="${bg}"/>${body}</svg>`)).png().toBuffer();
}

export interface SearchFixture {
  dir: string;
  input: string;
  db: string;
  /** The model the index was made with, loaded as the tests' reference embedder. */
  embedder: LocalEmbedder;
  /** A file in the folder that the index skipped (hidden folder). */
  hidden: string;
}

/** Makes the folder and indexes it (about a minute on a busy 2-core machine). */
export async function makeSearchFixture(): Promise<SearchFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'vlm2vec-serve-search-'));
  const input = join(dir, 'files');
  for (const sub of ['photos', 'docs', 'clips', '.private']) await mkdir(join(input, sub), { recursive: true });
  const pics: [string, Promise<Buffer>][] = [
    ['photos/red-circle.png', drawing('<circle cx="160" cy="120" r="80" fill="#d62828"/>', '#fdf0d5')],
    ['photos/blue-square.png', drawing('<rect x="90" y="50" width="140" height="140" fill="#1d4ed8"/>', '#e0f2fe')],
    ['photos/green-triangle.png', drawing('<polygon points="160,30 280,210 40,210" fill="#2a9d8f"/>', '#f1faee')],
    ['photos/sunset.png', drawing('<circle cx="160" cy="200" r="70" fill="#ffb703"/><rect y="200" width="320" height="40" fill="#023047"/>', '#fb8500')],
    ['photos/night-sky.jpg', drawing('<circle cx="240" cy="60" r="30" fill="#f8f9fa"/><circle cx="60" cy="40" r="3" fill="#fff"/><circle cx="120" cy="90" r="2" fill="#fff"/>', '#0b132b')],
  ];
  for (const [rel, png] of pics) {
    const bytes = await png;
    await writeFile(join(input, rel), rel.endsWith('.jpg') ? await sharp(bytes).jpeg().toBuffer() : bytes);
  }
  await copyFile(join(FIXTURES, 'images', 'a.png'), join(input, 'a.png'));
  await copyFile(join(FIXTURES, 'images', 'b.png'), join(input, 'photos', 'b.png'));
  await writeFile(join(input, 'docs', 'report.pdf'), makePdf([
    { w: 300, h: 400, content: reportPage(300, 400, '0.85 0.16 0.16') },
    { w: 400, h: 300, content: reportPage(400, 300, '0.11 0.3 0.85') },
  ]));
  await copyFile(join(ROOT, 'test', 'fixtures', 'io', 'video', 'pan.mp4'), join(input, 'clips', 'pan.mp4'));
  await writeFile(join(input, 'notes.md'), '# Field notes\n\nA red circle on cream paper, a blue square, and a sunset over the sea.\n');
  const hidden = join(input, '.private', 'secret.png');
  await copyFile(join(FIXTURES, 'images', 'tiny.png'), hidden);
  await writeFile(join(input, 'settings.json'), '{"token": "not indexed"}');
  const db = join(dir, 'db');
  const embedder = await LocalEmbedder.load(MODEL, { tokenizerDir: TOKENIZER_DIR, batchSize: 4 });
  const r = await indexFolder({ input, db, embedder, modelSpec: MODEL, modelOptions: { tokenizer: TOKENIZER_DIR } });
  if (r.failedFiles > 0 || r.embeddedFiles !== 10) throw new Error(`fixture index: ${JSON.stringify(r)}`);
  return { dir, input, db, embedder, hidden };
}
