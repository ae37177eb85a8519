import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import type { EmbedContext, FileEmbedItem, Embedder } from '../../embed/types.ts';
import { FileHasher } from '../../embed/hash.ts';
import { getTask } from '../tasks/registry.ts';
import { runEval } from '../run/eval.ts';
import { ImageResizer, RESOLUTION_SIDE, isImageResolution, resizesMedia } from './resize.ts';
import { Vlm2VecError } from '../../errors.ts';
import type { ParserKind } from '../tasks/types.ts';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const FIX = join(ROOT, 'test', 'fixtures', 'mmeb');
let work: string;
let data: string;
before(() => {
  work = mkdtempSync(join(tmpdir(), 'v2v-resize-'));
  data = join(work, 'data');
  // The visdoc loaders write page images into the data folder: work on a copy.
  cpSync(join(FIX, 'data'), data, { recursive: true });
});
after(() => rmSync(work, { recursive: true, force: true }));

test('RESOLUTION_MAPPING of the reference (base_eval_dataset.py): high 1344, mid 672, low 128', () => {
  assert.deepEqual(RESOLUTION_SIDE, { high: 1344, mid: 672, low: 128 });
  assert.ok(isImageResolution('high') && isImageResolution('low') && !isImageResolution('other') && !isImageResolution(undefined));
});

test('which parser kinds the reference resizes: all but the five video-QA parsers (resolutions [None] * n)', () => {
  // Hand-written from the reference loaders (docs/mmeb.md §4, "Which media carry a resolution").
  const expected: Record<ParserKind, boolean> = {
    image_cls: true, image_qa: true, image_i2t: true, image_t2i: true, image_i2i_vg: true,
    video_classification: true, ssv2: true,
    msrvtt: true, msvd: true, didemo: true, youcook2: true, vatex: true,
    moment_retrieval: true, momentseeker: true,
    videomme: false, nextqa: false, egoschema: false, mvbench: false, activitynetqa: false,
    vidore: true, visrag: true,
  };
  for (const [kind, want] of Object.entries(expected)) assert.equal(resizesMedia(kind as ParserKind), want, kind);
});

interface Golden { file: string; mode: string; resolution: 'high' | 'mid' | 'low'; size: [number, number]; sha256_rgb: string; sha256_rgb_convert_first: string }
const goldens = JSON.parse(readFileSync(join(FIX, 'resize.json'), 'utf8')) as Golden[];

async function rgbSha(path: string): Promise<{ sha: string; width: number; height: number }> {
  const { data: px, info } = await sharp(path).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.channels, 3);
  return { sha: createHash('sha256').update(px).digest('hex'), width: info.width, height: info.height };
}

test('resized pixels equal Pillow\'s Image.open(p).resize((s, s)) (tools/reference/mmeb_fixtures.py goldens)', async () => {
  assert.equal(goldens.length, 3);
  const dir = join(work, 'golden-out');
  for (const g of goldens) {
    const resizer = new ImageResizer(g.resolution, dir, new FileHasher());
    const src = join(FIX, 'resize', g.file);
    const out = await resizer.resizeFile(src, 'golden');
    assert.notEqual(out, src);
    assert.ok(out.startsWith(dir + sep), out);
    const got = await rgbSha(out);
    assert.deepEqual([got.width, got.height], g.size, g.file);
    assert.equal(got.sha, g.sha256_rgb, `${g.file} ${g.resolution}`);
  }
  // The palette image shows the order matters: the score-era collator resizes before any RGB
  // conversion (NEAREST for mode P); converting first (the reference HEAD) gives other pixels.
  const pal = goldens.find((g) => g.mode === 'P')!;
  assert.notEqual(pal.sha256_rgb, pal.sha256_rgb_convert_first);
});

