// Where the time of a decoder-block case goes, per ONNX node, from ORT's own profiler: exports the
// jitted graph of one bench/engine-blocks.ts case, runs it with profiling on, and prints the time
// per operator type and the slowest nodes (with their input shapes) of the last run. A tool for
// performance work, not a benchmark: profiling adds a little overhead to every node.
//
// Usage: node --import tsx bench/profile-decoder.ts [case] [--threads N] [--runs N] [--top N] [--small]
//   case: forward | inference | forward_backward (default) | lora_forward_backward

import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import type { Tensor } from '../src/tensor/index.ts';
import { treeFlatten } from '../src/tensor/tree.ts';
import { CASES, makeOurs, parseArgs, type CaseName } from './engine-blocks.ts';

interface ProfileEvent {
  cat: string;
  name: string;
  ts: number;
  dur: number;
  args?: { op_name?: string; input_type_shape?: unknown };
}

async function main(argv: readonly string[]): Promise<void> {
  const which = (argv.find((x) => !x.startsWith('--') && !/^\d+$/.test(x)) ?? 'forward_backward') as CaseName;
  if (!CASES.includes(which)) throw new Error(`unknown case '${which}'; one of ${CASES.join(', ')}`);
  const opt = (name: string, dflt: number): number => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? Number(argv[i + 1]) : dflt;
  };
  const a = parseArgs(argv);
  const { graphs } = await makeOurs(a);
  const { fn, args } = graphs[which];
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vec-profile-'));
  try {
    const res = await fn.export(join(dir, 'model.onnx'), args);
    const leaves = treeFlatten(args).leaves as Tensor[];
    const feeds: Record<string, ort.Tensor> = {};
    leaves.forEach((t, i) => (feeds[res.inputs[i]!.name] = new ort.Tensor(t.dtype, t.value as Float32Array, t.shape as number[])));
    const session = await ort.InferenceSession.create(res.modelPath, {
      intraOpNumThreads: a.threads,
      graphOptimizationLevel: 'all',
      enableProfiling: true,
      profileFilePrefix: join(dir, 'profile'),
    });
    for (let i = 0; i < opt('runs', 3); i++) {
      const t0 = performance.now();
      await session.run(feeds);
      console.log(`run ${i + 1}: ${(performance.now() - t0).toFixed(0)} ms`);
    }
    session.endProfiling(); // writes profile_<date>.json into dir (the JS API does not return its name)
    await session.release();
    const file = readdirSync(dir).find((f) => f.startsWith('profile') && f.endsWith('.json'));
    if (!file) throw new Error(`ORT wrote no profile into ${dir}`);
    report(JSON.parse(readFileSync(join(dir, file), 'utf8')) as ProfileEvent[], opt('top', 25));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function report(events: readonly ProfileEvent[], top: number): void {
  const runs = events.filter((e) => e.name === 'model_run');
  const last = runs[runs.length - 1]!;
  const nodes = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time') && e.ts >= last.ts);
  const byOp = new Map<string, { ms: number; n: number }>();
  for (const e of nodes) {
    const k = byOp.get(e.args?.op_name ?? '?') ?? { ms: 0, n: 0 };
    k.ms += e.dur / 1000;
    k.n++;
    byOp.set(e.args?.op_name ?? '?', k);
  }
  const total = nodes.reduce((s, e) => s + e.dur / 1000, 0);
  console.log(`last run ${(last.dur / 1000).toFixed(0)} ms, kernels ${total.toFixed(0)} ms`);
  for (const [op, { ms, n }] of [...byOp].sort((x, y) => y[1].ms - x[1].ms)) {
    console.log(`  ${op.padEnd(24)} ${ms.toFixed(1).padStart(8)} ms  ${((100 * ms) / total).toFixed(1).padStart(5)} %  ${n} nodes`);
  }
  console.log(`slowest ${top} nodes:`);
  for (const e of [...nodes].sort((x, y) => y.dur - x.dur).slice(0, top)) {
    const name = e.name.replace(/_kernel_time$/, '');
    console.log(`  ${(e.dur / 1000).toFixed(1).padStart(8)} ms  ${(e.args?.op_name ?? '').padEnd(12)} ${name.slice(0, 48).padEnd(48)} ${JSON.stringify(e.args?.input_type_shape ?? '')}`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main(process.argv.slice(2));
}
