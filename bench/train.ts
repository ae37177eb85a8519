// `npm run bench:train` (node --import tsx bench/train.ts [--threads N] [--steps N] [--skip-torch]
//   [--skip-large] [--large-batch N] [--arena] [--profile]):
// steps/s and peak RSS of one VLM2Vec training step, ours (src/train/step.ts TrainStep) against
// PyTorch + peft (bench/train.torch.py, the reference's GradCache step re-stated), in the same
// configuration: Qwen2-VL-2B's widths at reduced depth (2 language + 2 vision layers, random
// weights, float32), DoRA r 16 / alpha 64 / dropout 0.1 on the reference's default
// lora_target_modules, batch 8 queries (a 448×448 image = 256 tokens + 16 text tokens) against 8
// text targets (32 tokens), GradCache with chunks of 2, clip 1.0, AdamW. Each side runs in its own
// process (its own peak RSS), both with the same thread count, and the steps alternate (ours,
// then PyTorch's) so a change of machine load hits both alike.
// Then ours alone with GradCache at batch 64 (same chunks): its peak RSS against batch 8's (the
// goal is ≤ 1.3×: GradCache holds one chunk's activations whatever the batch).
// --profile: after the steps, one chunk of each kind timed phase by phase on both sides (graph
// building and ORT run apart for ours; the dropout masks and AdamW alone).
// Worker mode (`--worker ours --batch N`) is this file run as a child: it answers "step" lines.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { isTargetModule } from '../src/io/weights/peft.ts';
import { parseQwen2VLConfig } from '../src/models/qwen2-vl/config.ts';
import type { Qwen2VLBatch } from '../src/models/qwen2-vl/batch.ts';
import { qwen2VLTrainable, type Qwen2VLLoraFactors } from '../src/models/qwen2-vl/trainable.ts';
import { buildParams, qwen2VLParamSpecs } from '../src/models/qwen2-vl/weights.ts';
import { holdTensor, type HostWeights } from '../src/models/common/float16.ts';
import { configureRuntime, fromArray, realize, treeLeaves, vjp, type Tensor } from '../src/tensor/index.ts';
import { dropoutKeepMask, dropoutKey } from '../src/nn/dropout.ts';
import { REFERENCE_LORA_TARGETS } from '../src/train/args.ts';
import { AdamW, ADAMW_DEFAULTS } from '../src/train/optim.ts';
import { TrainStep } from '../src/train/step.ts';
import { referencePython } from './python.ts';

const argv = process.argv.slice(2);
const arg = (name: string, dflt: number): number => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : dflt;
};
const THREADS = arg('--threads', 2);
const STEPS = arg('--steps', 3);
const BATCH = 8;
const LARGE = arg('--large-batch', 64);
const CHUNK = 2;
// ORT's CPU memory arena off, as `vlm2vec train` runs (src/cli/train.ts): each run frees its
// activations instead of every session keeping its own peak (ours has four: forward and VJP of
// query and target chunks). --arena turns it on, for comparison.
const NO_ARENA = !argv.includes('--arena');
const LAYERS = 2;
const R = 16;
const ALPHA = 64;
const DROPOUT = 0.1;
const TEMPERATURE = 0.02;
const GRID = [1, 32, 32] as const; // 448×448 → 32×32 patches → 256 merged tokens
const Q_TEXT = 16;
const P_TEXT = 32;
const IMAGE_ID = 151655;
const VISION_START = 151652;
const VISION_END = 151653;