test('resized copies are content-addressed and reused; an s×s source is embedded as it is; a missing file names task and path', async () => {
  const dir = join(work, 'reuse-out');
  const src = join(FIX, 'resize', 'pattern.png');
  const r1 = new ImageResizer('low', dir, new FileHasher());
  const a = await r1.resizeFile(src, 'T');
  assert.equal(await r1.resizeFile(src, 'T'), a);
  assert.deepEqual(r1.stats, { files: 1, written: 1, approximate: [] });
  const digest = createHash('sha256').update(readFileSync(src)).digest('hex');
  assert.equal(a, join(dir, `${digest}-128x128.png`));
  const mtime = statSync(a).mtimeMs;

  // A rerun (a new process) finds the copy: nothing written, the file untouched.
  const r2 = new ImageResizer('low', dir, new FileHasher());
  assert.equal(await r2.resizeFile(src, 'T'), a);
  assert.equal(r2.stats.written, 0);
  assert.equal(statSync(a).mtimeMs, mtime);
  assert.deepEqual(readdirSync(dir), [`${digest}-128x128.png`], 'no temp files left');

  // Pillow returns a copy when the size is unchanged.
  const square = join(work, 'square.png');
  writeFileSync(square, await sharp({ create: { width: 128, height: 128, channels: 3, background: { r: 9, g: 99, b: 199 } } }).png().toBuffer());
  assert.equal(await r2.resizeFile(square, 'T'), square);

  // Items: text kept, every image and frame substituted.
  const [item] = await r2.resizeItems([{ text: 'x', images: [src], video: [src, square] }], 'T');
  assert.deepEqual(item, { text: 'x', images: [a], video: [a, square] });

  await assert.rejects(r2.resizeFile(join(work, 'nope.jpg'), 'OK-VQA'),
    (e: unknown) => e instanceof Vlm2VecError && /task OK-VQA: image .*nope\.jpg cannot be read/.test(e.message));
});

/** Records every item the harness embeds, per task and role. */
function recorder(seen: Map<string, FileEmbedItem[]>): Embedder {
  return {
    id: 'rec',
    async embed(items: readonly FileEmbedItem[], ctx?: EmbedContext) {
      const key = `${ctx?.task}/${ctx?.role}`;
      seen.set(key, [...(seen.get(key) ?? []), ...items]);
      return items.map((_, i) => Float32Array.from([1, i % 3, 0.5]));
    },
  };
}

// Per task: does the reference resize the media of its queries / candidates (null: text only)?
// Hand-written from the reference loaders (docs/mmeb.md §4), one task per parser kind in the fixtures.
const EXPECT: Record<string, { query: boolean | null; candidate: boolean | null }> = {
  'ImageNet-1K': { query: true, candidate: null }, // image_cls
  'OK-VQA': { query: true, candidate: null }, // image_qa
  MSCOCO_i2t: { query: true, candidate: null }, // image_i2t
  VisDial: { query: null, candidate: true }, // image_t2i
  CIRR: { query: true, candidate: true }, // image_i2i_vg
  Breakfast: { query: true, candidate: null }, // video_classification
  SmthSmthV2: { query: true, candidate: null }, // ssv2
  'MSR-VTT': { query: null, candidate: true }, // msrvtt
  MSVD: { query: null, candidate: true },
  DiDeMo: { query: null, candidate: true },
  YouCook2: { query: null, candidate: true },
  VATEX: { query: null, candidate: true },
  QVHighlight: { query: true, candidate: true }, // moment_retrieval
  MomentSeeker: { query: true, candidate: true }, // momentseeker (video and image queries; one text-only query)
  'Video-MME': { query: false, candidate: null }, // video QA: frames never resized
  NExTQA: { query: false, candidate: null },
  EgoSchema: { query: false, candidate: null },
  MVBench: { query: false, candidate: null },
  ActivityNetQA: { query: false, candidate: null },
  ViDoRe_arxivqa: { query: null, candidate: true }, // vidore (qrels candidates and corpus pages)
  VisRAG_ChartQA: { query: null, candidate: true }, // visrag
};

