// Decoder-block benchmark (issue 3): forward and forward+backward time of one Qwen2-VL text
// decoder layer at 2B width (hidden 1536, 12/2 heads, head_dim 128, MLP 8960), seq 512, batch 4,
// ours (jitted ONNX graph on ORT) vs PyTorch CPU (transformers' Qwen2VLDecoderLayer, SDPA) run
// with the same thread count by bench/engine-blocks.torch.py. Prints times and ratios; never asserts.
//
// Usage: node --import tsx bench/engine-blocks.ts [--threads N] [--reps N] [--batch N] [--seq N] [--small]
//   --small   a tiny layer (hidden 96) for a smoke run of the harness itself
// The PyTorch side needs a venv with torch + transformers: $VLM2VEC_REFENV (default /work/refenv);
// without it the baseline is skipped with the reason printed.
//
// What each side computes:
//   forward           frozen weights. Ours: weights captured as graph initializers (ORT pre-packs
//                     them); PyTorch: torch.no_grad().
//   forward+backward  gradients of every parameter and of the input for a ones cotangent. Ours:
//                     parameters are graph inputs and the gradients come back to JS (that copy is
//                     part of our time); PyTorch: .backward() leaving .grad in place.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Tensor } from '../src/tensor/index.ts';
import { arange, configureRuntime, expand, jit, onesLike, randn, realize, reshape, vjp } from '../src/tensor/index.ts';
import type { Qwen2DecoderConfig, Qwen2DecoderLayerParams } from '../src/nn/index.ts';
import { qwen2DecoderLayer, textRotary } from '../src/nn/index.ts';

interface BenchArgs {
  threads: number;
  reps: number;
  warmup: number;
  batch: number;
  seq: number;
  hidden: number;
  intermediate: number;
  heads: number;
  kvHeads: number;
  mropeSection: number[];
}

function parseArgs(argv: readonly string[]): BenchArgs {
  const get = (name: string): number | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? Number(argv[i + 1]) : undefined;
  };
  const small = argv.includes('--small');
  return {
    threads: get('threads') ?? availableParallelism(),
    reps: get('reps') ?? 5,
    warmup: 1,
    batch: get('batch') ?? (small ? 2 : 4),
    seq: get('seq') ?? (small ? 64 : 512),
    hidden: small ? 96 : 1536,
    intermediate: small ? 160 : 8960,
    heads: 12,
    kvHeads: 2,
    mropeSection: small ? [2, 1, 1] : [16, 24, 24],
  };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Best of the repetitions: on a shared machine the minimum is the least disturbed run. */
const best = (xs: readonly number[]): number => Math.min(...xs);