const CONFIG = {
  model_type: 'qwen2_vl', architectures: ['Qwen2VLForConditionalGeneration'],
  vocab_size: 151936, hidden_size: 1536, intermediate_size: 8960, num_hidden_layers: LAYERS,
  num_attention_heads: 12, num_key_value_heads: 2, rms_norm_eps: 1e-6, rope_theta: 1e6,
  max_position_embeddings: 32768, tie_word_embeddings: true,
  rope_scaling: { type: 'mrope', mrope_section: [16, 24, 24] },
  vision_config: { depth: LAYERS, embed_dim: 1280, num_heads: 16, mlp_ratio: 4, hidden_size: 1536, in_chans: 3, patch_size: 14, spatial_merge_size: 2, temporal_patch_size: 2 },
  image_token_id: IMAGE_ID, video_token_id: 151656, vision_start_token_id: VISION_START, vision_end_token_id: VISION_END,
};

/** xorshift32 uniform(-a, a): fast and deterministic. */
function randomArray(n: number, seed: number, a: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 4294967296 - 0.5) * 2 * a;
  }
  return out;
}

const text = (b: number, l: number, seed: number): number[][] =>
  Array.from({ length: b }, (_, r) => Array.from({ length: l }, (_, j) => 1000 + ((r * 7919 + j * 104729 + seed) % 50000)));
const queryIds = (b: number): number[][] => {
  const n = (GRID[0] * GRID[1] * GRID[2]) / 4;
  return text(b, Q_TEXT, 3).map((t) => [VISION_START, ...new Array<number>(n).fill(IMAGE_ID), VISION_END, ...t]);
};
const targetIds = (b: number): number[][] => text(b, P_TEXT, 5);

function batchOf(rows: number[][]): Qwen2VLBatch {
  const l = rows[0]!.length;
  return {
    inputIds: BigInt64Array.from(rows.flat(), BigInt), attentionMask: new BigInt64Array(rows.length * l).fill(1n), shape: [rows.length, l],
  };
}

