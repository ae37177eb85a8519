// Train a tiny Qwen2-VL embedder with `vlm2vec train` on coloured-shape pictures and their
// captions, and show held-out retrieval rising from chance: each held-out picture ranks the nine
// captions ("a red circle", …), scored before and after training (top-1 accuracy; chance 1/9).
//
// Run: node --import tsx examples/train-tiny/run.ts [--steps 80] [--out DIR] [--model DIR] [-- more train flags]
// The default model is the repository's random-weight tiny Qwen2-VL (test/fixtures/model/tiny-a:
// 2 layers, width 24), so the "before" score is a random model's.

import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LocalEmbedder } from '../../src/index.ts';
import { CLASSES, QUERY_PROMPT, writeShapesData, type ShapesData } from './shapes.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const { values: o, positionals: extra } = parseArgs({
  allowPositionals: true,
  options: {
    steps: { type: 'string', default: '80' },
    out: { type: 'string' },
    model: { type: 'string', default: join(ROOT, 'test', 'fixtures', 'model', 'tiny-a') },
    'per-class': { type: 'string', default: '16' },
  },
});
const work = o.out ?? mkdtempSync(join(tmpdir(), 'vlm2vec-train-tiny-'));

/** Top-1 accuracy (%) of held-out pictures retrieving their caption among the nine. */
async function heldoutAccuracy(model: string, heldout: ShapesData['heldout']): Promise<number> {
  const emb = await LocalEmbedder.load(model, { threads: 1 });
  try {
    const captions = await emb.embed(CLASSES.map((c) => ({ text: c.caption })));
    const pictures = await emb.embed(heldout.map((h) => ({ text: QUERY_PROMPT.replace('<|image_1|>', '<|image_pad|>'), images: [h.path] })));
    let hits = 0;
    for (const [i, q] of pictures.entries()) {
      const scores = captions.map((c) => c.reduce((s, x, d) => s + x * q[d]!, 0));
      if (scores.indexOf(Math.max(...scores)) === heldout[i]!.label) hits++;
    }
    return (100 * hits) / heldout.length;
  } finally {
    await emb.close();
  }
}

const data = await writeShapesData(join(work, 'data'), { perClass: Number(o['per-class']), heldoutPerClass: 4 });
const before = await heldoutAccuracy(o.model, data.heldout);

const out = join(work, 'run');
// The reference's flags; full fine-tuning (no --lora): the base is random, there is nothing to adapt.
// Flags given after `--` replace these.
const defaults: [string, string][] = [
  ['--model_name', o.model], ['--dataset_config', data.config], ['--data_basedir', data.basedir], ['--data', data.hub],
  ['--output_dir', out], ['--per_device_train_batch_size', '9'], ['--normalize', 'True'], ['--temperature', '0.05'],
  ['--learning_rate', '3e-3'], ['--lr_scheduler_type', 'constant'], ['--max_steps', o.steps], ['--save_steps', o.steps],
  ['--logging_steps', '1'], ['--seed', '42'],
];
const flags = [...defaults.filter(([f]) => !extra.includes(f)).flat(), ...extra];
console.log(`vlm2vec train ${flags.join(' ')}`);
execFileSync(process.execPath, [join(ROOT, 'bin', 'vlm2vec.js'), 'train', ...flags], { stdio: ['ignore', 'inherit', 'inherit'] });
const after = await heldoutAccuracy(out, data.heldout);

console.log(`held-out pictures: ${data.heldout.length}, captions: ${CLASSES.length} (chance ${(100 / CLASSES.length).toFixed(1)}%)`);
console.log(`before training: top-1 ${before.toFixed(1)}%`);
console.log(`after ${o.steps} steps: top-1 ${after.toFixed(1)}%`);
console.log(`curves: ${join(out, 'train_report.html')}`);
