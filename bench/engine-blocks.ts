// Decoder-block benchmark (issue 3 / issue 5): one Qwen2-VL text decoder layer at 2B width
// (hidden 1536, 12/2 heads, head_dim 128, MLP 8960), seq 512, batch 4, ours (jitted ONNX graph on
// ORT) vs PyTorch CPU (transformers' Qwen2VLDecoderLayer, SDPA) run with the same thread count by
// bench/engine-blocks.torch.py. Prints times and ratios; never asserts.
//
// Usage: node --import tsx bench/engine-blocks.ts [--threads N] [--reps N] [--rounds N] [--batch N] [--seq N] [--small]
//   --small   a tiny layer (hidden 96) for a smoke run of the harness itself
//   --rounds  ours and PyTorch alternate this many times (default 2); figures are the best over
//             all rounds, so a burst of load from other processes hits both sides alike
// The PyTorch side needs a venv with torch + transformers: $VLM2VEC_REFENV (default /work/refenv);
// without it the baseline is skipped with the reason printed.
//
// What each case computes:
//   forward           parameters are graph inputs (as in training, no pre-packing); PyTorch under
//                     torch.no_grad().
//   inference         the embedder's situation: weights captured by the jitted function, i.e. graph
//                     initializers that ORT pre-packs; PyTorch under torch.inference_mode().
//   forward+backward  the output, and gradients of every parameter and of the input for a ones
//                     cotangent. Ours: parameters are graph inputs and output and gradients come
//                     back to JS (that copy is part of our time); PyTorch: .backward() leaving
//                     .grad in place.
//   lora_forward_backward  VLM2Vec's training situation: rank-16 LoRA adapters on q, k, v, o and
//                     down_proj are the graph inputs (gradients of them and of the input come back);
//                     the frozen base weights are initializers. PyTorch: peft LoRA, dropout 0.
// Besides wall time, each rep's process CPU time is printed (ours: Node process incl. ORT threads;
// PyTorch: time.process_time()): on a loaded machine it is the steadier measure of work done.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Jitted, Tensor } from '../src/tensor/index.ts';
import { arange, configureRuntime, expand, jit, onesLike, randn, realize, reshape, vjp } from '../src/tensor/index.ts';
import type { LinearParams, Qwen2DecoderConfig, Qwen2DecoderLayerParams } from '../src/nn/index.ts';
import { qwen2DecoderLayer, textRotary } from '../src/nn/index.ts';

export interface BenchArgs {
  threads: number;
  reps: number;
  rounds: number;
  warmup: number;
  batch: number;
  seq: number;
  hidden: number;
  intermediate: number;
  heads: number;
  kvHeads: number;
  mropeSection: number[];
  loraRank: number;
}

export function parseArgs(argv: readonly string[]): BenchArgs {
  const get = (name: string): number | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? Number(argv[i + 1]) : undefined;
  };
  const small = argv.includes('--small');
  return {
    threads: get('threads') ?? availableParallelism(),
    reps: get('reps') ?? 3,
    rounds: get('rounds') ?? 2,
    warmup: 1,
    batch: get('batch') ?? (small ? 2 : 4),
    seq: get('seq') ?? (small ? 64 : 512),
    hidden: small ? 96 : 1536,
    intermediate: small ? 160 : 8960,
    heads: 12,
    kvHeads: 2,
    mropeSection: small ? [2, 1, 1] : [16, 24, 24],
    loraRank: 16,
  };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Best of the repetitions: on a shared machine the minimum is the least disturbed run. */
const best = (xs: readonly number[]): number => Math.min(...xs);

interface Timing {
  /** First call (trace + compile + run), when this round built the session. */
  first?: number;
  times: number[];
  cpu: number[];
  /** 1-minute load average when the reps started. */
  load: number;
}

const cpuMs = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1000;

async function timeIt(fn: () => Promise<unknown>, a: BenchArgs, compile: boolean): Promise<Timing> {
  let first: number | undefined;
  for (let i = 0; i < a.warmup; i++) {
    const t0 = performance.now();
    await fn(); // the first call traces + compiles
    if (i === 0 && compile) first = performance.now() - t0;
  }
  const load = loadavg()[0]!;
  const times: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < a.reps; i++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    await fn();
    cpu.push(cpuMs(process.cpuUsage(c0)));
    times.push(performance.now() - t0);
  }
  return { ...(first === undefined ? {} : { first }), times, cpu, load };
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

