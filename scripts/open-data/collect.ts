// Reading each unpacked package into plain records: pictures with a caption and a category, the
// Fashion-MNIST arrays, PDF pages with their headings, and the sample videos. Nothing here writes
// the data set; build.ts decides splits and layouts.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join, relative } from 'node:path';
import { gunzipSync } from 'node:zlib';
import sharp from 'sharp';
import { Vlm2VecError } from '../../src/errors.ts';
import { normalizePicture } from './lib.ts';

/** A picture with a one-line description and a category. */
export interface Picture {
  /** Stable id inside its source (a relative path without extension). */
  id: string;
  caption: string;
  category: string;
  /** The stored PNG (flattened on white, at most 224 px a side). */
  render: () => Promise<Buffer>;
}

function walk(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

/** Collapse whitespace; the data's texts are single lines. */
const oneLine = (s: string): string => s.replace(/\s+/g, ' ').trim();

/**
 * Tux Paint stamps: `stamps/<category>/…/<name>.png|.svg` with `<name>.txt`, whose first line is the
 * English description (the other lines are `<locale>.utf8=<translation>`). A stamp without a
 * description, or whose description repeats an earlier stamp's, is left out (a repeated caption
 * would be a false negative in retrieval).
 */
export function collectTuxPaint(root: string): Picture[] {
  const base = join(root, 'usr', 'share', 'tuxpaint', 'stamps');
  const files = walk(base).filter((f) => /\.(png|svg)$/i.test(f)).sort();
  const seen = new Set<string>();
  const out: Picture[] = [];
  for (const f of files) {
    const stem = f.slice(0, -extname(f).length);
    // A stamp with both a PNG and an SVG: the SVG is the original drawing; take it once.
    if (extname(f).toLowerCase() === '.png' && existsSync(`${stem}.svg`)) continue;
    const txt = `${stem}.txt`;
    if (!existsSync(txt)) continue;
    const first = readFileSync(txt, 'utf8').split('\n').map((l) => l.trim()).find((l) => l !== '' && !/^[A-Za-z_@]+\.utf8=/.test(l));
    if (!first) continue;
    const caption = oneLine(first);
    const key = caption.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    const rel = relative(base, stem);
    out.push({ id: rel, caption, category: rel.split('/')[0]!, render: () => normalizePicture(f, 224, extname(f) === '.svg' ? 144 : undefined) });
  }
  return out;
}

interface EmojiEntry { name?: string; image?: string; category?: string; has_img_google?: boolean; sort_order?: number }

/** Google (Noto) emoji at 64 px with their Unicode names (lower-cased) and categories. */
export function collectEmoji(root: string): Picture[] {
  const pkg = join(root, 'package');
  const entries = JSON.parse(readFileSync(join(pkg, 'emoji.json'), 'utf8')) as EmojiEntry[];
  const seen = new Set<string>();
  const out: Picture[] = [];
  for (const e of [...entries].sort((a, b) => (a.sort_order ?? 0) - (b.sort_order ?? 0))) {
    if (!e.has_img_google || !e.image || !e.name || !e.category || e.category === 'Component') continue;
    const file = join(pkg, 'img', 'google', '64', e.image);
    if (!existsSync(file)) continue;
    const caption = oneLine(e.name.toLowerCase());
    if (seen.has(caption)) continue;
    seen.add(caption);
    out.push({ id: basename(e.image, '.png'), caption, category: e.category, render: () => normalizePicture(file) });
  }
  return out;
}

const XML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
function xmlText(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|\w+);/gi, (m, e: string) => {
    if (e[0] === '#') return String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : Number(e.slice(1)));
    return XML_ENTITIES[e] ?? m;
  });
}

// Keywords that say nothing about the picture (the clip-art library's own tags).
const STOP_KEYWORDS = new Set(['clip art', 'clipart', 'image', 'media', 'public domain', 'svg', 'png', 'drawing', 'picture', 'unsorted']);

/**
 * Openclipart drawings: `svg/<category>/…/<name>.svg`; the caption is the work's `dc:title` plus
 * up to four of its keywords (`dc:subject`), e.g. "red apple (fruit, food)". Drawings without a
 * usable title, or whose caption repeats an earlier one, are left out.
 */
export function collectOpenClipart(root: string): Picture[] {
  const base = join(root, 'usr', 'share', 'openclipart', 'svg');
  const files = walk(base).filter((f) => f.endsWith('.svg')).sort();
  const seen = new Set<string>();
  const out: Picture[] = [];
  for (const f of files) {
    const svg = readFileSync(f, 'utf8');
    const title = oneLine(xmlText(/<dc:title>([^<]*)<\/dc:title>/.exec(svg)?.[1] ?? ''));
    if (title.length < 3 || /^(untitled|open clip art library)$/i.test(title)) continue;
    const subject = /<dc:subject>([\s\S]*?)<\/dc:subject>/.exec(svg)?.[1] ?? '';
    const keywords = [...subject.matchAll(/<rdf:li>([^<]*)<\/rdf:li>/g)].map((m) => oneLine(xmlText(m[1]!)).toLowerCase())
      .filter((k) => k !== '' && !STOP_KEYWORDS.has(k) && k !== title.toLowerCase());
    const caption = keywords.length > 0 ? `${title} (${[...new Set(keywords)].slice(0, 4).join(', ')})` : title;
    const key = caption.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    const rel = relative(base, f).slice(0, -4);
    out.push({ id: rel, caption, category: rel.split('/')[0]!, render: () => normalizePicture(f, 224, 96) });
  }
  return out;
}

