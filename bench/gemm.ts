// `npm run bench:gemm` (node --import tsx bench/gemm.ts [--threads N] [--iters N] [--rounds N]):
// the float32 rate of one matrix product x[M,K]·W[K,N] at the shapes that dominate a Qwen2-VL-2B
// encoder pass, in plain ONNX Runtime (W an initializer, as our graphs hold weights) and in PyTorch
// CPU, alternating round by round so that load from other processes hits both alike. It is the
// ceiling against which `bench:model`'s effective GFLOP/s (bench/flops.ts) are read: an encoder
// that already runs near it can only get faster by doing less arithmetic. Prints; never asserts.

import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import ort from 'onnxruntime-node';
import { encodeModel } from '../src/tensor/onnx/proto.ts';
import { IR_VERSION, OPSET } from '../src/tensor/onnx/model.ts';
import { referencePython } from './python.ts';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const THREADS = arg('--threads', 2);
const ITERS = arg('--iters', 10);
const ROUNDS = arg('--rounds', 3);

// [M, K, N, what]: vision MLP (1,024 patches of a 448² image), LM MLP over a 384-token text batch,
// LM MLP over a 268-token image row.
const SHAPES: [number, number, number, string][] = [
  [1024, 1280, 5120, 'vision fc1, 448² image'],
  [384, 1536, 8960, 'LM gate/up, text batch 8×48'],
  [268, 1536, 8960, 'LM gate/up, one image row'],
];

const gflop = (m: number, k: number, n: number): number => (2 * m * k * n) / 1e9;

function fill(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    out[i] = (s / 4294967296 - 0.5) * 0.06;
  }
  return out;
}

async function ortRate(m: number, k: number, n: number): Promise<number[]> {
  const model = encodeModel({
    irVersion: IR_VERSION,
    opsets: [{ domain: '', version: OPSET }],
    producer: 'bench',
    graph: {
      name: 'gemm',
      nodes: [{ opType: 'MatMul', domain: '', name: 'mm', inputs: ['x', 'w'], outputs: ['y'], attrs: {} }],
      initializers: [{ name: 'w', dtype: 'float32', dims: [k, n], data: fill(k * n, 7) }],
      inputs: [{ name: 'x', dtype: 'float32', shape: [m, k] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: [m, n] }],
    },
  });
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: THREADS, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
  const feeds = { x: new ort.Tensor('float32', fill(m * k, 3), [m, k]) };
  for (let i = 0; i < 2; i++) await session.run(feeds);
  const rates: number[] = [];
  for (let i = 0; i < ITERS; i++) {
    const t0 = performance.now();
    await session.run(feeds);
    rates.push(gflop(m, k, n) / ((performance.now() - t0) / 1000));
  }
  await session.release();
  return rates;
}

function torchRates(): number[][] | string {
  const py = referencePython();
  if (py.missing !== undefined) return py.missing;
  const script = `
import json, sys, time
sys.modules['torchvision'] = None
import torch
torch.set_num_threads(${THREADS})
out = []
for m, k, n in ${JSON.stringify(SHAPES.map(([m, k, n]) => [m, k, n]))}:
    x = torch.rand(m, k) - 0.5; w = (torch.rand(k, n) - 0.5) * 0.06
    for _ in range(2): x @ w
    r = []
    for _ in range(${ITERS}):
        t0 = time.perf_counter(); x @ w; r.append(2 * m * k * n / 1e9 / (time.perf_counter() - t0))
    out.append(r)
print(json.dumps(out))
`;
  const r = spawnSync(py.python, ['-c', script], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: String(THREADS) } });
  if (r.status !== 0) return `python failed (${r.status}): ${r.stderr.slice(-400)}`;
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as number[][];
}

const median = (a: number[]): number => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)]!;
const ours: number[][] = SHAPES.map(() => []);
const torch: number[][] = SHAPES.map(() => []);
let torchMissing: string | undefined;
const loads: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  loads.push(loadavg()[0]!);
  for (const [i, [m, k, n]] of SHAPES.entries()) ours[i]!.push(...(await ortRate(m, k, n)));
  const t = torchRates();
  if (typeof t === 'string') torchMissing = t;
  else t.forEach((r, i) => torch[i]!.push(...r));
}
console.log(`float32 GEMM x[M,K]·W[K,N], ${THREADS} threads, ${ROUNDS} alternating rounds × ${ITERS} calls; load average ${loads.map((l) => l.toFixed(1)).join(' / ')}`);
console.log('shape                      what                            ORT median / best GFLOP/s   PyTorch median / best');
for (const [i, [m, k, n, what]] of SHAPES.entries()) {
  const o = ours[i]!;
  const t = torch[i]!;
  const tt = t.length > 0 ? `${median(t).toFixed(0)} / ${Math.max(...t).toFixed(0)}` : (torchMissing ?? '');
  console.log(`${`${m}×${k}×${n}`.padEnd(26)} ${what.padEnd(31)} ${`${median(o).toFixed(0)} / ${Math.max(...o).toFixed(0)}`.padEnd(27)} ${tt}`);
}
