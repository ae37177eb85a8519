// Checkpoint folders: state round trip (float32 bits identical), save_total_limit, resume choice
// and its errors, and a child process SIGKILLed at every phase of a save (and at random moments
// inside a 64 MB optimizer write): resume never trusts the half-written checkpoint.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Checkpoint } from '../io/weights/checkpoint.ts';
import { readTrainerState } from './checkpoint-trainer-state.ts';
import {
  findResumeCheckpoint, listCheckpoints, loadCheckpointState, loadCheckpointWeights, readOptimizerState, rotateCheckpoints, saveCheckpoint, writeOptimizerState,
  type CheckpointContents, type SavePhase,
} from './checkpoint.ts';
import { demoContents } from './checkpoint.test-helper.ts';

const HELPER = join(import.meta.dirname, 'checkpoint.test-helper.ts');

async function tmp(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'vlm2vec-ckpt-'));
}

const bits = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer, a.byteOffset, a.length);

function assertBits(got: Float32Array | undefined, want: Float32Array, what: string): void {
  assert.ok(got, `${what} missing`);
  assert.equal(got.length, want.length, what);
  const [g, w] = [bits(got), bits(want)];
  for (let i = 0; i < w.length; i++) if (g[i] !== w[i]) assert.fail(`${what}[${i}]: bits ${g[i]!.toString(16)} ≠ ${w[i]!.toString(16)}`);
}

/** Everything a checkpoint holds equals what `want` saved, bit for bit. */
async function assertCheckpointHolds(dir: string, want: CheckpointContents, step: number): Promise<void> {
  const { checkpoint } = await findResumeCheckpoint(dir, step);
  assert.ok(checkpoint?.complete);
  const st = await loadCheckpointState(checkpoint);
  assert.equal(st.optimizer.step, step);
  assert.deepEqual([...st.optimizer.moments.keys()].sort(), [...want.optimizer.moments.keys()].sort());
  for (const [k, m] of want.optimizer.moments) {
    assertBits(st.optimizer.moments.get(k)?.expAvg, m.expAvg, `${k}.exp_avg`);
    assertBits(st.optimizer.moments.get(k)?.expAvgSq, m.expAvgSq, `${k}.exp_avg_sq`);
  }
  assert.deepEqual(st.training, want.training);
  assert.ok(want.weights.kind === 'adapter');
  const w = await loadCheckpointWeights(checkpoint);
  assert.ok(w.kind === 'adapter');
  assert.deepEqual([w.config.r, w.config.loraAlpha, w.config.loraDropout, w.config.targetModules, w.config.useDora, w.config.initLoraWeights], [2, 4, 0.1, ['q_proj'], false, 'gaussian']);
  assert.deepEqual([...w.tensors.keys()].sort(), [...want.weights.tensors.keys()].sort());
  for (const [k, v] of want.weights.tensors) assertBits(w.tensors.get(k)?.data, v.data, k);
  const ts = await readTrainerState(join(checkpoint.dir, 'trainer_state.json'));
  assert.equal(ts.global_step, step);
}