/** Ours as a child process: set up, then one TrainStep per "step" line. */
async function worker(batch: number): Promise<void> {
  configureRuntime({ threads: THREADS, interOpThreads: 1, ...(NO_ARENA ? { cpuMemArena: false } : {}) });
  const cfg = parseQwen2VLConfig(CONFIG, { file: 'bench config' });
  const host: HostWeights = new Map();
  const factors: Qwen2VLLoraFactors = {};
  let seed = 1;
  for (const spec of qwen2VLParamSpecs(cfg)) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const isNorm = /norm|ln_q/.test(spec.path) && spec.path.endsWith('weight');
    const w = isNorm ? new Float32Array(n).fill(1) : randomArray(n, seed++, 0.03);
    host.set(spec.path, holdTensor(spec, w, 'float32'));
    const module = spec.path.replace(/\.weight$/, '');
    if (spec.role !== 'linear' || spec.shape.length !== 2 || !isTargetModule({ targetModules: [...REFERENCE_LORA_TARGETS] }, module)) continue;
    const [out, inF] = spec.shape as [number, number];
    const m = new Float32Array(out);
    for (let o = 0; o < out; o++) {
      let sq = 0;
      for (let i = 0; i < inF; i++) sq += w[o * inF + i]! ** 2;
      m[o] = Math.sqrt(sq);
    }
    // B ≠ 0, as after some steps (peft starts at 0; the cost is the same).
    factors[module] = { A: fromArray(randomArray(R * inF, seed++, 0.1), [R, inF]), B: fromArray(randomArray(out * R, seed++, 0.01), [out, R]), m: fromArray(m, [out]) };
  }
  const enc = qwen2VLTrainable(buildParams(host, cfg), cfg, { scaling: ALPHA / R, normalize: true, dropout: DROPOUT });
  const train = await TrainStep.create(enc, factors, {
    ...ADAMW_DEFAULTS, learningRate: 1e-5, schedule: 'constant', warmupSteps: 0, totalSteps: 1000, maxGradNorm: 1,
    temperature: TEMPERATURE, gradCache: { qChunkSize: CHUNK, pChunkSize: CHUNK }, seed: 42,
  });
  const patches = GRID[0] * GRID[1] * GRID[2];
  const queries: Qwen2VLBatch = {
    ...batchOf(queryIds(batch)), pixelValues: randomArray(batch * patches * 1176, 99, 1.5),
    imageGrids: Array.from({ length: batch }, () => GRID), imagesPerRow: new Array<number>(batch).fill(1),
  };
  const targets = batchOf(targetIds(batch));
  const trainable = train.master.reduce((n, p) => n + p.data.length, 0);
  process.stdout.write(`${JSON.stringify({ ready: true, trainable, modules: Object.keys(factors).length })}\n`);
  // One chunk of each kind, phase by phase (what a step repeats batch / chunk times per side).
  const profile = async (): Promise<Record<string, number>> => {
    const out: Record<string, number> = {};
    const random = { seed: 42, step: 0, firstRow: 0 };
    const factors = train.params;
    for (const [side, name, b] of [[0, 'query', queries], [1, 'target', targets]] as const) {
      const chunk = enc.sliceRows(b, 0, CHUNK);
      let t0 = performance.now();
      const r = enc.reps(factors, chunk, { ...random, side });
      out[`${name}_forward_build_ms`] = performance.now() - t0;
      t0 = performance.now();
      await r.data();
      out[`${name}_forward_run_ms`] = performance.now() - t0;
      t0 = performance.now();
      const { vjp: back } = vjp((f: Qwen2VLLoraFactors) => enc.reps(f, chunk, { ...random, side }), factors);
      const grads = treeLeaves(back(fromArray(new Float32Array(CHUNK * 1536).fill(1e-3), [CHUNK, 1536]))[0]) as Tensor[];
      out[`${name}_vjp_build_ms`] = performance.now() - t0;
      t0 = performance.now();
      await realize(grads);
      out[`${name}_vjp_run_ms`] = performance.now() - t0;
    }
    // The masks alone (generated while building): every adapted module of one query chunk.
    const l = queries.shape[1];
    let t0 = performance.now();
    for (const m of Object.keys(factors)) {
      const inF = /down_proj/.test(m) ? 8960 : 1536;
      dropoutKeepMask(dropoutKey({ seed: 42, step: 0, side: 0, module: m }), DROPOUT, 0, CHUNK * l, inF);
    }
    out['query_masks_ms'] = performance.now() - t0;
    t0 = performance.now();
    train.optimizer.adamw.step(train.master.map((p) => new Float32Array(p.data.length)), 0);
    out['adamw_ms'] = performance.now() - t0;
    return out;
  };
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.trim() === 'profile') {
      process.stdout.write(`${JSON.stringify(await profile())}\n`);
      continue;
    }
    if (line.trim() !== 'step') break;
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const info = await train.step(queries, targets);
    const c = process.cpuUsage(c0);
    process.stdout.write(`${JSON.stringify({ ms: performance.now() - t0, cpu_ms: (c.user + c.system) / 1000, loss: info.loss })}\n`);
  }
  process.stdout.write(`${JSON.stringify({ peak_rss_mb: process.resourceUsage().maxRSS / 1024 })}\n`);
}

interface StepRun { ms: number; cpu_ms: number; loss: number }

/** A line-protocol child (ours or PyTorch's). */
class Side {
  private stderr = '';
  private constructor(readonly name: string, private readonly child: ChildProcessWithoutNullStreams, private readonly lines: AsyncIterator<string>) {
    child.stderr.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-3000)));
  }

  static async start(name: string, cmd: string, args: string[]): Promise<{ side: Side; hello: Record<string, unknown> }> {
    const child = spawn(cmd, args, { env: { ...process.env, OMP_NUM_THREADS: String(THREADS), MKL_NUM_THREADS: String(THREADS) } });
    const side = new Side(name, child, createInterface({ input: child.stdout })[Symbol.asyncIterator]());
    return { side, hello: await side.next('setting up') };
  }

  private async next(what: string): Promise<Record<string, unknown>> {
    const r = await this.lines.next();
    if (r.done) throw new Error(`${this.name} ended while ${what}: ${this.stderr.trim().split('\n').slice(-4).join(' | ')}`);
    return JSON.parse(r.value as string) as Record<string, unknown>;
  }

  async step(): Promise<StepRun> {
    this.child.stdin.write('step\n');
    return (await this.next('stepping')) as unknown as StepRun;
  }

  async profile(): Promise<Record<string, number>> {
    this.child.stdin.write('profile\n');
    return (await this.next('profiling')) as Record<string, number>;
  }

  async stop(): Promise<number> {
    this.child.stdin.end('\n');
    return (await this.next('stopping')).peak_rss_mb as number;
  }
}

