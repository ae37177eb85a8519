// vlm2vec index / search on the tiny Qwen2-VL model: what is stored (rows per image, PDF page,
// video, text file, with the vectors LocalEmbedder gives for the same prompts), incremental
// reruns, a SIGKILL mid-run, refusal of another model or instruction, and search results equal
// to brute-force cosine over the stored vectors.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalEmbedder } from '../embed/local.ts';
import { formatInput } from '../embed/prompt.ts';
import { sampleFramePaths } from '../io/media/frames.ts';
import { renderPdfPages } from '../io/media/pdf.ts';
import { extractVideoFrames } from '../io/media/video.ts';
import { FIXTURES, TOKENIZER_DIR } from '../models/qwen2-vl/fixtures.test-helper.ts';
import { configureRuntime } from '../tensor/index.ts';
import { indexFolder } from './folder-index.ts';
import { DEFAULT_CANDIDATE_INSTRUCTIONS, DEFAULT_QUERY_INSTRUCTIONS, type ItemKind } from './instructions.ts';
import { openIndex } from './store.ts';
import { searchIndex } from './search.ts';

configureRuntime({ threads: 1 });

const ROOT = join(import.meta.dirname, '..', '..');
const MODEL = join(FIXTURES, 'tiny-a');
const embedder = LocalEmbedder.load(MODEL, { tokenizerDir: TOKENIZER_DIR, batchSize: 4 });

