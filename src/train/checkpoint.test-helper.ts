// Deterministic checkpoint contents for the checkpoint tests, and (run as a script) a child process
// that saves one, announcing each save phase on stdout so the test can SIGKILL it at that phase:
//   node --import tsx src/train/checkpoint.test-helper.ts OUT STEP FLOATS [BLOCK_AT_PHASE]
// With BLOCK_AT_PHASE the child stops there (blocked) until it is killed.

import { writeSync } from 'node:fs';
import { newTrainerState } from './checkpoint-trainer-state.ts';
import { saveCheckpoint, type CheckpointContents } from './checkpoint.ts';
import { rng } from '../util/random.ts';

const Q = 'model.layers.0.self_attn.q_proj';

/** Arbitrary float32 bit patterns (NaN payloads, -0, subnormals included) from a seed. */
export function randomBits(n: number, seed: number): Float32Array {
  const r = rng(seed);
  const u = new Uint32Array(n);
  for (let i = 0; i < n; i++) u[i] = (r() * 2 ** 32) >>> 0;
  u[0] = 0x80000000; // -0
  if (n > 2) u[1] = 0x7fc01234; // a NaN with a payload
  if (n > 2) u[2] = 0x00000001; // the smallest subnormal
  return new Float32Array(u.buffer);
}

/** The contents a run would save at `step`: a DoRA-free LoRA on one q_proj, moments of `floats` values each. */
export function demoContents(step: number, floats: number): CheckpointContents {
  return {
    weights: {
      kind: 'adapter',
      config: { r: 2, loraAlpha: 4, loraDropout: 0.1, targetModules: ['q_proj'], useDora: false, useRslora: false, baseModelNameOrPath: 'tiny', revision: undefined, rankPattern: {}, alphaPattern: {}, initLoraWeights: 'gaussian' },
      tensors: new Map([
        [`${Q}.lora_A.weight`, { shape: [2, 4], data: randomBits(8, 1000 + step) }],
        [`${Q}.lora_B.weight`, { shape: [6, 2], data: randomBits(12, 2000 + step) }],
      ]),
    },
    optimizer: {
      step,
      moments: new Map([
        [`${Q}.lora_A.weight`, { expAvg: randomBits(floats, 3000 + step), expAvgSq: randomBits(floats, 4000 + step) }],
        [`${Q}.lora_B.weight`, { expAvg: randomBits(12, 5000 + step), expAvgSq: randomBits(12, 6000 + step) }],
      ]),
    },
    training: {
      globalStep: step,
      scheduler: { last_epoch: step, base_lrs: [5e-5], last_lr: 0.1 + 0.2 },
      rng: { kind: 'mulberry32', state: [0xffffffff, 2 ** 53 - 1, step] },
      sampler: { source_order_position: 128 * step, sources: { 'MSCOCO_t2i': 7, 'VisDial': -0.5 } },
    },
    trainerState: newTrainerState({ global_step: step, max_steps: 10, save_steps: 1, logging_steps: 1, log_history: [{ step, loss: 1.25, learning_rate: 5e-5, grad_norm: 0.5, epoch: step / 10 }] }),
  };
}

if (process.argv[1] === import.meta.filename) {
  const [out, stepS, floatsS, blockAt] = process.argv.slice(2) as [string, string, string, string | undefined];
  const step = Number(stepS);
  await saveCheckpoint(out, step, demoContents(step, Number(floatsS)), {
    saveTotalLimit: 5,
    onPhase: (p) => {
      writeSync(1, `phase ${p}\n`); // synchronous: the parent must see it before we block
      if (p === blockAt) {
        writeSync(1, `blocked ${p}\n`);
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 120_000);
      }
    },
  });
}