export const CASES = ['forward', 'inference', 'forward_backward', 'lora_forward_backward'] as const;
export type CaseName = (typeof CASES)[number];
type Runner = Record<CaseName, () => Promise<unknown>>;

/** A jitted case and the arguments it is timed with (bench/profile-decoder.ts exports these). */
export interface JitCase {
  fn: Jitted<unknown[], unknown>;
  args: unknown[];
}

export async function makeOurs(a: BenchArgs): Promise<{ run: Runner; sessions: () => number[]; graphs: Record<CaseName, JitCase> }> {
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

  const layer = (p: Qwen2DecoderLayerParams, h: Tensor): Tensor => qwen2DecoderLayer(p, h, { config, rotary });
  const forward = jit(layer, { name: 'decoder_forward' });
  const inference = jit((h: Tensor) => layer(params, h), { name: 'decoder_inference' });
  const trainStep = jit(
    (p: Qwen2DecoderLayerParams, h: Tensor) => {
      const { out, vjp: pull } = vjp(layer, p, h);
      // The output comes back too: a training step needs it for the loss, and without it the
      // last forward product (down_proj) would be dead code under a constant cotangent.
      return { out, grads: pull(onesLike(out)) };
    },
    { name: 'decoder_forward_backward' },
  );
  // LoRA on q, k, v, o, down_proj (VLM2Vec's targets), scaling alpha/r = 2, B nonzero.
  const targets = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'down_proj'] as const;
  type Adapters = Record<(typeof targets)[number], { A: Tensor; B: Tensor }>;
  const target = (p: Qwen2DecoderLayerParams, t: (typeof targets)[number]): LinearParams =>
    t === 'down_proj' ? p.mlp.down_proj : p.self_attn[t];
  let seed = 500;
  const adapters = Object.fromEntries(
    targets.map((t) => {
      const [o, i] = target(params, t).weight.shape as [number, number];
      return [t, { A: randn([a.loraRank, i], { seed: seed++, std: 1 / a.loraRank }), B: randn([o, a.loraRank], { seed: seed++, std: 0.02 }) }];
    }),
  ) as Adapters;
  await realize(adapters);
  const withAdapters = (ad: Adapters): Qwen2DecoderLayerParams => {
    const lora = (t: (typeof targets)[number]): LinearParams => ({ ...target(params, t), lora_A: { weight: ad[t].A }, lora_B: { weight: ad[t].B }, lora_scaling: 2 });
    return {
      ...params,
      self_attn: { q_proj: lora('q_proj'), k_proj: lora('k_proj'), v_proj: lora('v_proj'), o_proj: lora('o_proj') },
      mlp: { ...params.mlp, down_proj: lora('down_proj') },
    };
  };
  const loraStep = jit(
    (ad: Adapters, h: Tensor) => {
      const { out, vjp: pull } = vjp((ad2: Adapters, h2: Tensor) => layer(withAdapters(ad2), h2), ad, h);
      return { out, grads: pull(onesLike(out)) };
    },
    { name: 'decoder_lora_forward_backward' },
  );
  const graphs: Record<CaseName, JitCase> = {
    forward: { fn: forward as Jitted<unknown[], unknown>, args: [params, x] },
    inference: { fn: inference as Jitted<unknown[], unknown>, args: [x] },
    forward_backward: { fn: trainStep as Jitted<unknown[], unknown>, args: [params, x] },
    lora_forward_backward: { fn: loraStep as Jitted<unknown[], unknown>, args: [adapters, x] },
  };
  return {
    run: Object.fromEntries(CASES.map((c) => [c, () => graphs[c].fn(...graphs[c].args)])) as Runner,
    sessions: () => CASES.map((c) => graphs[c].fn.sessionCount),
    graphs,
  };
}

type TorchResult = Record<string, number[]> & { threads: number; torch: string };

