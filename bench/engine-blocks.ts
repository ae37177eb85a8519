// Decoder-block benchmark (issue 3 / issue 5): one Qwen2-VL text decoder layer at 2B width
// (hidden 1536, 12/2 heads, head_dim 128, MLP 8960), seq 512, batch 4, ours (jitted ONNX graph on
// ORT) vs PyTorch CPU (transformers' Qwen2VLDecoderLayer, SDPA) run with the same thread count by
// bench/engine-blocks.torch.py. Prints times and ratios; never asserts.
//
// Usage: node --import tsx bench/engine-blocks.ts [--threads N] [--reps N] [--batch N] [--seq N] [--small] [--cases a,b]
//   --small   a tiny layer (hidden 96) for a smoke run of the harness itself
//   --reps    timed runs per side and case (default 6). Ours and PyTorch (a persistent Python
//             process) alternate run by run — ours, torch, torch, ours, … — so drifts and bursts of
//             load on a shared machine hit both sides alike; the headline is the median of the
//             per-pair ratios, with their range.
// The PyTorch side needs torch + transformers in the Python reference environment (bench/python.ts:
// $VLM2VEC_PYTHON or tools/reference/.venv); without it the baseline is skipped with the reason printed.
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

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Jitted, Tensor } from '../src/tensor/index.ts';
import { arange, configureRuntime, expand, jit, onesLike, randn, realize, reshape, vjp } from '../src/tensor/index.ts';
import type { LinearParams } from '../src/nn/index.ts';
import { qwen2DecoderLayer, type Qwen2DecoderConfig, type Qwen2DecoderLayerParams } from '../src/models/qwen2-vl/decoder-layer.ts';
import { mropeRotary } from '../src/models/qwen2-vl/rope.ts';
import { referencePython } from './python.ts';

export interface BenchArgs {
  threads: number;
  reps: number;
  warmup: number;
  cases: CaseName[];
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
    reps: get('reps') ?? 6,
    warmup: 1,
    cases: parseCases(argv),
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

const cpuMs = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1000;

/** One timed run: wall and process CPU time (ours: the Node process incl. ORT's threads). */
interface Run {
  ms: number;
  cpu_ms: number;
}

async function timeOnce(fn: () => Promise<unknown>): Promise<Run> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await fn();
  const cpu = cpuMs(process.cpuUsage(c0));
  return { ms: performance.now() - t0, cpu_ms: cpu };
}

