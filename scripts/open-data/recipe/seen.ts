// A diagnostic of the recipe: the mini benchmark's three caption retrieval tasks built again from
// TRAINING pairs instead of held-out ones, with as many items as the held-out tasks have (a seeded
// sample). Scored like the real tasks, they tell fitting from generalising: a model that cannot
// find the pictures it was trained on among 188 has not learnt the pairs at all, and its held-out
// scores say nothing about generalisation (docs/open-data.md, "Why retrieval stays at chance").
//
// Usage: node --import tsx scripts/open-data/recipe/seen.ts --data DIR --out SEEN
//        vlm2vec eval --benchmark mini --data SEEN --model MODEL --max-pixels 12544 --out OUT \
//          --tasks Mini-Emoji_t2i,Mini-Emoji_i2t,Mini-OpenClipart_t2i
//   DIR: the open data (scripts/open-data/fetch.ts). SEEN/image-tasks is a link to DIR, so the
//   tasks' rows name the training pictures where fetch.ts put them.

import { existsSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Vlm2VecError } from '../../../src/errors.ts';
import { readRows } from '../../../src/mmeb/data/read.ts';
import { i2tEvalRows, t2iEvalRows, writeMiniImageTasks } from '../build.ts';
import { seededOrder } from '../lib.ts';

const CAPTION = /^Find me an everyday image that matches the given caption: (.*)\n$/s;

/** The (picture, caption) pairs of a `<Source>_t2i` training subset. */
async function trainPairs(data: string, source: string): Promise<{ path: string; caption: string }[]> {
  const file = join(data, 'vlm2vec-open', 'MMEB-train', `${source}_t2i`, 'original-00000-of-00001.parquet');
  if (!existsSync(file)) throw new Vlm2VecError('open-data', `${file} does not exist: --data must be a folder scripts/open-data/fetch.ts wrote`);
  return (await readRows([file], { columns: ['qry', 'pos_image_path'] })).map((r) => {
    const m = CAPTION.exec(String(r.data['qry']));
    if (!m) throw new Vlm2VecError('open-data', `${file} row ${r.index}: 'qry' is not a caption query: ${JSON.stringify(r.data['qry'])}`);
    return { path: String(r.data['pos_image_path']), caption: m[1]! };
  });
}

/**
 * Writes the seen-pair tasks into `out` (new or empty): `out/image-tasks` links to `data`, and
 * `count` pairs of each source (default: the held-out tasks' sizes, so chance is the same) are a
 * seeded sample of its training pairs.
 *
 * @example await writeSeenTasks(join(homedir(), '.cache', 'vlm2vec', 'open-data'), 'runs/seen'); // { emoji: 188, openclipart: 136 }
 */
export async function writeSeenTasks(data: string, out: string, count = { emoji: 188, openclipart: 136 }): Promise<{ emoji: number; openclipart: number }> {
  if (existsSync(out) && readdirSync(out).length > 0) throw new Vlm2VecError('open-data', `${out} is not empty: give a new folder`);
  const emoji = seededOrder('Emoji/seen', await trainPairs(data, 'Emoji'), (p) => p.path).slice(0, count.emoji);
  const clipart = seededOrder('OpenClipart/seen', await trainPairs(data, 'OpenClipart'), (p) => p.path).slice(0, count.openclipart);
  mkdirSync(out, { recursive: true });
  symlinkSync(resolve(data), join(out, 'image-tasks'));
  writeMiniImageTasks(out, { 'Mini-Emoji_t2i': t2iEvalRows(emoji), 'Mini-Emoji_i2t': i2tEvalRows(emoji), 'Mini-OpenClipart_t2i': t2iEvalRows(clipart) });
  return { emoji: emoji.length, openclipart: clipart.length };
}

if (process.argv[1] === import.meta.filename) {
  const { values } = parseArgs({ options: { data: { type: 'string' }, out: { type: 'string' } } });
  if (!values.data || !values.out) throw new Vlm2VecError('open-data', 'usage: seen.ts --data DIR --out SEEN');
  const n = await writeSeenTasks(values.data, values.out);
  process.stderr.write(`${values.out}: ${n.emoji} emoji and ${n.openclipart} Openclipart training pairs as mini tasks\n`);
}
