// PDF pages → RGB images, so users can embed their own visual documents (MMEB-V2's visdoc tasks
// embed page images). Rendering uses pdf.js (Apache-2.0) on @napi-rs/canvas (a prebuilt Skia
// canvas): no system libraries, no AGPL code. Pages are painted over opaque white, like paper and
// like pdftoppm / pdf2image, then alpha is dropped.

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Vlm2VecError } from '../../errors.ts';
import type { RgbImage } from './image-types.ts';

type NapiCanvasModule = typeof import('@napi-rs/canvas');

/** Options of {@link renderPdfPages}. */
export interface RenderPdfOptions {
  /** Resolution in dots per inch; a PDF point is 1/72 inch (default 144). */
  dpi?: number;
  /** 1-based page numbers to render, in the order wanted (default: every page). */
  pages?: readonly number[];
  /** When set, each page is also written as `<outDir>/page-<n>.png`. */
  outDir?: string;
}

/** One rendered page. */
export interface RenderedPage {
  /** 1-based page number in the document. */
  page: number;
  image: RgbImage;
  /** Path of the PNG written when `outDir` was given. */
  pngPath?: string;
}

type PdfJs = typeof import('pdfjs-dist/legacy/build/pdf.mjs');
let pdfjsPromise: Promise<PdfJs> | undefined;

function loadPdfJs(): Promise<PdfJs> {
  // Imported lazily: pdf.js is large and only document users need it.
  pdfjsPromise ??= import('pdfjs-dist/legacy/build/pdf.mjs');
  return pdfjsPromise;
}

/**
 * Renders PDF pages to RGB images at `dpi` (page size in points × dpi / 72, rounded).
 *
 * @example
 * const pages = await renderPdfPages('paper.pdf', { dpi: 144, pages: [1, 2], outDir: 'pages' });
 * console.log(pages[0].image.width, pages[0].pngPath); // 1224 'pages/page-1.png'
 */
export async function renderPdfPages(src: string | Uint8Array, opts: RenderPdfOptions = {}): Promise<RenderedPage[]> {
  const label = typeof src === 'string' ? src : '<pdf bytes>';
  const dpi = opts.dpi ?? 144;
  if (!(dpi > 0 && dpi <= 2400)) throw new Vlm2VecError('pdf', `${label}: dpi must be in (0, 2400], got ${dpi}`);
  let data: Uint8Array;
  try {
    // pdf.js transfers (detaches) the buffer it is given, so it always gets a private copy.
    data = typeof src === 'string' ? new Uint8Array(await readFile(src)) : src.slice();
  } catch (err) {
    throw new Vlm2VecError('pdf', `cannot read PDF file '${label}': ${(err as Error).message}`, { cause: err });
  }
  const pdfjs = await loadPdfJs();
  const req = createRequire(import.meta.url);
  const pdfjsPkg = req.resolve('pdfjs-dist/package.json');
  const fontDir = join(dirname(pdfjsPkg), 'standard_fonts') + '/';
  // The canvas must come from the same @napi-rs/canvas copy pdf.js loads (it may nest its own
  // version): pdf.js installs that copy's Path2D globally, and Skia rejects foreign Path2D objects.
  const { createCanvas } = createRequire(pdfjsPkg)('@napi-rs/canvas') as NapiCanvasModule;
  let doc;
  try {
    doc = await pdfjs.getDocument({ data, standardFontDataUrl: fontDir, isEvalSupported: false, verbosity: 0 }).promise;
  } catch (err) {
    throw new Vlm2VecError('pdf', `${label}: not a readable PDF: ${(err as Error).message}`, { cause: err });
  }
  try {
    const pages = opts.pages ?? Array.from({ length: doc.numPages }, (_, i) => i + 1);
    for (const p of pages) {
      if (!Number.isInteger(p) || p < 1 || p > doc.numPages) {
        throw new Vlm2VecError('pdf', `${label}: page ${p} does not exist (document has ${doc.numPages} pages)`);
      }
    }
    if (opts.outDir) await mkdir(opts.outDir, { recursive: true });
    const out: RenderedPage[] = [];
    for (const p of pages) {
      const page = await doc.getPage(p);
      const viewport = page.getViewport({ scale: dpi / 72 });
      const width = Math.max(1, Math.round(viewport.width));
      const height = Math.max(1, Math.round(viewport.height));
      const canvas = createCanvas(width, height);
      const ctx = canvas.getContext('2d');
      ctx.fillStyle = '#ffffff';
      ctx.fillRect(0, 0, width, height);
      // pdf.js types its canvas as a DOM HTMLCanvasElement; @napi-rs/canvas implements the same 2D API.
      await page.render({ canvas: canvas as unknown as Parameters<typeof page.render>[0]['canvas'], viewport }).promise;
      const rgba = ctx.getImageData(0, 0, width, height).data; // [height, width, 4]
      const rgb = new Uint8Array(width * height * 3);
      for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) {
        rgb[i] = rgba[j]!;
        rgb[i + 1] = rgba[j + 1]!;
        rgb[i + 2] = rgba[j + 2]!;
      }
      const rendered: RenderedPage = { page: p, image: { width, height, data: rgb } };
      if (opts.outDir) {
        const pngPath = join(opts.outDir, `page-${p}.png`);
        await writeFile(pngPath, await canvas.encode('png'));
        rendered.pngPath = pngPath;
      }
      out.push(rendered);
      page.cleanup();
    }
    return out;
  } finally {
    await doc.destroy();
  }
}