test('a checkpoint round-trips its adapter, optimizer, scheduler / RNG / sampler and trainer state exactly', async () => {
  const out = await tmp();
  try {
    const c = demoContents(3, 1000);
    const dir = await saveCheckpoint(out, 3, c);
    assert.equal(dir, join(out, 'checkpoint-3'));
    assert.deepEqual((await readdir(dir)).sort(), ['adapter_config.json', 'adapter_model.safetensors', 'checkpoint.json', 'optimizer.safetensors', 'trainer_state.json', 'training_state.json']);
    assert.deepEqual(await readdir(out), ['checkpoint-3']); // no temp folder left
    await assertCheckpointHolds(out, c, 3);
    const marker = JSON.parse(await readFile(join(dir, 'checkpoint.json'), 'utf8')) as { files: Record<string, number>; weights: string };
    assert.equal(marker.weights, 'adapter');
    assert.deepEqual(Object.keys(marker.files).sort(), ['adapter_config.json', 'adapter_model.safetensors', 'optimizer.safetensors', 'trainer_state.json', 'training_state.json']);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});

test('a full-model checkpoint holds model.safetensors + config.json that Checkpoint reads', async () => {
  const out = await tmp();
  try {
    const c = demoContents(1, 4);
    const w = new Float32Array([1.5, -2, 0.25, 3e-39]);
    await saveCheckpoint(out, 1, { ...c, weights: { kind: 'model', config: { model_type: 'qwen2_vl', dtype: 'bfloat16' }, tensors: new Map([['model.norm.weight', { shape: [4], data: w }]]) } });
    const { checkpoint } = await findResumeCheckpoint(out, 'auto');
    assert.equal(checkpoint?.weights, 'model');
    const ck = await Checkpoint.open(checkpoint.dir);
    assertBits(await ck.readFloat32('model.norm.weight', [4]), w, 'model.norm.weight');
    await ck.close();
    const back = await loadCheckpointWeights(checkpoint);
    assert.equal(back.kind, 'model');
    assert.deepEqual([...back.tensors.keys()], ['model.norm.weight']);
    assertBits(back.tensors.get('model.norm.weight')?.data, w, 'loadCheckpointWeights');
    assert.equal(JSON.parse(await readFile(join(checkpoint.dir, 'config.json'), 'utf8')).dtype, 'float32');
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});

test('optimizer state file: bits, step, and a foreign file is refused', async () => {
  const dir = await tmp();
  try {
    const { optimizer } = demoContents(7, 33);
    const p = join(dir, 'optimizer.safetensors');
    await writeOptimizerState(p, optimizer);
    const back = await readOptimizerState(p);
    assert.equal(back.step, 7);
    for (const [k, m] of optimizer.moments) assertBits(back.moments.get(k)?.expAvgSq, m.expAvgSq, k);
    const { writeSafetensors } = await import('../io/weights/safetensors-write.ts');
    await writeSafetensors(p, { 'w.exp_avg': { dtype: 'F32', shape: [1], data: new Float32Array(1) } }, { format: 'pt' });
    await assert.rejects(readOptimizerState(p), /not an optimizer state of ours \(metadata format 'pt'/);
    await assert.rejects(saveCheckpoint(dir, 8, demoContents(7, 3)), /training state is at step 7, the checkpoint is step 8/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('save_total_limit deletes the oldest complete checkpoints, never the newest nor folders we did not write', async () => {
  const out = await tmp();
  try {
    await mkdir(join(out, 'checkpoint-5')); // e.g. the reference trainer's, or a partial copy: no marker
    await writeFile(join(out, 'checkpoint-5', 'optimizer.pt'), 'x');
    for (const s of [10, 20, 30, 40]) await saveCheckpoint(out, s, demoContents(s, 8), { saveTotalLimit: 2 });
    const steps = async () => (await listCheckpoints(out)).map((c) => `${c.step}${c.complete ? '' : '?'}`);
    assert.deepEqual(await steps(), ['5?', '30', '40']);
    await saveCheckpoint(out, 50, demoContents(50, 8), { saveTotalLimit: 1 });
    assert.deepEqual(await steps(), ['5?', '50']);
    assert.deepEqual(await rotateCheckpoints(out, 0), []);
    // Saving a step again replaces it whole.
    const again = demoContents(50, 8);
    await saveCheckpoint(out, 50, { ...again, training: { ...again.training, sampler: { position: 'second' } } }, { saveTotalLimit: 1 });
    assert.deepEqual(await steps(), ['5?', '50']);
    const { checkpoint } = await findResumeCheckpoint(out, 'auto');
    assert.deepEqual((await loadCheckpointState(checkpoint!)).training.sampler, { position: 'second' });
    assert.deepEqual((await readdir(out)).sort(), ['checkpoint-5', 'checkpoint-50']);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});

test('findResumeCheckpoint: auto takes the newest complete one; a named step must exist and be complete', async () => {
  const out = await tmp();
  try {
    assert.equal((await findResumeCheckpoint(join(out, 'nothing-yet'), 'auto')).checkpoint, undefined);
    await saveCheckpoint(out, 2, demoContents(2, 8));
    await saveCheckpoint(out, 4, demoContents(4, 8));
    await saveCheckpoint(out, 6, demoContents(6, 8));
    await truncate(join(out, 'checkpoint-6', 'optimizer.safetensors'), 100); // damaged after the save
    await mkdir(join(out, 'checkpoint-8'));
    const auto = await findResumeCheckpoint(out, 'auto');
    assert.equal(auto.checkpoint?.step, 4);
    assert.deepEqual(auto.skipped.map((s) => [s.step, s.problem]), [
      [6, 'optimizer.safetensors has 100 bytes, the marker says ' + JSON.parse(await readFile(join(out, 'checkpoint-6', 'checkpoint.json'), 'utf8')).files['optimizer.safetensors']],
      [8, 'no checkpoint.json (not written whole by vlm2vec train)'],
    ]);
    assert.equal((await findResumeCheckpoint(out, 'none')).checkpoint, undefined);
    assert.equal((await findResumeCheckpoint(out, 2)).checkpoint?.dir, join(out, 'checkpoint-2'));
    await assert.rejects(findResumeCheckpoint(out, 3), /resume_from 3: .*checkpoint-3 does not exist \(complete checkpoints: 2, 4\)/);
    await assert.rejects(findResumeCheckpoint(out, 6), /resume_from 6: .*checkpoint-6 is incomplete: optimizer\.safetensors has 100 bytes/);
    await assert.rejects(findResumeCheckpoint(out, 8), /resume_from 8: .*is incomplete: no checkpoint\.json/);
    await assert.rejects(findResumeCheckpoint(out, -1), /resume_from must be 'auto', 'none' or a step number/);
    const ts = join(out, 'checkpoint-2', 'training_state.json');
    await writeFile(ts, '{'.padEnd((await readFile(ts)).length)); // same size, not JSON
    await assert.rejects(loadCheckpointState((await findResumeCheckpoint(out, 2)).checkpoint!), /checkpoint-2\/training_state\.json: unreadable/);
    await writeFile(join(out, 'checkpoint-4', 'checkpoint.json'), '{"format": "vlm2vec-checkpoint/1", "step": 5, "files": {}}');
    assert.equal((await findResumeCheckpoint(out, 'auto')).checkpoint?.step, 2);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});

interface ChildResult {
  signal: NodeJS.Signals | null;
  code: number | null;
  phases: string[];
}

/** Runs the helper saving `step`; kills it when it blocks at `blockAt`, or `afterMs` after `startAt` is announced. */
function runChild(out: string, step: number, floats: number, kill: { blockAt: SavePhase } | { startAt: SavePhase; afterMs: number } | undefined): Promise<ChildResult> {
  const args = ['--import', 'tsx', HELPER, out, String(step), String(floats)];
  if (kill && 'blockAt' in kill) args.push(kill.blockAt);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const phases: string[] = [];
  let buf = '';
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      phases.push(line);
      if (kill && 'blockAt' in kill && line === `blocked ${kill.blockAt}`) child.kill('SIGKILL');
      if (kill && 'startAt' in kill && line === `phase ${kill.startAt}`) setTimeout(() => child.kill('SIGKILL'), kill.afterMs);
    }
  });
  return new Promise((res) => child.on('exit', (code, signal) => res({ code, signal, phases })));
}

test('SIGKILL during a save never leaves a checkpoint that resume trusts', { timeout: 180_000 }, async () => {
  const out = await tmp();
  const FLOATS = 8_000_000; // 2 × 32 MB of moments
  try {
    const first = demoContents(1, 1000);
    await saveCheckpoint(out, 1, first);
    const second = demoContents(2, FLOATS);
    // Killed at the start of each phase before the rename: checkpoint-2 does not exist, step 1 is found.
    for (const phase of ['weights', 'optimizer', 'state', 'marker', 'sync', 'rename'] as const) {
      const r = await runChild(out, 2, FLOATS, { blockAt: phase });
      assert.equal(r.signal, 'SIGKILL', `${phase}: ${r.phases.join(', ')}`);
      assert.ok(r.phases.includes(`blocked ${phase}`));
      const { checkpoint } = await findResumeCheckpoint(out, 'auto');
      assert.equal(checkpoint?.step, 1, `killed at ${phase}`);
      assert.deepEqual((await listCheckpoints(out)).map((c) => c.step), [1], `killed at ${phase}`);
      if (phase !== 'weights') assert.ok((await readdir(out)).includes('tmp-checkpoint-2'), 'the half-written temp folder is left behind');
    }
    await assertCheckpointHolds(out, first, 1);
    // Killed at random moments inside the 64 MB optimizer write (or just after): whatever resume
    // finds is complete and holds exactly what its save wrote.
    let midWrite = 0;
    for (const ms of [1, 5, 15, 40]) {
      const r = await runChild(out, 2, FLOATS, { startAt: 'optimizer', afterMs: ms });
      if (r.signal === 'SIGKILL' && !r.phases.includes('phase rename')) midWrite++;
      const { checkpoint } = await findResumeCheckpoint(out, 'auto');
      assert.ok(checkpoint?.complete);
      await assertCheckpointHolds(out, checkpoint.step === 1 ? first : second, checkpoint.step);
    }
    assert.ok(midWrite >= 1, 'at least one kill landed inside the optimizer write');
    // Killed after the rename (while rotating): checkpoint-2 is complete and is the one resumed.
    const r = await runChild(out, 2, FLOATS, { blockAt: 'rotate' });
    assert.equal(r.signal, 'SIGKILL');
    assert.equal((await findResumeCheckpoint(out, 'auto')).checkpoint?.step, 2);
    await assertCheckpointHolds(out, second, 2);
    // The next save clears stale temp folders (one run writes OUT at a time).
    await mkdir(join(out, 'tmp-checkpoint-99'));
    await saveCheckpoint(out, 3, demoContents(3, 8));
    assert.deepEqual((await readdir(out)).filter((n) => n.startsWith('tmp-')), []);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});
