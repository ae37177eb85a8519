// ORT session management: options, the session cache keyed by graph signature, and feeds/outputs
// conversion between our typed arrays and ort.Tensor.

import ort from 'onnxruntime-node';
import { Vlm2VecError } from '../../errors.ts';
import type { DType, TypedArray } from '../dtype.ts';

/** Runtime settings (apply to sessions created afterwards). */
export interface RuntimeOptions {
  /** Intra-op threads (default: ORT's choice = physical cores). */
  threads?: number;
  interOpThreads?: number;
  /** ORT execution providers, e.g. ['cuda', 'cpu'] (default ['cpu']). */
  executionProviders?: string[];
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Max cached eager sessions (least recently used are released). */
  maxCachedSessions?: number;
  /**
   * ORT's CPU memory arena (default on, ORT's default): it keeps the largest activation memory a
   * session ever needed and reuses it. Off, every run allocates and frees its buffers. Measured
   * with bench/model.ts (2B widths, 4+4 layers, float32): RSS after the runs 1.7 GB instead of
   * 2.2 GB, peak unchanged, image batches 10–20 % slower, text unchanged.
   */
  cpuMemArena?: boolean;
}

export interface RuntimeStats {
  sessionsCreated: number;
  runs: number;
  cachedSessions: number;
}

const opts: Required<Pick<RuntimeOptions, 'executionProviders' | 'graphOptimizationLevel' | 'maxCachedSessions'>> & RuntimeOptions = {
  executionProviders: ['cpu'],
  graphOptimizationLevel: 'all',
  maxCachedSessions: 256,
};
const stats = { sessionsCreated: 0, runs: 0 };
const cache = new Map<string, Promise<ort.InferenceSession>>();

/**
 * Sets thread counts, execution providers and cache size for sessions created afterwards.
 * @example configureRuntime({ threads: 1 })
 */
export function configureRuntime(o: RuntimeOptions): void {
  Object.assign(opts, o);
}

export function runtimeStats(): RuntimeStats {
  return { ...stats, cachedSessions: cache.size };
}

/** Releases every cached eager session. */
export async function clearSessionCache(): Promise<void> {
  const all = [...cache.values()];
  cache.clear();
  for (const s of all) await (await s).release();
}

/**
 * ORT session options from the runtime settings. `float64` graphs are limited to basic
 * optimizations: ORT's extended fusions (e.g. x*sigmoid(x) -> com.microsoft.QuickGelu) do not check
 * that a double kernel exists and then fail to load.
 */
export function sessionOptions(float64 = false): ort.InferenceSession.SessionOptions {
  const o: ort.InferenceSession.SessionOptions = {
    executionProviders: opts.executionProviders,
    graphOptimizationLevel: float64 && opts.graphOptimizationLevel !== 'disabled' ? 'basic' : opts.graphOptimizationLevel,
  };
  if (opts.threads !== undefined) Object.assign(o, { intraOpNumThreads: opts.threads });
  if (opts.cpuMemArena !== undefined) Object.assign(o, { enableCpuMemArena: opts.cpuMemArena });
  if (opts.interOpThreads !== undefined) Object.assign(o, { interOpNumThreads: opts.interOpThreads });
  return o;
}

/**
 * Per-graph changes to the runtime's session options (jit's `session` option): a lower
 * optimization level, ORT's CPU memory arena on/off, and ORT session config entries (`extra`,
 * e.g. `{ 'optimization.disable_specified_optimizers': 'ConstantFolding' }`).
 */
export interface SessionOverrides {
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  enableCpuMemArena?: boolean;
  extra?: Readonly<Record<string, string>>;
}

/** Creates a session from model bytes or a model file path (needed for external data). */
export async function createSession(model: Uint8Array | string, what: string | (() => string), float64 = false, overrides?: SessionOverrides): Promise<ort.InferenceSession> {
  try {
    const o = { ...sessionOptions(float64), ...overrides };
    const s = typeof model === 'string' ? await ort.InferenceSession.create(model, o) : await ort.InferenceSession.create(model, o);
    stats.sessionsCreated++;
    return s;
  } catch (e) {
    const desc = typeof what === 'string' ? what : what();
    throw new Vlm2VecError('runtime', `ORT could not load the graph of ${desc}: ${(e as Error).message}`, { cause: e });
  }
}

/** A cached session for `key`, built by `build` on a miss (concurrent misses share one build). */
export function cachedSession(key: string, build: () => Promise<ort.InferenceSession>): Promise<ort.InferenceSession> {
  const hit = cache.get(key);
  if (hit) {
    cache.delete(key);
    cache.set(key, hit); // most recently used last
    return hit;
  }
  const p = build();
  p.catch(() => cache.delete(key));
  cache.set(key, p);
  while (cache.size > opts.maxCachedSessions) {
    const oldest = cache.keys().next().value as string;
    const s = cache.get(oldest)!;
    cache.delete(oldest);
    void s.then((x) => x.release()).catch(() => undefined);
  }
  return p;
}

export function toOrt(dtype: DType, data: TypedArray, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor(dtype, data, dims);
}

/** Runs a session; wraps ORT errors with the graph description. */
export async function runSession(s: ort.InferenceSession, feeds: Record<string, ort.Tensor>, what: string): Promise<ort.InferenceSession.ReturnType> {
  try {
    stats.runs++;
    return await s.run(feeds);
  } catch (e) {
    throw new Vlm2VecError('runtime', `running ${what} failed: ${(e as Error).message}`, { cause: e });
  }
}
