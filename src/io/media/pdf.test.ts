import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { renderPdfPages } from './pdf.ts';

/** Builds a minimal valid PDF (correct xref offsets) whose pages hold the given content streams. */
function makePdf(pages: { w: number; h: number; content: string }[]): Uint8Array {
  const objs: string[] = [];
  const kids = pages.map((_, i) => `${3 + i * 2} 0 R`).join(' ');
  objs.push('<< /Type /Catalog /Pages 2 0 R >>');
  objs.push(`<< /Type /Pages /Kids [${kids}] /Count ${pages.length} >>`);
  const fontId = 3 + pages.length * 2;
  pages.forEach((p, i) => {
    objs.push(`<< /Type /Page /Parent 2 0 R /MediaBox [0 0 ${p.w} ${p.h}] /Contents ${4 + i * 2} 0 R /Resources << /Font << /F1 ${fontId} 0 R >> >> >>`);
    objs.push(`<< /Length ${p.content.length} >>\nstream\n${p.content}\nendstream`);
  });
  objs.push('<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>');
  let body = '%PDF-1.4\n';
  const offsets: number[] = [];
  objs.forEach((o, i) => {
    offsets.push(body.length);
    body += `${i + 1} 0 obj\n${o}\nendobj\n`;
  });
  const xref = body.length;
  body += `xref\n0 ${objs.length + 1}\n0000000000 65535 f \n`;
  for (const off of offsets) body += `${String(off).padStart(10, '0')} 00000 n \n`;
  body += `trailer\n<< /Size ${objs.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return new TextEncoder().encode(body);
}

const pdf = makePdf([
  // page 1, 200×100 pt: red rectangle x 20..80, y 20..60 (PDF origin bottom-left) and black text
  { w: 200, h: 100, content: '1 0 0 rg 20 20 60 40 re f BT /F1 24 Tf 0 0 0 rg 110 70 Td (Hi) Tj ET' },
  // page 2, 72×144 pt: blue rectangle covering the top half
  { w: 72, h: 144, content: '0 0 1 rg 0 72 72 72 re f' },
]);

function px(img: { width: number; data: Uint8Array }, x: number, y: number): number[] {
  const o = (y * img.width + x) * 3;
  return [img.data[o]!, img.data[o + 1]!, img.data[o + 2]!];
}

test('renders every page at the DPI with content where it was drawn', async () => {
  const pages = await renderPdfPages(pdf, { dpi: 144 }); // scale 2
  assert.equal(pages.length, 2);
  const [p1, p2] = [pages[0]!.image, pages[1]!.image];
  assert.deepEqual([p1.width, p1.height], [400, 200]);
  assert.deepEqual([p2.width, p2.height], [144, 288]);
  // red rect → pixel rows (100-60)·2 = 80 .. (100-20)·2 = 160, columns 40 .. 160
  assert.deepEqual(px(p1, 100, 120), [255, 0, 0]);
  assert.deepEqual(px(p1, 30, 120), [255, 255, 255]); // left of the rectangle
  assert.deepEqual(px(p1, 100, 60), [255, 255, 255]); // above it
  assert.deepEqual(px(p1, 100, 170), [255, 255, 255]); // below it
  // text "Hi" at baseline y=70pt, x=110pt → rows ≈ 2·(100-70-17)=26 .. 60, cols 220 .. ~280: some dark pixels
  let dark = 0;
  for (let y = 20; y < 62; y++) for (let x = 215; x < 300; x++) if (px(p1, x, y)[0]! < 100) dark++;
  assert.ok(dark > 100, `text pixels found: ${dark}`);
  assert.deepEqual(px(p2, 72, 50), [0, 0, 255]); // top half blue
  assert.deepEqual(px(p2, 72, 250), [255, 255, 255]); // bottom half white
});

test('page selection, DPI scaling, PNG output and clear errors', async () => {
  const out = await mkdtemp(join(tmpdir(), 'vlm2vec-pdf-'));
  try {
    const [only] = await renderPdfPages(pdf, { dpi: 36, pages: [2], outDir: out });
    assert.equal(only!.page, 2);
    assert.deepEqual([only!.image.width, only!.image.height], [36, 72]);
    const meta = await sharp(only!.pngPath!).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['png', 36, 72]);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
  await assert.rejects(renderPdfPages(pdf, { pages: [3] }), /\[pdf\] <pdf bytes>: page 3 does not exist \(document has 2 pages\)/);
  await assert.rejects(renderPdfPages(new TextEncoder().encode('not a pdf')), /\[pdf\] <pdf bytes>: not a readable PDF/);
  await assert.rejects(renderPdfPages('/nonexistent.pdf'), /\[pdf\] cannot read PDF file '\/nonexistent.pdf'/);
  await assert.rejects(renderPdfPages(pdf, { dpi: 0 }), /dpi must be in/);
});