function runTorch(a: BenchArgs): TorchResult | string {
  const venv = process.env.VLM2VEC_REFENV ?? '/work/refenv';
  const python = `${venv}/bin/python`;
  if (!existsSync(python)) return `no PyTorch reference venv at ${venv} (set VLM2VEC_REFENV)`;
  const script = fileURLToPath(new URL('./engine-blocks.torch.py', import.meta.url));
  const r = spawnSync(python, [script, JSON.stringify({ ...a, cases: CASES })], {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: String(a.threads), MKL_NUM_THREADS: String(a.threads) },
    maxBuffer: 1 << 20,
  });
  if (r.status !== 0) return `PyTorch baseline failed (exit ${r.status}): ${(r.stderr ?? '').trim().split('\n').slice(-3).join(' | ')}`;
  const line = r.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as TorchResult;
}

const fmt = (ms: number): string => `${ms.toFixed(0)} ms`;
const fmtLoads = (ls: readonly number[]): string => ls.map((l) => l.toFixed(1)).join('/');

export async function benchDecoderBlock(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  const a = parseArgs(argv);
  console.log(
    `decoder block: hidden ${a.hidden}, heads ${a.heads}/${a.kvHeads}, head_dim ${a.hidden / a.heads}, ` +
      `mlp ${a.intermediate}, batch ${a.batch}, seq ${a.seq}, threads ${a.threads}, ${a.rounds} rounds x ${a.reps} reps`,
  );
  const ours = await makeOurs(a);
  const acc = (): Record<CaseName, { times: number[]; cpu: number[]; loads: number[] }> =>
    Object.fromEntries(CASES.map((c) => [c, { times: [], cpu: [], loads: [] }])) as never;
  const mine = acc();
  const theirs = acc();
  let torchSkip: string | undefined;
  let torchVersion = '';
  for (let round = 0; round < a.rounds; round++) {
    for (const c of CASES) {
      const t = await timeIt(ours.run[c], a, round === 0);
      mine[c].times.push(...t.times);
      mine[c].cpu.push(...t.cpu);
      mine[c].loads.push(t.load);
      if (t.first !== undefined) console.log(`  ours  ${c.padEnd(21)} first call incl. trace+compile ${fmt(t.first)}`);
    }
    if (torchSkip) continue;
    const load = loadavg()[0]!;
    const torch = runTorch(a);
    if (typeof torch === 'string') {
      torchSkip = torch;
      continue;
    }
    torchVersion = `torch ${torch.torch}, ${torch.threads} threads`;
    for (const c of CASES) {
      theirs[c].times.push(...(torch[`${c}_ms`] ?? []));
      theirs[c].cpu.push(...(torch[`${c}_cpu_ms`] ?? []));
      theirs[c].loads.push(load);
    }
  }
  const s = ours.sessions();
  if (s.some((n) => n !== 1)) console.log(`  note: sessions built ${s.join('/')} (expected 1 each)`);
  for (const c of CASES) {
    const m = mine[c];
    console.log(`  ours  ${c.padEnd(21)} best ${fmt(best(m.times))}, median ${fmt(median(m.times))}, cpu best ${fmt(best(m.cpu))}  (load ${fmtLoads(m.loads)})`);
    if (torchSkip) continue;
    const t = theirs[c];
    console.log(`  torch ${c.padEnd(21)} best ${fmt(best(t.times))}, median ${fmt(median(t.times))}, cpu best ${fmt(best(t.cpu))}  (load ${fmtLoads(t.loads)})`);
  }
  if (torchSkip) {
    console.log(`  PyTorch baseline skipped: ${torchSkip}`);
    return;
  }
  console.log(`  (${torchVersion}; ratios ours/torch, best of ${a.rounds * a.reps}; target ≤ 1)`);
  for (const c of CASES) {
    const wall = best(mine[c].times) / best(theirs[c].times);
    const cpu = best(mine[c].cpu) / best(theirs[c].cpu);
    console.log(`  ratio ${c.padEnd(21)} wall ${wall.toFixed(2)}, cpu ${cpu.toFixed(2)}`);
  }
  const fb = (r: typeof mine): string => (best(r.forward_backward.times) / best(r.forward.times)).toFixed(2);
  console.log(`  forward+backward / forward: ours ${fb(mine)}${torchSkip ? '' : `, torch ${fb(theirs)}`}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await benchDecoderBlock();
}