test('--image-resolution low: exactly the items the reference resizes reach the embedder as 128×128 copies', async () => {
  const out = join(work, 'out-low');
  const seen = new Map<string, FileEmbedItem[]>();
  const names = Object.keys(EXPECT);
  const r = await runEval({ embedder: recorder(seen), benchmark: 'mmeb-v2', tasks: names, dataDir: data, outDir: out, imageResolution: 'low', concurrency: 1 });
  assert.deepEqual(r.tasks.filter((t) => t.status !== 'done').map((t) => [t.task.name, t.error]), []);
  // Every parser kind of the benchmark is covered by the table.
  assert.equal(new Set(names.map((n) => getTask(n).parser)).size, 21);
  const resizedDir = join(out, '.resized') + sep;
  const checked: string[] = [];
  for (const [task, want] of Object.entries(EXPECT)) {
    for (const role of ['query', 'candidate'] as const) {
      const items = seen.get(`${task}/${role}`) ?? [];
      const media = items.flatMap((it) => [...(it.images ?? []), ...(it.video ?? [])]);
      const expected = want[role];
      if (expected === null) {
        assert.deepEqual(media, [], `${task} ${role}s are text only`);
        continue;
      }
      assert.ok(media.length > 0, `${task} ${role}s have media`);
      for (const p of media) {
        assert.equal(p.startsWith(resizedDir), expected, `${task} ${role}: ${p}`);
        if (!expected) assert.ok(p.startsWith(data + sep), p);
      }
      checked.push(`${task}/${role}`);
    }
  }
  assert.equal(checked.length, 24); // 13 tasks with query media + 11 with candidate media
  // MomentSeeker's text-only query stays text only.
  assert.ok((seen.get('MomentSeeker/query') ?? []).some((it) => !it.images?.length && !it.video?.length));
  // The copies are 128×128 PNGs.
  const files = readdirSync(resizedDir);
  assert.ok(files.length > 20);
  for (const f of files.slice(0, 5)) {
    const m = await sharp(join(resizedDir, f)).metadata();
    assert.deepEqual([m.format, m.width, m.height], ['png', 128, 128], f);
  }
  assert.equal(JSON.parse(readFileSync(join(out, 'eval-settings.json'), 'utf8')).imageResolution, 'low');
});

test('the resolution is part of a folder\'s settings: a mismatching rerun is refused, the same one resumes', async () => {
  const calls = new Map<string, FileEmbedItem[]>();
  const base = { embedder: recorder(calls), benchmark: 'mmeb-v2' as const, tasks: ['OK-VQA'], dataDir: data };
  const out = join(work, 'out-mid');
  const resizeEvents: [number, number][] = [];
  await runEval({ ...base, outDir: out, imageResolution: 'mid', onProgress: (e) => e.type === 'resize' && resizeEvents.push([e.done, e.total]) });
  const n = calls.get('OK-VQA/query')!.length;
  // Progress counts every query and candidate item once, up to their total.
  const items = n + calls.get('OK-VQA/candidate')!.length;
  assert.deepEqual(resizeEvents, Array.from({ length: items }, (_, i) => [i + 1, items]));
  assert.equal(calls.get('OK-VQA/query')![0]!.images![0]!.endsWith('-672x672.png'), true);
  await assert.rejects(runEval({ ...base, outDir: out }), /--image-resolution: "mid" there, "none" now/);
  await assert.rejects(runEval({ ...base, outDir: out, imageResolution: 'high' }), /--image-resolution: "mid" there, "high" now/);
  const again = await runEval({ ...base, outDir: out, imageResolution: 'mid' });
  assert.equal(again.tasks[0]!.status, 'skipped');
  assert.equal(calls.get('OK-VQA/query')!.length, n, 'nothing embedded by the refused or resumed runs');

  // A folder written without the option (or before it existed: no key) holds un-resized results.
  const plain = join(work, 'out-plain');
  await runEval({ ...base, outDir: plain });
  const settings = JSON.parse(readFileSync(join(plain, 'eval-settings.json'), 'utf8')) as Record<string, unknown>;
  assert.equal('imageResolution' in settings, false);
  assert.equal(existsSync(join(plain, '.resized')), false);
  assert.equal(calls.get('OK-VQA/query')!.at(-1)!.images![0], join(data, 'image-tasks', 'OK-VQA', 'img_1.jpg'));
  await assert.rejects(runEval({ ...base, outDir: plain, imageResolution: 'high' }), /--image-resolution: "none" there, "high" now/);
});
