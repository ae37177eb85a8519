// scripts/open-data/recipe/seen.ts: the mini benchmark's caption tasks rebuilt from training pairs
// (the committed 8-row slice of the recipe's data). An oracle embedder that knows the slice's own
// caption → picture pairs must score 1 on every task, which it does only when each written row
// points a training caption at that caption's training picture and the pictures resolve through
// the link to the data folder.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { writeSeenTasks } from '../../scripts/open-data/recipe/seen.ts';
import type { EmbedItem, Embedder } from '../../src/embed/types.ts';
import { readRows } from '../../src/mmeb/data/read.ts';
import { runEval } from '../../src/mmeb/run/eval.ts';

const SLICE = new URL('../fixtures/open-data-slice', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'vlm2vec-seen-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** caption → picture file name of a `<Source>_t2i` subset of the slice. */
async function pairs(source: string): Promise<Map<string, string>> {
  const rows = await readRows([join(SLICE, 'vlm2vec-open', 'MMEB-train', `${source}_t2i`, 'original-00000-of-00001.parquet')]);
  return new Map(rows.map((r) => [String(r.data['qry']).replace('Find me an everyday image that matches the given caption: ', '').trimEnd(), basename(String(r.data['pos_image_path']))]));
}

test('the seen-pair tasks point each training caption at its own training picture', async () => {
  const all = new Map([...(await pairs('Emoji')), ...(await pairs('OpenClipart'))]);
  const ids = [...all.keys()];
  const byPicture = new Map([...all].map(([c, f], i) => [f, i] as const));
  // One dimension per training pair: a text marks the caption it contains, a picture its own pair.
  const oracle: Embedder = {
    id: 'seen-oracle',
    embed: async (items: readonly EmbedItem[]) => items.map((it) => {
      const v = new Float32Array(ids.length + 1);
      v[ids.length] = 0.01;
      const pic = it.images?.[0];
      if (pic !== undefined) v[byPicture.get(basename(String(pic))) ?? ids.length] = 1;
      else ids.forEach((c, i) => { if (it.text.trimEnd().endsWith(c)) v[i] = 1; });
      return v;
    }),
  };
  const out = join(work, 'seen');
  assert.deepEqual(await writeSeenTasks(SLICE, out, { emoji: 6, openclipart: 5 }), { emoji: 6, openclipart: 5 });
  const res = join(work, 'eval');
  const r = await runEval({ embedder: oracle, benchmark: 'mini', tasks: ['Mini-Emoji_t2i', 'Mini-Emoji_i2t', 'Mini-OpenClipart_t2i'], dataDir: out, outDir: res, cacheDir: null, onWarning: () => {} });
  assert.deepEqual(r.tasks.map((t) => [t.task.name, t.status]), [['Mini-Emoji_t2i', 'done'], ['Mini-Emoji_i2t', 'done'], ['Mini-OpenClipart_t2i', 'done']]);
  for (const [task, n] of [['Mini-Emoji_t2i', 6], ['Mini-Emoji_i2t', 6], ['Mini-OpenClipart_t2i', 5]] as const) {
    const s = JSON.parse(readFileSync(join(res, 'image', `${task}_score.json`), 'utf8')) as Record<string, number>;
    assert.equal(s['num_data'], n, task);
    assert.equal(s['hit@1'], 1, `${task}: ${JSON.stringify(s)}`);
  }
});

test('the sample is the same on every run, a subset of the training pairs, and an occupied folder is refused', async () => {
  const emoji = await pairs('Emoji');
  const read = async (dir: string) => (await readRows([join(dir, 'vlm2vec-open', 'mini-image', 'Mini-Emoji_t2i', 'test-00000-of-00001.parquet')]))
    .map((r) => [String(r.data['qry_text']), basename((r.data['tgt_img_path'] as string[])[0]!)]);
  await writeSeenTasks(SLICE, join(work, 'a'), { emoji: 4, openclipart: 2 });
  await writeSeenTasks(SLICE, join(work, 'b'), { emoji: 4, openclipart: 2 });
  const a = await read(join(work, 'a'));
  assert.deepEqual(a, await read(join(work, 'b')));
  assert.equal(a.length, 4);
  for (const [caption, picture] of a) assert.equal(emoji.get(caption!), picture, caption);
  // The seeded order, not the file order: the first four training rows are not simply taken.
  assert.notDeepEqual(a.map((x) => x[0]), [...emoji.keys()].slice(0, 4));
  await assert.rejects(writeSeenTasks(SLICE, join(work, 'a')), /is not empty/);
});
