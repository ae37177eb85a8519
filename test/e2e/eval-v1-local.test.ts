// End to end: the real `vlm2vec eval-v1 --model <local folder>` (bin/vlm2vec.js, spawned) on the
// V1 fixture subsets with the tiny Qwen2-VL fixture model and the real Qwen tokenizer. Checked
// against the same model called directly (LocalEmbedder, itself checked against transformers in
// src/embed/local.test.ts): every row's argmax candidate, hence `_pred.txt` and the accuracy of
// `_score.json`, with `<|image_1|>` replaced by Qwen2-VL's image token as the V1 harness does.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalEmbedder } from '../../src/embed/local.ts';
import { replaceImage1 } from '../../src/embed/prompt.ts';
import type { EmbedItem } from '../../src/embed/types.ts';
import { loadV1Subset, type V1Pair } from '../../src/mmeb/legacy-v1/load.ts';
import { pyPairRepr } from '../../src/mmeb/legacy-v1/pyrepr.ts';
import { configureRuntime } from '../../src/tensor/index.ts';
import { runCli, ROOT } from './cli-run.ts';

configureRuntime({ threads: 1 });

const V1 = join(ROOT, 'test', 'fixtures', 'mmeb', 'v1');
const SUBSETS = ['ImageNet-1K', 'MSCOCO_t2i', 'WebQA'];
let work: string;
let model: string;

before(() => {
  work = mkdtempSync(join(tmpdir(), 'v2v-e2e-v1-'));
  model = join(work, 'tiny-model');
  cpSync(join(ROOT, 'test', 'fixtures', 'model', 'tiny-a'), model, { recursive: true });
});
after(() => rmSync(work, { recursive: true, force: true }));

test('eval-v1 --model <local folder>: predictions and accuracy equal the model called directly', async () => {
  const out = join(work, 'out');
  const r = await runCli([
    'eval-v1', '--model', model, '--data', V1, '--image-dir', join(V1, 'images'), '--out', out,
    '--subsets', SUBSETS.join(','), '--normalize', '--threads', '1', '--batch-size', '4',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /model qwen2_vl:local:\S+ \(local\)/);

  const direct = await LocalEmbedder.load(model, { batchSize: 4 });
  const toItem = (p: V1Pair): EmbedItem => ({
    text: replaceImage1(p.text, 'qwen2_vl'),
    ...(p.imgPath !== '' ? { images: [join(V1, 'images', p.imgPath)] } : {}),
  });
  for (const name of SUBSETS) {
    const s = await loadV1Subset(V1, name);
    const q = await direct.embed(s.queries.map(toItem));
    const t = await direct.embed(s.targets.map(toItem));
    const preds: string[] = [];
    let correct = 0;
    for (const row of s.rows) {
      // Unit vectors: cosine = dot. The fixture has no near-ties (checked), so float32 batch noise
      // cannot flip an argmax between the CLI's batches and these.
      const scores = row.targets.map((j) => q[row.query]!.reduce((acc, v, k) => acc + v * t[j]![k]!, 0));
      const best = scores.indexOf(Math.max(...scores));
      const sorted = [...scores].sort((a, b) => b - a);
      if (sorted.length > 1) assert.ok(sorted[0]! - sorted[1]! > 1e-5, `${name}: a near-tie would make this check fragile`);
      if (best === 0) correct++;
      const p = s.targets[row.targets[best]!]!;
      preds.push(`${pyPairRepr(p.text, p.imgPath)}\n`);
    }
    assert.equal(readFileSync(join(out, `${name}_pred.txt`), 'utf8'), preds.join(''), `${name}_pred.txt`);
    const score = JSON.parse(readFileSync(join(out, `${name}_score.json`), 'utf8')) as { acc: number; num_correct: number; num_pred: number };
    assert.deepEqual(score, { acc: correct / s.rows.length, num_correct: correct, num_pred: s.rows.length }, `${name}_score.json`);
  }
  await direct.close();
});
