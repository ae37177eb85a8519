// The shipped model's recipe (scripts/open-data/recipe) reproduces: the same random start
// (init-model.ts with the recipe's MODEL_FLAGS) and the same `vlm2vec train` command line (the
// recipe's train.yaml and data.yaml), shortened to 4 steps of batch 8 on a committed slice of
// the training data (test/fixtures/open-data-slice, made by recipe/slice.ts), log the losses
// recorded when the slice was made (recipe-losses.json: a reproducibility record of this same
// command). The full run's log is docs/open-data/shipped-model-train-log.jsonl.
//
// Recording the slice's losses again (after a deliberate change to the recipe or the trainer):
//   RECORD_RECIPE_LOSSES=1 npm test -- test/open-data/recipe

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MODEL_FLAGS, trainArgs } from '../../scripts/open-data/recipe/run.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const SLICE = join(ROOT, 'test', 'fixtures', 'open-data-slice');
const RECORD = join(SLICE, 'recipe-losses.json');
const SHORT = ['--max_steps', '4', '--per_device_train_batch_size', '8', '--save_steps', '1000'];

test('the recipe, shortened to 4 steps on the committed slice, logs the recorded losses', { timeout: 600_000 }, () => {
  const work = mkdtempSync(join(tmpdir(), 'v2v-recipe-'));
  try {
    const init = join(work, 'init');
    const out = join(work, 'run');
    execFileSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'open-data', 'init-model.ts'), '--out', init, ...MODEL_FLAGS], { cwd: ROOT, stdio: 'ignore' });
    execFileSync(process.execPath, [join(ROOT, 'bin', 'vlm2vec.js'), ...trainArgs({ init, data: SLICE, out, extra: SHORT })], { cwd: ROOT, stdio: 'ignore' });
    const log = readFileSync(join(out, 'train_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step?: number; loss?: number; sources?: string[] });
    const steps = log.filter((r) => r.step !== undefined && r.loss !== undefined);
    const got = steps.map((r) => ({ step: r.step!, loss: r.loss!, sources: r.sources }));
    if (process.env['RECORD_RECIPE_LOSSES'] === '1') {
      writeFileSync(RECORD, `${JSON.stringify({ command: `vlm2vec ${trainArgs({ init: 'INIT', data: 'test/fixtures/open-data-slice', out: 'OUT', extra: SHORT }).map((a) => a.replace(ROOT + '/', '')).join(' ')}`, steps: got }, null, 1)}\n`);
      return;
    }
    const want = (JSON.parse(readFileSync(RECORD, 'utf8')) as { steps: typeof got }).steps;
    assert.equal(got.length, 4);
    assert.deepEqual(got.map((s) => [s.step, s.sources]), want.map((s) => [s.step, s.sources]), 'the same batches in the same order');
    for (const [i, s] of got.entries()) {
      // Float32 sums in ORT's CPU kernels may differ in the last bits between CPUs; the losses
      // of 4 steps of a changed recipe or trainer differ by far more.
      assert.ok(Math.abs(s.loss - want[i]!.loss) <= 1e-4 * Math.abs(want[i]!.loss), `step ${s.step}: loss ${s.loss}, recorded ${want[i]!.loss}`);
    }
    // The losses move: the model is being trained, not just evaluated.
    assert.notEqual(want[0]!.loss, want[3]!.loss);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