/** A minimal valid PDF (correct xref offsets) with one page per content stream. */
function makePdf(pages: { w: number; h: number; content: string }[]): Uint8Array {
  const objs: string[] = ['<< /Type /Catalog /Pages 2 0 R >>', `<< /Type /Pages /Kids [${pages.map((_, i) => `${3 + i * 2} 0 R`).join(' ')}] /Count ${pages.length} >>`];
  pages.forEach((p) => {
    objs.push(`<< /Type /Page /Parent 2 0 R /MediaBox [0 0 ${p.w} ${p.h}] /Contents ${objs.length + 2} 0 R >>`);
    objs.push(`<< /Length ${p.content.length} >>\nstream\n${p.content}\nendstream`);
  });
  let body = '%PDF-1.4\n';
  const offsets: number[] = [];
  objs.forEach((o, i) => {
    offsets.push(body.length);
    body += `${i + 1} 0 obj\n${o}\nendobj\n`;
  });
  const xref = body.length;
  body += `xref\n0 ${objs.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('')}`;
  body += `trailer\n<< /Size ${objs.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return new TextEncoder().encode(body);
}

async function makeFolder(): Promise<{ dir: string; input: string; db: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'vlm2vec-index-test-'));
  const input = join(dir, 'in');
  await mkdir(join(input, 'docs'), { recursive: true });
  await mkdir(join(input, 'clips'), { recursive: true });
  await mkdir(join(input, '.hidden'), { recursive: true });
  await copyFile(join(FIXTURES, 'images', 'a.png'), join(input, 'a.png'));
  await copyFile(join(FIXTURES, 'images', 'b.png'), join(input, 'b.png'));
  await copyFile(join(FIXTURES, 'images', 'tiny.png'), join(input, '.hidden', 'skipped.png'));
  await writeFile(join(input, 'docs', 'two.pdf'), makePdf([
    { w: 100, h: 60, content: '1 0 0 rg 10 10 40 30 re f' },
    { w: 60, h: 100, content: '0 0 1 rg 0 50 60 50 re f' },
  ]));
  await copyFile(join(ROOT, 'test', 'fixtures', 'io', 'video', 'pan.mp4'), join(input, 'clips', 'pan.mp4'));
  await writeFile(join(input, 'notes.md'), '# Notes\nA red square on white paper.\n');
  await writeFile(join(input, 'ignored.json'), '{}');
  return { dir, input, db: join(dir, 'db') };
}

interface Row { id: string; path: string; page: number; kind: string; hash: string; mtime: number; instruction: string; vector: Float32Array }

async function rows(db: string): Promise<Map<string, Row>> {
  const ix = await openIndex(db);
  const out = new Map<string, Row>();
  for (const r of await ix.items!.query().toArray()) {
    const v = Float32Array.from(r.vector as Iterable<number>);
    out.set(r.id as string, { ...(r as Row), vector: v });
  }
  return out;
}

const cos = (a: Float32Array, b: Float32Array): number => {
  let d = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    d += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return d / Math.sqrt(na * nb);
};

test('index: one row per image, PDF page, video and text file, with the embeddings LocalEmbedder gives for the same prompts', async () => {
  const emb = await embedder;
  const { dir, input, db } = await makeFolder();
  try {
    const r = await indexFolder({ input, db, embedder: emb, modelSpec: MODEL });
    assert.equal(r.files, 5);
    assert.equal(r.embeddedFiles, 5);
    assert.equal(r.rows, 6);
    assert.equal(r.vectorIndex, false);
    const got = await rows(db);
    assert.deepEqual([...got.keys()].sort(), ['a.png', 'b.png', 'clips/pan.mp4', 'docs/two.pdf#1', 'docs/two.pdf#2', 'notes.md']);
    assert.deepEqual([...got.values()].map((x) => `${x.id}:${x.kind}:${x.page}`).sort(),
      ['a.png:image:0', 'b.png:image:0', 'clips/pan.mp4:video:0', 'docs/two.pdf#1:page:1', 'docs/two.pdf#2:page:2', 'notes.md:text:0']);
    assert.equal(got.get('docs/two.pdf#2')!.instruction, DEFAULT_CANDIDATE_INSTRUCTIONS.page);
    assert.equal(got.get('a.png')!.mtime, Math.floor((await stat(join(input, 'a.png'))).mtimeMs));

    // The same items built here from the pieces: pages rendered at 144 dpi, frames sampled (8).
    const pages = await renderPdfPages(join(input, 'docs', 'two.pdf'), { dpi: 144, outDir: join(dir, 'pages') });
    await extractVideoFrames(join(input, 'clips', 'pan.mp4'), join(dir, 'frames'));
    const frames = await sampleFramePaths(join(dir, 'frames'), 8);
    const I = DEFAULT_CANDIDATE_INSTRUCTIONS;
    const want = await emb.embed([
      formatInput({ instruction: I.image, images: [join(input, 'a.png')] }),
      formatInput({ instruction: I.page, images: [pages[0]!.pngPath!] }),
      formatInput({ instruction: I.page, images: [pages[1]!.pngPath!] }),
      formatInput({ instruction: I.video, video: frames }),
      formatInput({ text: '# Notes\nA red square on white paper.\n' }),
    ]);
    const ids = ['a.png', 'docs/two.pdf#1', 'docs/two.pdf#2', 'clips/pan.mp4', 'notes.md'];
    ids.forEach((id, i) => assert.ok(cos(got.get(id)!.vector, want[i]!) > 0.99999, `${id}: cos ${cos(got.get(id)!.vector, want[i]!)}`));
    // The two pages differ (each page is its own item).
    assert.ok(cos(got.get('docs/two.pdf#1')!.vector, got.get('docs/two.pdf#2')!.vector) < 0.9999);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('index reruns: unchanged files are not embedded, touched ones are rehashed, changed re-embedded, new added, deleted dropped', async () => {
  const emb = await embedder;
  const { dir, input, db } = await makeFolder();
  try {
    await indexFolder({ input, db, embedder: emb, modelSpec: MODEL });
    const before = await rows(db);
    const again = await indexFolder({ input, db, embedder: emb, modelSpec: MODEL });
    assert.deepEqual([again.embeddedFiles, again.unchangedFiles, again.deletedFiles, again.rows], [0, 5, 0, 6]);

    // Same bytes, new mtime: not embedded, mtime recorded.
    const t = new Date('2030-01-01T00:00:00Z');
    await utimes(join(input, 'a.png'), t, t);
    // New content: re-embedded. New file: added. Deleted file: dropped.
    await writeFile(join(input, 'notes.md'), 'A blue circle.\n');
    await copyFile(join(FIXTURES, 'images', 'tiny.png'), join(input, 'c.png'));
    await unlink(join(input, 'b.png'));
    const r = await indexFolder({ input, db, embedder: emb, modelSpec: MODEL });
    assert.deepEqual([r.embeddedFiles, r.unchangedFiles, r.deletedFiles, r.rows], [2, 3, 1, 6]);
    const after = await rows(db);
    assert.deepEqual([...after.keys()].sort(), ['a.png', 'c.png', 'clips/pan.mp4', 'docs/two.pdf#1', 'docs/two.pdf#2', 'notes.md']);
    assert.equal(after.get('a.png')!.mtime, t.getTime());
    assert.deepEqual(after.get('a.png')!.vector, before.get('a.png')!.vector);
    assert.notEqual(after.get('notes.md')!.hash, before.get('notes.md')!.hash);
    const [blue] = await emb.embed([formatInput({ text: 'A blue circle.\n' })]);
    assert.ok(cos(after.get('notes.md')!.vector, blue!) > 0.99999);
    // Only one version of the changed file is kept.
    assert.equal((await (await openIndex(db)).items!.countRows("path = 'notes.md'")), 1);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('index refuses a database made with another model or instruction, naming what differs', async () => {
  const emb = await embedder;
  const { dir, input, db } = await makeFolder();
  try {
    await indexFolder({ input, db, embedder: emb, modelSpec: MODEL });
    const other = LocalEmbedder.fromEncoder('some-other-model', emb.encoder, { batchSize: 4 });
    await assert.rejects(indexFolder({ input, db, embedder: other, modelSpec: 'x' }), /made with model qwen2_vl:local:.*tiny-a.* \(now some-other-model\)/);
    await assert.rejects(indexFolder({ input, db, embedder: emb, modelSpec: MODEL, instructions: { image: 'Describe the image.' } }),
      /made with image instruction "Represent the given image\." \(now "Describe the image\."\)/);
    await assert.rejects(searchIndex({ db, embedder: other, text: 'red' }), /made with model .* but the query embedder is some-other-model/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** Brute-force ranking over the stored vectors, with the query embedded per kind as VLM2Vec does. */
async function bruteForce(db: string, emb: LocalEmbedder, query: { text?: string; image?: string }, k: number): Promise<{ id: string; score: number }[]> {
  const stored = [...(await rows(db)).values()];
  const kinds = [...new Set(stored.map((r) => r.kind as ItemKind))];
  const mode = query.text !== undefined ? 'text' : 'image';
  const qs = await emb.embed(kinds.map((kind) => formatInput(mode === 'text'
    ? { instruction: DEFAULT_QUERY_INSTRUCTIONS.text[kind], text: query.text! }
    : { instruction: DEFAULT_QUERY_INSTRUCTIONS.image[kind], images: [query.image!] })));
  return stored.map((r) => ({ id: r.page > 0 ? `${r.path}#${r.page}` : r.path, score: cos(qs[kinds.indexOf(r.kind as ItemKind)]!, r.vector) }))
    .sort((a, b) => b.score - a.score).slice(0, k);
}

