// npm run bench:engine — engine speed, printed as ratios (never asserted).
// 1. jitted 16-layer MLP (x [256,1536], 16 weights [1536,1536] as initializers, ReLU) vs the same
//    products in a hand-built single ONNX graph run by plain ORT (target >= 0.95), and vs PyTorch CPU.
// 2. The decoder-block bench of bench/engine-blocks.ts (forward, inference, forward+backward and
//    LoRA forward+backward at Qwen2-VL-2B width vs PyTorch CPU, run by run in pairs).
// Env: BENCH_THREADS (default 2), BENCH_ITERS (default 7), BENCH_BLOCK_ARGS (extra flags for the
// decoder-block bench, e.g. '--small' for a quick smoke run).

import { loadavg } from 'node:os';
import ort from 'onnxruntime-node';
import { configureRuntime, jit, matmul, randn, relu } from '../src/tensor/index.ts';
import type { Tensor } from '../src/tensor/index.ts';
import { benchDecoderBlock } from './engine-blocks.ts';
import { encodeModel } from '../src/tensor/onnx/proto.ts';
import { IR_VERSION, OPSET } from '../src/tensor/onnx/model.ts';
import type { OnnxModel, OnnxNode } from '../src/tensor/onnx/model.ts';
import type { BenchCase, BenchContext, BenchResult } from './case.ts';
import { makeContext, timeIt } from './case.ts';
import { referencePython } from './python.ts';

const threads = Number(process.env.BENCH_THREADS ?? 2);
const iters = Number(process.env.BENCH_ITERS ?? 7);
const [M, D, L] = [256, 1536, 16];
const flops = L * 2 * M * D * D;
const gflops = (ms: number) => flops / (ms * 1e6);

/** The same products as a hand-written ONNX graph: MatMul + Relu per layer, weights as initializers. */
function handBuilt(ws: Float32Array[]): OnnxModel {
  const nodes: OnnxNode[] = [];
  let h = 'x';
  ws.forEach((_, i) => {
    nodes.push({ opType: 'MatMul', domain: '', name: `mm${i}`, inputs: [h, `w${i}`], outputs: [`m${i}`], attrs: {} });
    nodes.push({ opType: 'Relu', domain: '', name: `relu${i}`, inputs: [`m${i}`], outputs: [`h${i}`], attrs: {} });
    h = `h${i}`;
  });
  return {
    irVersion: IR_VERSION,
    opsets: [{ domain: '', version: OPSET }],
    producer: 'bench',
    graph: {
      name: 'mlp',
      nodes,
      initializers: ws.map((data, i) => ({ name: `w${i}`, dtype: 'float32', dims: [D, D], data })),
      inputs: [{ name: 'x', dtype: 'float32', shape: [M, D] }],
      outputs: [{ name: h, dtype: 'float32', shape: [M, D] }],
    },
  };
}

const mlpCase: BenchCase = {
  name: 'mlp',
  async run(ctx: BenchContext): Promise<BenchResult[]> {
    const ws = Array.from({ length: L }, (_, i) => randn([D, D], { seed: 10 + i, std: 1 / Math.sqrt(D) }));
    const x = randn([M, D], { seed: 1 });
    const f = jit((inp: Tensor) => ws.reduce((h, w) => relu(matmul(h, w)), inp), { name: 'mlp' });
    const session = await ort.InferenceSession.create(encodeModel(handBuilt(ws.map((w) => w.value as Float32Array))), {
      intraOpNumThreads: ctx.threads,
      graphOptimizationLevel: 'all',
    });
    const feeds = { x: new ort.Tensor('float32', x.value as Float32Array, [M, D]) };
    // Interleaved rounds so that load from other processes hits both sides alike.
    const oursT: number[] = [];
    const baseT: number[] = [];
    for (let round = 0; round < iters; round++) {
      oursT.push(await timeIt(() => f(x), 1, round === 0 ? 2 : 0));
      baseT.push(await timeIt(() => session.run(feeds), 1, round === 0 ? 2 : 0));
    }
    await session.release();
    const median = (a: number[]) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)]!;
    const oursMs = median(oursT);
    const baseMs = median(baseT);
    const load = loadavg()[0]!.toFixed(1);

    const out: BenchResult[] = [
      {
        name: `mlp ${L}x(${M}x${D}x${D}) ours (jit)`,
        value: `${gflops(oursMs).toFixed(1)} GFLOP/s (${oursMs.toFixed(1)} ms)`,
        note: `best ${gflops(Math.min(...oursT)).toFixed(1)} GFLOP/s, load average ${load}`,
      },
      {
        name: 'mlp hand-built ORT graph',
        value: `${gflops(baseMs).toFixed(1)} GFLOP/s (${baseMs.toFixed(1)} ms)`,
        note: `ratio ours/hand-built ${(baseMs / oursMs).toFixed(3)} median, ${(Math.min(...baseT) / Math.min(...oursT)).toFixed(3)} best (target >= 0.95)`,
      },
    ];
    if (!ctx.python) {
      out.push({ name: 'mlp PyTorch CPU', value: 'skipped', note: ctx.torchSkipReason! });
      return out;
    }
    const res = ctx.runTorch(`
import json, time, torch
torch.set_num_threads(${ctx.threads})
torch.manual_seed(0)
ws = [torch.randn(${D}, ${D}) / ${Math.sqrt(D)} for _ in range(${L})]
x = torch.randn(${M}, ${D})
def f():
    h = x
    for w in ws:
        h = torch.relu(h @ w)
    return h
times = []
with torch.inference_mode():
    for i in range(${iters} + 2):
        t0 = time.perf_counter(); f(); times.append((time.perf_counter() - t0) * 1000)
times = sorted(times[2:])
print(json.dumps({'ms': times[len(times) // 2]}))
`) as { ms: number };
    out.push({
      name: 'mlp PyTorch CPU',
      value: `${gflops(res.ms).toFixed(1)} GFLOP/s (${res.ms.toFixed(1)} ms)`,
      note: `ratio ours/PyTorch ${(res.ms / oursMs).toFixed(3)} (medians; load average ${loadavg()[0]!.toFixed(1)})`,
    });
    return out;
  },
};

/** The decoder-block bench (bench/engine-blocks.ts prints its own lines). */
const decoderBlockCase: BenchCase = {
  name: 'decoder-block',
  run: async (ctx) => {
    const extra = (process.env.BENCH_BLOCK_ARGS ?? '').split(' ').filter(Boolean);
    await benchDecoderBlock(['--threads', String(ctx.threads), ...extra]);
    return [];
  },
};

/** Runs the given cases (default: the MLP case and the decoder block) and prints the results. */
export async function runEngineBench(cases?: BenchCase[]): Promise<BenchResult[]> {
  configureRuntime({ threads });
  const ctx = makeContext(threads, referencePython());
  const list = cases ?? [mlpCase, decoderBlockCase];
  console.log(`# bench:engine  threads=${threads} iters=${iters} (median)`);
  const all: BenchResult[] = [];
  for (const c of list) {
    for (const r of await c.run(ctx)) {
      console.log(`${r.name.padEnd(44)} ${r.value}${r.note ? `   ${r.note}` : ''}`);
      all.push(r);
    }
  }
  return all;
}

if (import.meta.url === `file://${process.argv[1]}`) await runEngineBench();
