// trainer_state.json byte for byte as transformers 5.18 writes the same state
// (tools/reference/trainer_state.py → test/fixtures/train/checkpoint/trainer_state.json).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newTrainerState, pyFloat, readTrainerState, trainerStateJson, writeTrainerState } from './checkpoint-trainer-state.ts';

const FIXTURE = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'train', 'checkpoint', 'trainer_state.json');

const state = newTrainerState({
  epoch: 0.75, global_step: 3, max_steps: 4, logging_steps: 1, save_steps: 2, train_batch_size: 8, num_train_epochs: 1,
  log_history: [
    { loss: 2.0794415416798357, grad_norm: 1.2345678806304932, learning_rate: 0, epoch: 0.25, step: 1 },
    { loss: 2, grad_norm: NaN, learning_rate: 5e-5, epoch: 0.5, step: 2 },
    { loss: 1.5e-7, grad_norm: Infinity, learning_rate: 2.5e-5, epoch: 0.75, step: 3 },
    { train_runtime: 12.3456, train_samples_per_second: 1e16, total_flos: 0, train_loss: 123456789, epoch: 1, step: 4 },
  ],
});

test("Python's float repr", () => {
  // repr() of each value in CPython 3.11
  const cases: [number, string][] = [
    [2, '2.0'], [0, '0.0'], [-0, '-0.0'], [5e-5, '5e-05'], [1e-4, '0.0001'], [0.00012345, '0.00012345'], [1e16, '1e+16'],
    [9999999999999998, '9999999999999998.0'], [123456789012345678, '1.2345678901234568e+17'], [0.1 + 0.2, '0.30000000000000004'],
    [-1.5e-7, '-1.5e-07'], [1e300, '1e+300'], [5e-324, '5e-324'], [NaN, 'NaN'], [-Infinity, '-Infinity'], [123.456, '123.456'],
  ];
  for (const [x, want] of cases) assert.equal(pyFloat(x), want, String(x));
});

test("trainer_state.json equals transformers' file for the same state, and reads back", async () => {
  const want = await readFile(FIXTURE, 'utf8');
  assert.equal(trainerStateJson(state), want);
  const back = await readTrainerState(FIXTURE);
  assert.equal(back.global_step, 3);
  assert.ok(Number.isNaN(back.log_history[1]!.grad_norm));
  assert.equal(back.log_history[2]!.grad_norm, Infinity);
  assert.equal(back.log_history[1]!.learning_rate, 5e-5);
  assert.equal(trainerStateJson(back), want);
});

test('writeTrainerState writes atomically; a corrupt file is a clear error', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vlm2vec-ts-'));
  try {
    const p = join(dir, 'trainer_state.json');
    await writeTrainerState(p, newTrainerState({ global_step: 7, log_history: [{ step: 7, loss: 0.5, learning_rate: 1e-5, grad_norm: 0.25, epoch: 0.1 }] }));
    const back = await readTrainerState(p);
    assert.deepEqual(back.log_history, [{ step: 7, loss: 0.5, learning_rate: 1e-5, grad_norm: 0.25, epoch: 0.1 }]);
    assert.match(await readFile(p, 'utf8'), /"learning_rate": 1e-05,/);
    await writeTrainerState(p, state);
    const { writeFile } = await import('node:fs/promises');
    await writeFile(p, '{"global_step": 3, "log_history": [');
    await assert.rejects(readTrainerState(p), /trainer_state\.json: not valid JSON/);
    await writeFile(p, '{"global_step": 3.5}');
    await assert.rejects(readTrainerState(p), /global_step an integer/);
    await writeFile(p, '{"trial_name": "NaN run", "global_step": 1}');
    assert.equal((await readTrainerState(p)).trial_name, 'NaN run');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
