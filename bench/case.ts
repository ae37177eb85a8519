// What a benchmark case is (bench/engine.ts runs a list of them) and the helpers cases share:
// timing, and running a PyTorch reference script in the Python reference environment when there
// is one (resolved by bench/python.ts). Benchmarks never ship in the package.

import { spawnSync } from 'node:child_process';

/** One printed line of a benchmark. `ratio` is ours/baseline where higher is better. */
export interface BenchResult {
  name: string;
  /** e.g. '236.1 GFLOP/s' or '41.2 ms' */
  value: string;
  /** Comparison text, e.g. 'ratio vs hand-built ORT graph 0.98 (target >= 0.95)'. */
  note?: string;
}

/** A benchmark case; `runEngineBench(cases)` of bench/engine.ts runs a list of them. */
export interface BenchCase {
  name: string;
  run(ctx: BenchContext): Promise<BenchResult[]>;
}

export interface BenchContext {
  threads: number;
  /** Python of the reference env, or undefined with `torchSkipReason` set. */
  python: string | undefined;
  torchSkipReason: string | undefined;
  /** Runs a Python script printing one JSON line; returns the parsed JSON. */
  runTorch(script: string): unknown;
}

/** Median wall time (ms) of `iters` runs after `warmup` runs. */
export async function timeIt(fn: () => Promise<unknown>, iters = 5, warmup = 2): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < iters; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

/** `reference` is bench/python.ts's `referencePython()`: an interpreter, or why there is none. */
export function makeContext(threads: number, reference: { python?: string | undefined; missing?: string | undefined }): BenchContext {
  const { python, missing } = reference;
  return {
    threads,
    python,
    torchSkipReason: python === undefined ? missing : undefined,
    runTorch(script: string): unknown {
      if (python === undefined) throw new Error(missing);
      const r = spawnSync(python, ['-c', script], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: String(threads) } });
      if (r.status !== 0) throw new Error(`python failed (${r.status}): ${r.stderr.slice(-2000)}`);
      const line = r.stdout.trim().split('\n').pop() ?? '';
      return JSON.parse(line);
    },
  };
}
