// A tiny version of every mini-benchmark task, written by the open-data script's own builders
// (scripts/open-data/build.ts) from synthetic pictures, a three-page PDF and the pan.mp4 fixture,
// then loaded and scored by the MMEB harness (`runEval` with benchmark `mini`).
//
// The oracle embedder sees only what the harness gives it (texts, image file names, frame folder
// names) and marks the made-up words in them, so it ranks a query's true target first exactly
// when the written rows point each query at its own target: every hit@1 and nDCG@5 must be 1
// (hand-derived), and with the targets of the t2i task swapped it must not be. tiny-a (the small
// random Qwen2-VL fixture) then scores the same data through LocalEmbedder, which shows that the
// real model path reads every task (scores are random, so only their ranges are checked).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { execFileSync } from 'node:child_process';
import sharp from 'sharp';
import { ffmpegPath } from '../../src/io/media/video.ts';
import { runEval } from '../../src/mmeb/run/eval.ts';
import { getBenchmark } from '../../src/mmeb/tasks/registry.ts';
import { MINI_REPOS } from '../../src/mmeb/tasks/registry-mini.ts';
import { METRIC_KEYS } from '../../src/mmeb/tasks/types.ts';
import type { EmbedItem, Embedder } from '../../src/embed/types.ts';
import { LocalEmbedder } from '../../src/embed/local.ts';
import { configureRuntime } from '../../src/tensor/index.ts';
import { pageHeadings, type Picture } from '../../scripts/open-data/collect.ts';
import {
  clsEvalRows, i2tEvalRows, t2iEvalRows, writeDocPages, writeMiniImageTasks, writePictures, writeVideos,
} from '../../scripts/open-data/build.ts';
import { writeBytes, type EvalImageRow } from '../../scripts/open-data/lib.ts';

configureRuntime({ threads: 1 });
const ROOT = new URL('../..', import.meta.url).pathname;