async function timeIt(fn: () => Promise<unknown>, a: BenchArgs): Promise<{ first: number; times: number[] }> {
  let t0 = performance.now();
  await fn(); // trace + compile + first run
  const first = performance.now() - t0;
  for (let i = 1; i < a.warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < a.reps; i++) {
    t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return { first, times };
}

function makeParams(a: BenchArgs): Qwen2DecoderLayerParams {
  const d = a.hidden;
  const hd = d / a.heads;
  let seed = 1;
  // Same scale as nn.Linear's default init (std ≈ 1/sqrt(3·fan_in)) keeps activations tame.
  const w = (o: number, i: number): Tensor => randn([o, i], { seed: seed++, std: 1 / Math.sqrt(3 * i) });
  const v = (n: number, std: number): Tensor => randn([n], { seed: seed++, std });
  return {
    input_layernorm: { weight: v(d, 0.1).add(1) },
    self_attn: {
      q_proj: { weight: w(a.heads * hd, d), bias: v(a.heads * hd, 0.02) },
      k_proj: { weight: w(a.kvHeads * hd, d), bias: v(a.kvHeads * hd, 0.02) },
      v_proj: { weight: w(a.kvHeads * hd, d), bias: v(a.kvHeads * hd, 0.02) },
      o_proj: { weight: w(d, a.heads * hd) },
    },
    post_attention_layernorm: { weight: v(d, 0.1).add(1) },
    mlp: { gate_proj: { weight: w(a.intermediate, d) }, up_proj: { weight: w(a.intermediate, d) }, down_proj: { weight: w(d, a.intermediate) } },
  };
}

async function runOurs(a: BenchArgs): Promise<{ fwd: { first: number; times: number[] }; fwdBwd: { first: number; times: number[] } }> {
  configureRuntime({ threads: a.threads });
  const config: Qwen2DecoderConfig = {
    numAttentionHeads: a.heads,
    numKeyValueHeads: a.kvHeads,
    headDim: a.hidden / a.heads,
    rmsNormEps: 1e-6,
    ropeTheta: 1e6,
    mropeSection: a.mropeSection,
  };
  const params = makeParams(a);
  const x = randn([a.batch, a.seq, a.hidden], { seed: 99 });
  // cos/sin are computed once per batch and shared by all layers, as transformers does.
  const positions = expand(reshape(arange(a.seq), [1, 1, a.seq]), [3, a.batch, a.seq]);
  const rotary = textRotary(positions, { headDim: config.headDim, theta: config.ropeTheta, mropeSection: config.mropeSection });
  await realize([x, rotary.cos, rotary.sin, params]);

  const forward = jit((h: Tensor) => qwen2DecoderLayer(params, h, { config, rotary }), { name: 'decoder_forward' });
  const fwd = await timeIt(() => forward(x), a);

  const trainStep = jit(
    (p: Qwen2DecoderLayerParams, h: Tensor) => {
      const { out, vjp: pull } = vjp((pp: Qwen2DecoderLayerParams, hh: Tensor) => qwen2DecoderLayer(pp, hh, { config, rotary }), p, h);
      return pull(onesLike(out));
    },
    { name: 'decoder_forward_backward' },
  );
  const fwdBwd = await timeIt(() => trainStep(params, x), a);
  if (forward.sessionCount !== 1 || trainStep.sessionCount !== 1) {
    console.log(`  note: sessions built forward ${forward.sessionCount}, forward+backward ${trainStep.sessionCount} (expected 1 each)`);
  }
  return { fwd, fwdBwd };
}

interface TorchResult {
  forward_ms: number[];
  forward_backward_ms: number[];
  threads: number;
  torch: string;
}

function runTorch(a: BenchArgs): TorchResult | string {
  const venv = process.env.VLM2VEC_REFENV ?? '/work/refenv';
  const python = `${venv}/bin/python`;
  if (!existsSync(python)) return `no PyTorch reference venv at ${venv} (set VLM2VEC_REFENV)`;
  const script = fileURLToPath(new URL('./engine-blocks.torch.py', import.meta.url));
  const r = spawnSync(python, [script, JSON.stringify(a)], {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: String(a.threads), MKL_NUM_THREADS: String(a.threads) },
    maxBuffer: 1 << 20,
  });
  if (r.status !== 0) return `PyTorch baseline failed (exit ${r.status}): ${(r.stderr ?? '').trim().split('\n').slice(-3).join(' | ')}`;
  const line = r.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as TorchResult;
}

const fmt = (ms: number): string => `${ms.toFixed(1)} ms`;
const fmtRun = (times: readonly number[]): string => `best ${fmt(best(times))}, median ${fmt(median(times))}`;

export async function benchDecoderBlock(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  const a = parseArgs(argv);
  console.log(
    `decoder block: hidden ${a.hidden}, heads ${a.heads}/${a.kvHeads}, head_dim ${a.hidden / a.heads}, ` +
      `mlp ${a.intermediate}, batch ${a.batch}, seq ${a.seq}, threads ${a.threads}, reps ${a.reps}`,
  );
  const ours = await runOurs(a);
  console.log(`  ours  forward           ${fmtRun(ours.fwd.times)}   (first call incl. trace+compile ${fmt(ours.fwd.first)})`);
  console.log(`  ours  forward+backward  ${fmtRun(ours.fwdBwd.times)}   (first call incl. trace+compile ${fmt(ours.fwdBwd.first)})`);
  const torch = runTorch(a);
  if (typeof torch === 'string') {
    console.log(`  PyTorch baseline skipped: ${torch}`);
    return;
  }
  console.log(`  torch forward           ${fmtRun(torch.forward_ms)}   (torch ${torch.torch}, ${torch.threads} threads)`);
  console.log(`  torch forward+backward  ${fmtRun(torch.forward_backward_ms)}`);
  const rf = best(ours.fwd.times) / best(torch.forward_ms);
  const rb = best(ours.fwdBwd.times) / best(torch.forward_backward_ms);
  console.log(`  ratio ours/torch (best of ${a.reps}): forward ${rf.toFixed(2)}, forward+backward ${rb.toFixed(2)} (target ≤ 1)`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await benchDecoderBlock();
}