function parseCases(argv: readonly string[]): CaseName[] {
  const i = argv.indexOf('--cases');
  if (i < 0) return [...CASES];
  const names = (argv[i + 1] ?? '').split(',').filter(Boolean);
  const bad = names.filter((n) => !(CASES as readonly string[]).includes(n));
  if (bad.length > 0 || names.length === 0) throw new Error(`--cases: unknown ${bad.join(', ') || '(none)'}; one or more of ${CASES.join(', ')}`);
  return names as CaseName[];
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
  const rotary = mropeRotary(positions, { headDim: config.headDim, theta: config.ropeTheta, mropeSection: config.mropeSection });
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
    // Every target of this bench has a bias or not as its base layer does: the spread keeps it.
    const lora = (t: (typeof targets)[number]) => ({ ...target(params, t), lora_A: { weight: ad[t].A }, lora_B: { weight: ad[t].B }, lora_scaling: 2 }) as Qwen2DecoderLayerParams['self_attn']['q_proj'];
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

/** The PyTorch side as a persistent process answering one timed run per request. */
class TorchServer {
  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly lines: AsyncIterator<string>,
    readonly version: string,
  ) {}

  /** Starts the server, or returns why the baseline is skipped. */
  static async start(a: BenchArgs): Promise<TorchServer | string> {
    const { python, missing } = referencePython();
    if (python === undefined) return missing;
    const script = fileURLToPath(new URL('./engine-blocks.torch.py', import.meta.url));
    const child = spawn(python, [script, JSON.stringify({ ...a, serve: true })], {
      env: { ...process.env, OMP_NUM_THREADS: String(a.threads), MKL_NUM_THREADS: String(a.threads) },
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const first = await lines.next();
    if (first.done) return `PyTorch baseline failed: ${stderr.trim().split('\n').slice(-3).join(' | ')}`;
    const hello = JSON.parse(first.value as string) as { torch: string; threads: number };
    return new TorchServer(child, lines, `torch ${hello.torch}, ${hello.threads} threads`);
  }

  async run(c: CaseName): Promise<Run> {
    this.child.stdin.write(`${c}\n`);
    const r = await this.lines.next();
    if (r.done) throw new Error(`the PyTorch process ended while timing ${c}`);
    return JSON.parse(r.value as string) as Run;
  }

  stop(): void {
    this.child.stdin.end('\n');
  }
}

const fmt = (ms: number): string => `${ms.toFixed(0)} ms`;

export async function benchDecoderBlock(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  const a = parseArgs(argv);
  console.log(
    `decoder block: hidden ${a.hidden}, heads ${a.heads}/${a.kvHeads}, head_dim ${a.hidden / a.heads}, ` +
      `mlp ${a.intermediate}, batch ${a.batch}, seq ${a.seq}, threads ${a.threads}, ${a.reps} paired reps, load ${loadavg()[0]!.toFixed(1)}`,
  );
  const ours = await makeOurs(a);
  const torch = await TorchServer.start(a);
  if (typeof torch === 'string') console.log(`  PyTorch baseline skipped: ${torch}`);
  const rows: string[] = [];
  try {
    for (const c of a.cases) {
      const first = await timeOnce(ours.run[c]); // traces + compiles
      console.log(`  ${c}: ours' first call incl. trace+compile ${fmt(first.ms)}`);
      if (typeof torch !== 'string') await torch.run(c); // warm-up (peft injection, allocator)
      const mine: Run[] = [];
      const theirs: Run[] = [];
      for (let i = 0; i < a.reps; i++) {
        // ABBA order: a drift during the pair affects both sides alike on average.
        if (i % 2 === 0 || typeof torch === 'string') mine.push(await timeOnce(ours.run[c]));
        if (typeof torch !== 'string') theirs.push(await torch.run(c));
        if (i % 2 === 1 && typeof torch !== 'string') mine.push(await timeOnce(ours.run[c]));
      }
      const line = (who: string, rs: readonly Run[]): string =>
        `  ${who} ${c.padEnd(21)} median ${fmt(median(rs.map((r) => r.ms)))}, best ${fmt(best(rs.map((r) => r.ms)))}, cpu median ${fmt(median(rs.map((r) => r.cpu_ms)))}`;
      console.log(line('ours ', mine));
      if (theirs.length === 0) continue;
      console.log(line('torch', theirs));
      const wall = mine.map((m, i) => m.ms / theirs[i]!.ms);
      const cpu = mine.map((m, i) => m.cpu_ms / theirs[i]!.cpu_ms);
      rows.push(
        `  ratio ${c.padEnd(21)} wall ${median(wall).toFixed(2)} (pairs ${Math.min(...wall).toFixed(2)}–${Math.max(...wall).toFixed(2)}), ` +
          `cpu ${median(cpu).toFixed(2)}`,
      );
    }
  } finally {
    if (typeof torch !== 'string') torch.stop();
  }
  const s = ours.sessions().filter((_, i) => a.cases.includes(CASES[i]!));
  if (s.some((n) => n !== 1)) console.log(`  note: sessions built ${s.join('/')} (expected 1 each)`);
  if (typeof torch === 'string') return;
  console.log(`  (${torch.version}; ours/torch, median of ${a.reps} paired runs; target ≤ 1; load now ${loadavg()[0]!.toFixed(1)})`);
  for (const r of rows) console.log(r);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await benchDecoderBlock();
}
