// The bag-of-pixels baseline of the mini benchmark (docs/open-data.md, "Baseline"): a model-free
// Embedder scored by the unchanged harness, so the shipped model's scores have a floor to beat
// besides chance.
//
//   image (or video: the mean over its frames) → its pixels, grey, shrunk to 16 × 16, minus the
//       mean of the training images, L2-normalised: 256 numbers;
//   text → the normalised mean of the vectors of the training images paired with that text (a
//       Fashion-MNIST class name, a training caption or heading); a text never seen in training
//       gets a random unit vector seeded by the text, which ranks at chance.
//
// So the baseline is nearest-class-mean on pixels where training data names the text, and chance
// elsewhere: it shows how much of a score needs no learned text or image features at all.
//
// Usage: node --import tsx scripts/open-data/baseline.ts --train DIR --data MINI --out OUT [--tasks a,b]
//   DIR: the open data (its training subsets, listed by DIR/open-data.yaml); MINI: the mini
//   benchmark (DIR itself, or the bundled copy assets/mini); OUT gets the harness's score files
//   and summary, as `vlm2vec eval` writes them.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import sharp from 'sharp';
import { Vlm2VecError } from '../../src/errors.ts';
import type { EmbedContext, Embedder, EmbedItem } from '../../src/embed/types.ts';
import { runEval } from '../../src/mmeb/run/eval.ts';

/** Side of the grey thumbnail: 16 × 16 = 256 dimensions. */
export const SIDE = 16;

/** The raw grey thumbnail of an image file or its bytes, as numbers in [0, 1]. */
export async function thumbnail(input: string | Uint8Array): Promise<Float32Array> {
  const raw = await sharp(input).flatten({ background: '#ffffff' }).greyscale()
    .resize(SIDE, SIDE, { fit: 'fill', kernel: 'cubic' }).raw().toBuffer();
  if (raw.length !== SIDE * SIDE) throw new Vlm2VecError('baseline', `thumbnail of ${typeof input === 'string' ? input : 'image bytes'}: expected ${SIDE * SIDE} grey values, got ${raw.length}`);
  return Float32Array.from(raw, (v) => v / 255);
}

function normalize(v: Float32Array): Float32Array {
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n) || 1;
  return v.map((x) => x / n);
}

/** A unit vector drawn from a generator seeded by the text (sha256), the same on every run. */
export function randomUnit(text: string): Float32Array {
  const seed = createHash('sha256').update(text).digest();
  let s = seed.readUInt32LE(0);
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32 - 0.5;
  };
  return normalize(Float32Array.from({ length: SIDE * SIDE }, next));
}

/** The text a prompt carries, without placeholder tokens and surrounding space. */
export const plainText = (s: string): string => s.replace(/<\|[^|]*\|>/g, '').trim();

/** Keys under which a prompt may match a training text: the whole, its last line, what follows its last ': '. */
function keys(prompt: string): string[] {
  const p = plainText(prompt);
  return [p, p.split('\n').at(-1)!.trim(), p.slice(p.lastIndexOf(': ') + 2).trim()];
}

/** Training pairs of text and image, as the baseline learns them. */
export interface TextImagePair { text: string; image: string }

/**
 * The baseline as an Embedder, from training pairs (image paths absolute). Every training text
 * is stored under its plain form; an eval prompt matches a training text under any of its keys.
 */
export async function bagOfPixels(pairs: readonly TextImagePair[]): Promise<Embedder> {
  const thumbs = new Map<string, Float32Array>();
  for (const p of pairs) if (!thumbs.has(p.image)) thumbs.set(p.image, await thumbnail(p.image));
  const mean = new Float32Array(SIDE * SIDE);
  for (const t of thumbs.values()) t.forEach((x, i) => { mean[i]! += x / thumbs.size; });
  const centred = (t: Float32Array): Float32Array => normalize(t.map((x, i) => x - mean[i]!));
  const sums = new Map<string, Float32Array>();
  for (const p of pairs) {
    const key = plainText(p.text);
    const s = sums.get(key) ?? new Float32Array(SIDE * SIDE);
    centred(thumbs.get(p.image)!).forEach((x, i) => { s[i]! += x; });
    sums.set(key, s);
  }
  const texts = new Map([...sums].map(([k, v]) => [k, normalize(v)]));
  const image = async (m: string | Uint8Array, ctx?: EmbedContext): Promise<Float32Array> =>
    centred(await thumbnail(typeof m === 'string' ? ctx?.mediaBytes?.get(m) ?? m : m));
  return {
    id: 'bag-of-pixels-16',
    capabilities: { images: true, video: true },
    embed: async (items: readonly EmbedItem[], ctx?: EmbedContext) => Promise.all(items.map(async (it) => {
      const media = it.images?.length ? it.images : it.video ?? [];
      if (media.length > 0) {
        const sum = new Float32Array(SIDE * SIDE);
        for (const m of media) (await image(m, ctx)).forEach((x, i) => { sum[i]! += x; });
        return normalize(sum);
      }
      for (const k of keys(it.text)) {
        const v = texts.get(k);
        if (v) return v;
      }
      return randomUnit(plainText(it.text));
    })),
  };
}

/** The text–image pairs of the training subsets that `DIR/open-data.yaml` lists. */
export async function trainingPairs(dir: string): Promise<TextImagePair[]> {
  const yaml = readFileSync(join(dir, 'open-data.yaml'), 'utf8');
  const subsets = [...yaml.matchAll(/^ {2}subset_name: (.+)$/gm)].map((m) => m[1]!.trim());
  const pairs: TextImagePair[] = [];
  for (const s of subsets) {
    const file = join(dir, 'vlm2vec-open', 'MMEB-train', s, 'original-00000-of-00001.parquet');
    const rows = await parquetReadObjects({ file: await asyncBufferFromFile(file) }) as Record<string, string>[];
    for (const r of rows) {
      // Image query → text target (classification, i2t), or text query → image target (t2i).
      if (r['qry_image_path'] && r['pos_text']) pairs.push({ text: r['pos_text'], image: join(dir, r['qry_image_path']) });
      else if (r['pos_image_path'] && r['qry']) pairs.push({ text: r['qry'], image: join(dir, r['pos_image_path']) });
    }
  }
  return pairs;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { train: { type: 'string' }, data: { type: 'string' }, out: { type: 'string' }, tasks: { type: 'string' } } });
  if (!values.train || !values.data || !values.out) throw new Vlm2VecError('baseline', 'usage: baseline.ts --train DIR --data MINI --out OUT [--tasks a,b]');
  const pairs = await trainingPairs(values.train);
  process.stderr.write(`${pairs.length} training pairs\n`);
  const embedder = await bagOfPixels(pairs);
  const r = await runEval({
    embedder, benchmark: 'mini', dataDir: values.data, outDir: values.out, cacheDir: null,
    ...(values.tasks ? { tasks: values.tasks.split(',') } : {}), onWarning: (m) => { process.stderr.write(`warning: ${m}\n`); },
  });
  for (const t of r.tasks) process.stdout.write(`${t.task.name}\t${t.status}\t${JSON.stringify(t.scores ?? t.error)}\n`);
  process.stdout.write(`${JSON.stringify(r.summary.scores)}\n`);
}