test('search: text and image queries return the brute-force cosine ranking of the stored vectors', async () => {
  const emb = await embedder;
  const { dir, input, db } = await makeFolder();
  try {
    await indexFolder({ input, db, embedder: emb, modelSpec: MODEL });
    for (const [query, k] of [[{ text: 'a red square' }, 6], [{ text: 'a video panning' }, 3], [{ image: join(input, 'b.png') }, 4]] as const) {
      const hits = await searchIndex({ db, embedder: emb, ...query, topK: k });
      const want = await bruteForce(db, emb, query, k);
      assert.equal(hits.length, k);
      assert.deepEqual(hits.map((h) => (h.page > 0 ? `${h.path}#${h.page}` : h.path)), want.map((w) => w.id), JSON.stringify(query));
      hits.forEach((h, i) => assert.ok(Math.abs(h.score - want[i]!.score) < 1e-5, `${JSON.stringify(query)} #${i}: ${h.score} vs ${want[i]!.score}`));
    }
    // Image → image: the image finds itself first (same prompt on both sides).
    const self = await searchIndex({ db, embedder: emb, image: join(input, 'b.png'), topK: 1, kinds: ['image'] });
    assert.equal(self[0]!.path, 'b.png');
    assert.ok(self[0]!.score > 0.99999);
    const pagesOnly = await searchIndex({ db, embedder: emb, text: 'blue', kinds: ['page'] });
    assert.deepEqual(pagesOnly.map((h) => h.page).sort(), [1, 2]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a SIGKILL mid-run loses no stored row; the rerun completes to what an uninterrupted run stores', async () => {
  const emb = await embedder;
  const { dir, input, db } = await makeFolder();
  try {
    // 24 more images (distinct bytes: a trailing byte after PNG's IEND is ignored by decoders).
    const png = await import('node:fs/promises').then((f) => f.readFile(join(FIXTURES, 'images', 'tiny.png')));
    for (let i = 0; i < 24; i++) await writeFile(join(input, `img${String(i).padStart(2, '0')}.png`), Buffer.concat([png, Buffer.from([i])]));
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'vlm2vec.js'), 'index', '-m', MODEL, '--tokenizer', TOKENIZER_DIR,
      '--input', input, '--db', db, '--batch-size', '1', '--write-batch', '1', '--threads', '1'], { stdio: 'ignore' });
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    // Kill once some rows are stored, well before the 30 rows are all there.
    let stored = 0;
    for (let t = 0; t < 600 && stored < 3; t++) {
      await new Promise((r) => setTimeout(r, 100));
      const ix = await openIndex(db).catch(() => undefined);
      stored = ix?.items ? await ix.items.countRows() : 0;
    }
    child.kill('SIGKILL');
    assert.equal(await exited, null, 'the child was killed, not finished');
    const kept = await rows(db);
    assert.ok(kept.size >= 3 && kept.size < 30, `rows after the kill: ${kept.size}`);

    const r = await indexFolder({ input, db, embedder: emb, modelSpec: MODEL, modelOptions: { tokenizer: TOKENIZER_DIR } });
    assert.equal(r.rows, 30);
    assert.equal(r.unchangedFiles, [...new Set([...kept.values()].map((x) => x.path))].length);
    const full = await rows(db);
    // Rows written before the kill are still there, unchanged.
    for (const [id, row] of kept) assert.deepEqual(full.get(id)!.vector, row.vector, id);
    const ref = join(dir, 'ref');
    await indexFolder({ input, db: ref, embedder: emb, modelSpec: MODEL });
    const want = await rows(ref);
    assert.deepEqual([...full.keys()].sort(), [...want.keys()].sort());
    for (const [id, row] of want) {
      assert.equal(full.get(id)!.hash, row.hash, id);
      assert.ok(cos(full.get(id)!.vector, row.vector) > 0.99999, id);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('an unreadable file is reported and not stored (the others are), and a rerun retries it; an aborted run keeps its writes', async () => {
  const emb = await embedder;
  const { dir, input, db } = await makeFolder();
  try {
    await writeFile(join(input, 'broken.png'), 'not a png');
    const errors: string[] = [];
    const r = await indexFolder({ input, db, embedder: emb, modelSpec: MODEL, onFileError: (p, m) => errors.push(`${p}: ${m}`) });
    assert.deepEqual([r.embeddedFiles, r.failedFiles, r.rows], [5, 1, 6]);
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, /^broken\.png: /);
    await copyFile(join(FIXTURES, 'images', 'tiny.png'), join(input, 'broken.png'));
    const again = await indexFolder({ input, db, embedder: emb, modelSpec: MODEL });
    assert.deepEqual([again.embeddedFiles, again.failedFiles, again.rows], [1, 0, 7]);

    // Abort after the first chunk: what was embedded is written, the rest waits for the rerun.
    const db2 = join(dir, 'db2');
    const ctl = new AbortController();
    const small = LocalEmbedder.fromEncoder(emb.id, emb.encoder, { batchSize: 1 }); // chunks of 2 items
    const part = await indexFolder({ input, db: db2, embedder: small, modelSpec: MODEL, signal: ctl.signal, onProgress: (d) => d > 0 && ctl.abort() });
    assert.equal(part.interrupted, true);
    assert.ok(part.rows > 0 && part.rows < 7, `rows ${part.rows}`);
    const rest = await indexFolder({ input, db: db2, embedder: emb, modelSpec: MODEL });
    assert.deepEqual([rest.interrupted, rest.rows, rest.unchangedFiles + rest.embeddedFiles], [false, 7, 6]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