/** A minimal PDF (correct xref offsets) with the given page content streams, Helvetica as F1. */
function makePdf(contents: string[]): string {
  const objs = ['<< /Type /Catalog /Pages 2 0 R >>', `<< /Type /Pages /Kids [${contents.map((_, i) => `${3 + 2 * i} 0 R`).join(' ')}] /Count ${contents.length} >>`];
  const font = 3 + 2 * contents.length;
  for (const [i, c] of contents.entries()) {
    objs.push(`<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 300] /Contents ${4 + 2 * i} 0 R /Resources << /Font << /F1 ${font} 0 R >> >> >>`);
    objs.push(`<< /Length ${c.length} >>\nstream\n${c}\nendstream`);
  }
  objs.push('<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>');
  let body = '%PDF-1.4\n';
  const offsets: number[] = [];
  objs.forEach((o, i) => { offsets.push(body.length); body += `${i + 1} 0 obj\n${o}\nendobj\n`; });
  const xref = body.length;
  body += `xref\n0 ${objs.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('')}`;
  return `${body}trailer\n<< /Size ${objs.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
}

// A heading at 20 pt, then body lines at 10 pt (more characters, so 10 pt is the body size).
const page = (heading: string): string =>
  `BT /F1 20 Tf 20 260 Td (${heading}) Tj ET BT /F1 10 Tf 20 230 Td (Body text of this page, long enough to be the body size.) Tj ET ` +
  'BT /F1 10 Tf 20 215 Td (A second line of body text on the same page.) Tj ET BT /F1 10 Tf 280 20 Td (7) Tj ET';

const solid = (r: number, g: number, b: number) => (): Promise<Buffer> =>
  sharp({ create: { width: 40, height: 30, channels: 4, background: { r, g, b, alpha: 0.5 } } }).png().toBuffer();

const emoji: Picture[] = ['zemoa', 'zemob', 'zemoc'].map((id, i) => ({ id, caption: `${id} face`, category: 'Smileys', render: solid(i * 80, 200, 0) }));
const clipart: Picture[] = ['zclipa', 'zclipb'].map((id, i) => ({ id, caption: `${id} (tool, metal)`, category: 'tools', render: solid(0, i * 100, 200) }));
const FASHION = Array.from({ length: 10 }, (_, i) => `zcls${i}`);
const VIDEOS = [{ id: 'zvida', caption: 'a camera pans across zvida' }, { id: 'zvidb', caption: 'zvidb seen from the left' }];
const HEADINGS = ['Zdoca setup', 'Zdocb options', 'Zdocc plots'];
// Every made-up word; the oracle's vector has one dimension per word (+1 so no vector is zero).
const VOCAB = [...new Set([...emoji, ...clipart].flatMap((p) => p.id.split('-'))), ...FASHION, ...VIDEOS.map((v) => v.id), 'zdoca', 'zdocb', 'zdocc'];
const EXPECTED: Record<string, number> = {
  'Mini-FashionMNIST': 3, 'Mini-Emoji_t2i': 3, 'Mini-Emoji_i2t': 3,
  'Mini-OpenClipart_t2i': 2, 'Mini-DocPages': 3, 'Mini-Video_t2v': 2,
};

let data: string;
let work: string;
/** Page file name (`<corpus-id>.png`) → its headings, from the pages.json the builder writes. */
let pageWords: Map<string, string>;
let headings: string[][];

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'v2v-mini-'));
  data = join(work, 'data');
  const warn = (m: string): never => { throw new Error(m); };
  // Held-out fraction 1: every item goes to the benchmark.
  const emo = await writePictures(data, 'Emoji', emoji, 1, warn);
  const clip = await writePictures(data, 'OpenClipart', clipart, 1, warn);
  const fashion: { path: string; label: string }[] = [];
  for (const label of [0, 3, 9]) {
    const rel = join('mini', 'FashionMNIST', `zcls${label}-x.png`);
    writeBytes(join(data, 'image-tasks', rel), await solid(label * 20, 0, 0)());
    fashion.push({ path: rel, label: FASHION[label]! });
  }
  const tasks: Record<string, EvalImageRow[]> = {
    'Mini-FashionMNIST': clsEvalRows(fashion, FASHION),
    'Mini-Emoji_t2i': t2iEvalRows(emo.heldOut),
    'Mini-Emoji_i2t': i2tEvalRows(emo.heldOut),
    'Mini-OpenClipart_t2i': t2iEvalRows(clip.heldOut),
  };
  writeMiniImageTasks(data, tasks);

  const pdf = join(work, 'doc.pdf');
  writeFileSync(pdf, makePdf([page(HEADINGS[0]!), page(`2.1 ${HEADINGS[1]!}`), page(HEADINGS[2]!)]));
  const pages = await pageHeadings('doc', pdf);
  headings = pages.map((p) => p.headings);
  await writeDocPages(data, pages, 1, warn);
  const listed = JSON.parse(readFileSync(join(data, ...MINI_REPOS.docpages.split('/'), 'pages.json'), 'utf8')) as { 'corpus-id': number; headings: string[] }[];
  pageWords = new Map(listed.map((p) => [`${p['corpus-id']}.png`, p.headings.join(' ')]));

  const task = getBenchmark('mini').tasks.find((t) => t.name === 'Mini-Video_t2v')!;
  // Two different videos (the harness embeds equal frames once): pan.mp4 and its mirror image.
  const pan = join(ROOT, 'test', 'fixtures', 'io', 'video', 'pan.mp4');
  const mirrored = join(work, 'mirrored.mp4');
  execFileSync(ffmpegPath(), ['-v', 'error', '-i', pan, '-vf', 'hflip', mirrored]);
  await writeVideos(data, [{ ...VIDEOS[0]!, file: pan }, { ...VIDEOS[1]!, file: mirrored }], task.mediaRoot);
});
after(() => rmSync(work, { recursive: true, force: true }));

/** Marks the made-up words in an item's text, image file names and frame folder name. */
const oracle = (swap?: [string, string]): Embedder => ({
  id: `oracle${swap ? `-${swap.join('-')}` : ''}`,
  embed: async (items: readonly EmbedItem[]) => items.map((it) => {
    const names = [...(it.images ?? []), ...(it.video ?? []).slice(0, 1).map((f) => dirname(String(f)))].map((p) => basename(String(p)));
    let hay = `${it.text} ${names.join(' ')} ${names.map((n) => pageWords.get(n) ?? '').join(' ')}`.toLowerCase();
    // The swap changes what the texts say (captions, headings), never the pictures.
    if (swap && !it.images?.length && !it.video?.length) hay = hay.replaceAll(swap[0], '\u0000').replaceAll(swap[1], swap[0]).replaceAll('\u0000', swap[1]);
    const v = new Float32Array(VOCAB.length + 1);
    VOCAB.forEach((w, i) => { if (hay.includes(w)) v[i] = 1; });
    v[VOCAB.length] = 0.01;
    return v;
  }),
});

function scores(out: string, task: string): Record<string, number> {
  const t = getBenchmark('mini').tasks.find((x) => x.name === task)!;
  return JSON.parse(readFileSync(join(out, t.modality, `${task}_score.json`), 'utf8')) as Record<string, number>;
}

test('the PDF headings are found (the numbering stripped), one page each', () => {
  assert.deepEqual(headings, HEADINGS.map((h) => [h]));
});

test('every mini task loads from the written files and an oracle ranks each query\'s own target first', async () => {
  const out = join(work, 'oracle');
  const r = await runEval({ embedder: oracle(), benchmark: 'mini', dataDir: data, outDir: out, cacheDir: null, onWarning: () => {} });
  assert.deepEqual(r.tasks.map((t) => [t.task.name, t.status, t.error]), Object.keys(EXPECTED).map((n) => [n, 'done', undefined]));
  for (const [task, n] of Object.entries(EXPECTED)) {
    const s = scores(out, task);
    assert.equal(s['num_data'], n, `${task} queries`);
    assert.equal(s[task === 'Mini-DocPages' ? 'ndcg_linear@5' : 'hit@1'], 1, `${task}: ${JSON.stringify(s)}`);
  }
  assert.equal(r.summary.benchmark, 'mini');
  assert.equal(r.summary.scores.all, 100);
  assert.deepEqual(Object.keys(r.summary.partial), []);
});

test('with two pictures\' words swapped the oracle misses exactly those queries (labels are per query)', async () => {
  const out = join(work, 'swapped');
  await runEval({ embedder: oracle(['zemoa', 'zemob']), benchmark: 'mini', tasks: ['Mini-Emoji_t2i', 'Mini-Emoji_i2t', 'Mini-OpenClipart_t2i'], dataDir: data, outDir: out, cacheDir: null, onWarning: () => {} });
  // The names of zemoa and zemob now point at each other's picture: 2 of 3 wrong, both ways.
  assert.equal(scores(out, 'Mini-Emoji_t2i')['hit@1'], 1 / 3);
  assert.equal(scores(out, 'Mini-Emoji_i2t')['hit@1'], 1 / 3);
  // Another task's rows do not change.
  assert.equal(scores(out, 'Mini-OpenClipart_t2i')['hit@1'], 1);
});

test('tiny-a scores every mini task through LocalEmbedder', async () => {
  const embedder = await LocalEmbedder.load(join(ROOT, 'test', 'fixtures', 'model', 'tiny-a'), { batchSize: 4 });
  const out = join(work, 'tiny-a');
  const r = await runEval({ embedder, benchmark: 'mini', dataDir: data, outDir: out, cacheDir: null, batchSize: 4, concurrency: 1, onWarning: () => {} });
  assert.deepEqual(r.tasks.map((t) => t.status), Object.keys(EXPECTED).map(() => 'done'));
  for (const [task, n] of Object.entries(EXPECTED)) {
    const s = scores(out, task);
    assert.equal(s['num_data'], n, task);
    assert.equal(s['num_pred'], n, task);
    for (const k of METRIC_KEYS) assert.ok(s[k]! >= 0 && s[k]! <= 1, `${task} ${k} = ${s[k]}`);
  }
  for (const g of ['all', 'image', 'video', 'visdoc', 'image/CLS', 'image/RET', 'video/RET', 'visdoc/VDRv1'] as const) {
    assert.ok(Number.isFinite(r.summary.scores[g]), g);
  }
});