/** Fashion-MNIST class names, in label order (the data set's README). */
export const FASHION_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'] as const;

/** One Fashion-MNIST split: `count` images of 28×28 bytes and their labels. */
export interface FashionSplit { count: number; pixels: Uint8Array; labels: Uint8Array }

function idx(file: string, magic: number): { dims: number[]; data: Uint8Array } {
  const b = gunzipSync(readFileSync(file));
  if (b.readUInt32BE(0) !== magic) throw new Vlm2VecError('open-data', `${file}: not an IDX file with magic ${magic} (got ${b.readUInt32BE(0)})`);
  const nd = magic & 0xff;
  const dims = Array.from({ length: nd }, (_, i) => b.readUInt32BE(4 + 4 * i));
  return { dims, data: new Uint8Array(b.buffer, b.byteOffset + 4 + 4 * nd, dims.reduce((a, d) => a * d, 1)) };
}

/** The `train` (60,000) or `t10k` (10,000) split of the IDX files. */
export function collectFashion(root: string, split: 'train' | 't10k'): FashionSplit {
  const dir = join(root, 'usr', 'share', 'datasets', 'fashion-mnist');
  const images = idx(join(dir, `${split}-images-idx3-ubyte.gz`), 2051);
  const labels = idx(join(dir, `${split}-labels-idx1-ubyte.gz`), 2049);
  if (images.dims[0] !== labels.dims[0] || images.dims[1] !== 28 || images.dims[2] !== 28) {
    throw new Vlm2VecError('open-data', `${dir}: ${split} images ${images.dims.join('×')} do not match labels ${labels.dims.join('×')}`);
  }
  return { count: images.dims[0]!, pixels: images.data, labels: labels.data };
}

/** Image `i` of a Fashion-MNIST split as a grey PNG (28×28, as stored). */
export function fashionPng(s: FashionSplit, i: number): Promise<Buffer> {
  return sharp(Buffer.from(s.pixels.subarray(i * 784, (i + 1) * 784)), { raw: { width: 28, height: 28, channels: 1 } }).toColourspace('b-w').png().toBuffer();
}

/** A PDF page with the headings printed on it. */
export interface DocPage {
  /** `<doc>-p<page>`. */
  id: string;
  doc: string;
  file: string;
  page: number;
  headings: string[];
}

/** PDF documents the pages come from: the R manuals, the gnuplot manual and the refcards. */
export function docFiles(roots: { rdoc: string; gnuplot: string; refcard: string }): { doc: string; file: string }[] {
  const r = join(roots.rdoc, 'usr', 'share', 'R', 'doc', 'manual');
  // fullrefman.pdf repeats refman.pdf plus the recommended packages: only refman is taken.
  const rdocs = ['R-intro', 'R-data', 'R-admin', 'R-exts', 'R-lang', 'R-ints', 'R-FAQ', 'refman'].map((d) => ({ doc: d, file: join(r, `${d}.pdf`) }));
  const refdir = join(roots.refcard, 'usr', 'share', 'doc', 'debian-refcard');
  const refcards = readdirSync(refdir).filter((f) => /^refcard-.*-a4\.pdf\.gz$/.test(f)).sort()
    .map((f) => ({ doc: f.replace(/-a4\.pdf\.gz$/, ''), file: join(refdir, f) }));
  return [...rdocs, { doc: 'gnuplot', file: join(roots.gnuplot, 'usr', 'share', 'doc', 'gnuplot', 'gnuplot.pdf') }, ...refcards];
}

/**
 * The LaTeX Project's own manuals in texlive-latex-base-doc: LaTeX base (`doc/latex/base`) and
 * expl3 (`doc/latex/l3kernel`). The package's copyright file covers many licences, so the
 * per-package list it points to (`Licenses.gz`) must name both folders as LPPL 1.3c; the other
 * PDFs of the package (hyperref, babel, … under their own licences) are not taken.
 */