const self = fileURLToPath(import.meta.url);
const oursSide = (batch: number) => Side.start(`ours (batch ${batch})`, process.execPath,
  ['--import', 'tsx', self, '--worker', 'ours', '--batch', String(batch), '--threads', String(THREADS), ...(NO_ARENA ? [] : ['--arena'])]);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const load = (): string => loadavg()[0]!.toFixed(1);

/** AdamW's element loop per value, scalar vs the SIMD kernel (what full fine-tuning pays per step). */
function adamwPerValue(): { scalar: number; simd: number } {
  const n = 8_000_000;
  const make = () => new AdamW([{ name: 'w', data: randomArray(n, 7, 1), decay: true }], { ...ADAMW_DEFAULTS, weightDecay: 0.1 });
  const g = [randomArray(n, 8, 1e-3)];
  const simd = make();
  const scalar = make();
  scalar.simd = false;
  const t: { scalar: number[]; simd: number[] } = { scalar: [], simd: [] };
  for (let i = 0; i < 4; i++) {
    for (const [k, o] of [['scalar', scalar], ['simd', simd]] as const) {
      const t0 = performance.now();
      o.step(g, 1e-5);
      if (i > 0) t[k].push(((performance.now() - t0) * 1e6) / n);
    }
  }
  return { scalar: median(t.scalar), simd: median(t.simd) };
}