export function latexDocFiles(root: string): { doc: string; file: string }[] {
  const docdir = join(root, 'usr', 'share', 'doc', 'texlive-latex-base-doc');
  const licenses = gunzipSync(readFileSync(join(docdir, 'Licenses.gz'))).toString('utf8');
  for (const [pkg, folder] of [['latex', 'base'], ['l3kernel', 'l3kernel']] as const) {
    if (!licenses.includes(`\n${pkg}: lppl1.3c\ntexmf-dist/doc/latex/${folder}/*\n`)) {
      throw new Vlm2VecError('open-data', `${join(docdir, 'Licenses.gz')}: expected '${pkg}: lppl1.3c' for texmf-dist/doc/latex/${folder}/*; check the licence before using these PDFs`);
    }
  }
  const tex = join(root, 'usr', 'share', 'doc', 'texlive-doc', 'latex');
  const base = ['usrguide', 'clsguide', 'fntguide', 'cfgguide', 'encguide', 'cyrguide', 'modguide', 'lppl', 'lthooks-doc', 'ltmarks-doc',
    'ltpara-doc', 'ltshipout-doc', 'ltfilehook-doc', 'ltcmdhooks-doc', 'source2e'];
  const l3 = ['interface3', 'expl3', 'l3styleguide', 'l3term-glossary', 'l3syntax-changes', 'l3prefixes'];
  return [...base.map((d) => ({ doc: `latex-${d}`, file: join(tex, 'base', `${d}.pdf`) })), ...l3.map((d) => ({ doc: `latex-${d}`, file: join(tex, 'l3kernel', `${d}.pdf`) }))];
}

/** The bytes of a PDF (refcards ship gzipped). */
export function pdfBytes(file: string): Uint8Array {
  const b = readFileSync(file);
  return new Uint8Array(file.endsWith('.gz') ? gunzipSync(b) : b);
}

type TextItem = { str: string; transform: number[] };

/**
 * Headings of every page of a PDF: runs of text set at least 1.2× the page's body size (the size
 * that covers the most characters), in reading order, 4–80 characters, not a bare number. Pages
 * without one are left out. Headings are the queries of the page-retrieval data.
 */
export async function pageHeadings(doc: string, file: string): Promise<DocPage[]> {
  const pdfjs = await import('pdfjs-dist/legacy/build/pdf.mjs');
  const pdf = await pdfjs.getDocument({ data: pdfBytes(file), verbosity: 0, isEvalSupported: false }).promise;
  const out: DocPage[] = [];
  try {
    for (let p = 1; p <= pdf.numPages; p++) {
      const page = await pdf.getPage(p);
      const items = (await page.getTextContent()).items.filter((i): i is TextItem & typeof i => 'str' in i && i.str.trim() !== '') as TextItem[];
      page.cleanup();
      const size = (i: TextItem): number => Math.round(Math.hypot(i.transform[2]!, i.transform[3]!) * 10) / 10;
      const chars = new Map<number, number>();
      for (const i of items) chars.set(size(i), (chars.get(size(i)) ?? 0) + i.str.length);
      const body = [...chars.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
      if (body === undefined) continue;
      // Consecutive large items on one baseline are one heading ("5.6", "Generalized transpose…").
      const headings: string[] = [];
      let cur = '';
      let lastY = NaN;
      const flush = (): void => {
        const h = oneLine(cur).replace(/^[\d.]+\s+/, '');
        if (h.length >= 4 && h.length <= 80 && !/^[\d\s.,:-]+$/.test(h) && !headings.includes(h)) headings.push(h);
        cur = '';
      };
      for (const i of items) {
        if (size(i) >= 1.2 * body) {
          if (cur !== '' && Math.abs(i.transform[5]! - lastY) > 1) flush();
          cur += `${cur === '' ? '' : ' '}${i.str}`;
          lastY = i.transform[5]!;
        } else if (cur !== '') flush();
      }
      if (cur !== '') flush();
      if (headings.length > 0) out.push({ id: `${doc}-p${p}`, doc, file, page: p, headings });
    }
  } finally {
    await pdf.destroy();
  }
  return out;
}

/** A sample video with a caption written for this data set (by looking at its frames). */
export interface Video { id: string; file: string; caption: string }

/** The five sample videos (Megamind*.avi of opencv-doc is left out: a film excerpt). */
export function collectVideos(roots: { imageio: string; opencv: string }): Video[] {
  const img = join(roots.imageio, 'usr', 'lib', 'python3', 'dist-packages', 'imageio', 'resources', 'images');
  const cv = join(roots.opencv, 'usr', 'share', 'doc', 'opencv-doc', 'examples', 'data');
  const vids: Video[] = [
    { id: 'cockatoo', file: join(img, 'cockatoo.mp4'), caption: 'a white cockatoo looks into the camera indoors' },
    { id: 'realshort', file: join(img, 'realshort.mp4'), caption: 'a handheld shot of a potted tree and papers on a desk by a window' },
    { id: 'newtonscradle', file: join(img, 'newtonscradle.gif'), caption: "a Newton's cradle swinging on top of a book" },
    { id: 'tree', file: join(cv, 'tree.avi'), caption: 'green leaves of a tree moving in the wind, seen past a window frame' },
    { id: 'vtest', file: join(cv, 'vtest.avi'), caption: 'people walking along a path across a campus lawn' },
  ];
  for (const v of vids) {
    if (!existsSync(v.file) || !statSync(v.file).isFile()) throw new Vlm2VecError('open-data', `sample video ${v.file} is missing from its package`);
  }
  return vids;
}