async function main(): Promise<void> {
  const adam = adamwPerValue();
  console.log(`AdamW element loop: scalar ${adam.scalar.toFixed(1)} ns/value, WebAssembly SIMD ${adam.simd.toFixed(1)} ns/value (${(adam.scalar / adam.simd).toFixed(1)}×; ` +
    `full fine-tuning of Qwen2-VL-2B's 2.2 G values: ${((2.2e9 * adam.scalar) / 1e9).toFixed(0)} s → ${((2.2e9 * adam.simd) / 1e9).toFixed(0)} s per step)`);
  console.log(`training step: Qwen2-VL-2B widths, ${LAYERS} LM + ${LAYERS} vision layers, DoRA r ${R} alpha ${ALPHA} dropout ${DROPOUT} on ${REFERENCE_LORA_TARGETS.join(',')}, ` +
    `batch ${BATCH} (queries: 448×448 image + ${Q_TEXT} tokens; targets: ${P_TEXT} tokens), GradCache chunks ${CHUNK}, ${THREADS} threads, ${STEPS} alternating steps after one warm-up each${NO_ARENA ? ', ORT arena off' : ', ORT arena on'}; load ${load()}`);
  const ours = await oursSide(BATCH);
  console.log(`  ours: ${ours.hello.trainable} trainable values in ${ours.hello.modules} modules`);
  const py = referencePython();
  let torch: { side: Side; hello: Record<string, unknown> } | string = argv.includes('--skip-torch') ? 'skipped (--skip-torch)' : py.missing ?? '';
  if (py.python !== undefined && torch === '') {
    const script = fileURLToPath(new URL('./train.torch.py', import.meta.url));
    const spec = { threads: THREADS, config: CONFIG, r: R, alpha: ALPHA, dropout: DROPOUT, targets: [...REFERENCE_LORA_TARGETS], temperature: TEMPERATURE, chunk: CHUNK,
      query_ids: queryIds(BATCH), target_ids: targetIds(BATCH), grid: GRID };
    try {
      torch = await Side.start('PyTorch', py.python, [script, JSON.stringify(spec)]);
      console.log(`  PyTorch: torch ${torch.hello.torch}, peft ${torch.hello.peft}, ${torch.hello.trainable} trainable values`);
    } catch (e) {
      torch = (e as Error).message;
    }
  }
  const t = typeof torch === 'string' ? undefined : torch.side;
  if (t === undefined) console.log(`  PyTorch baseline skipped: ${torch as string}`);
  const first = await ours.side.step();
  console.log(`  ours: first step (builds the sessions) ${(first.ms / 1000).toFixed(1)} s`);
  if (t) console.log(`  PyTorch: first step ${((await t.step()).ms / 1000).toFixed(1)} s`);
  const mine: StepRun[] = [];
  const theirs: StepRun[] = [];
  for (let i = 0; i < STEPS; i++) {
    mine.push(await ours.side.step());
    if (t) theirs.push(await t.step());
    console.log(`  step ${i + 1}: ours ${(mine.at(-1)!.ms / 1000).toFixed(1)} s${t ? `, PyTorch ${(theirs.at(-1)!.ms / 1000).toFixed(1)} s` : ''} (load ${load()})`);
  }
  if (argv.includes('--profile')) {
    // One chunk of each kind, phase by phase, on both sides (a step runs batch / chunk of each).
    const a = await ours.side.profile();
    const b = t ? await t.profile() : {};
    for (const k of Object.keys(a)) console.log(`  profile ${k.padEnd(26)} ours ${a[k]!.toFixed(0).padStart(7)} ms${k in b ? `, PyTorch ${b[k]!.toFixed(0).padStart(7)} ms` : ''}`);
    for (const k of Object.keys(b).filter((k) => !(k in a))) console.log(`  profile ${k.padEnd(26)} PyTorch ${b[k]!.toFixed(0)} ms`);
  }
  const ourRss = await ours.side.stop();
  const ms = median(mine.map((r) => r.ms));
  const line = (who: string, rs: StepRun[], rss: number) =>
    `  ${who} ${(1000 / median(rs.map((r) => r.ms))).toFixed(3)} steps/s (median ${(median(rs.map((r) => r.ms)) / 1000).toFixed(1)} s, cpu ${(median(rs.map((r) => r.cpu_ms)) / 1000).toFixed(1)} s), peak RSS ${rss.toFixed(0)} MB`;
  console.log(line('ours:   ', mine, ourRss));
  if (t) {
    const theirRss = await t.stop();
    console.log(line('PyTorch:', theirs, theirRss));
    const pairs = mine.map((m, i) => theirs[i]!.ms / m.ms);
    // Process CPU time says more than wall time on a loaded machine (waiting for a core is not work).
    const cpu = median(theirs.map((r) => r.cpu_ms)) / median(mine.map((r) => r.cpu_ms));
    console.log(`  speed ours/PyTorch ${(median(theirs.map((r) => r.ms)) / ms).toFixed(2)}× (pairs ${Math.min(...pairs).toFixed(2)}–${Math.max(...pairs).toFixed(2)}; goal ≥ 1.3×), ` +
      `by CPU time ${cpu.toFixed(2)}×, peak RSS ours/PyTorch ${(ourRss / theirRss).toFixed(2)}× (goal ≤ 1)`);
  }
  if (argv.includes('--skip-large')) return;
  const large = await oursSide(LARGE);
  const s = await large.side.step();
  const largeRss = await large.side.stop();
  console.log(`  ours batch ${LARGE} (GradCache chunks ${CHUNK}): one step ${(s.ms / 1000).toFixed(1)} s, peak RSS ${largeRss.toFixed(0)} MB = ${(largeRss / ourRss).toFixed(2)}× batch ${BATCH}'s (goal ≤ 1.3×; load ${load()})`);
}

if (argv.includes('--worker')) await worker(arg('--batch', BATCH));
else await main();
