// Runs an exported .onnx model in a worker thread: ORT's run() blocks the event loop for the
// whole run, so a server or a UI keeps serving while a big batch computes elsewhere.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Vlm2VecError } from '../../errors.ts';
import type { DType, TypedArray } from '../dtype.ts';
import type { ExportResult, Jitted } from './jit.ts';
import { sessionOptions } from './session.ts';

export type WorkerFeeds = Record<string, { dtype: DType; dims: readonly number[]; data: TypedArray }>;
export type WorkerOutputs = Record<string, { dtype: DType; dims: number[]; data: TypedArray }>;

interface Reply {
  id: number;
  outputs?: WorkerOutputs;
  error?: string;
}

/**
 * One ORT session in a worker thread.
 * @example
 * const w = await WorkerRuntime.create('encoder.onnx', { threads: 2 });
 * const out = await w.run({ in0: { dtype: 'float32', dims: [1, 4], data: new Float32Array(4) } });
 * await w.close();
 */
export class WorkerRuntime {
  private nextId = 0;
  private pending = new Map<number, { resolve: (o: WorkerOutputs) => void; reject: (e: Error) => void }>();

  private constructor(
    private readonly worker: Worker,
    readonly modelPath: string,
  ) {
    worker.on('message', (m: Reply & { type?: string }) => {
      if (m.type === 'closed') return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.error !== undefined) p.reject(new Vlm2VecError('runtime', `worker run of ${modelPath} failed: ${m.error}`));
      else p.resolve(m.outputs!);
    });
    worker.on('error', (e) => {
      for (const p of this.pending.values()) p.reject(new Vlm2VecError('runtime', `worker for ${modelPath} crashed: ${e.message}`, { cause: e }));
      this.pending.clear();
    });
  }

  /** Starts a worker that loads `modelPath` (session options follow configureRuntime unless given). */
  static async create(modelPath: string, opts: { threads?: number } = {}): Promise<WorkerRuntime> {
    const options = { ...sessionOptions(), ...(opts.threads !== undefined ? { intraOpNumThreads: opts.threads } : {}) };
    const worker = new Worker(new URL('./worker-main.mjs', import.meta.url), { workerData: { modelPath, options }, execArgv: [] });
    return new WorkerRuntime(worker, modelPath);
  }

  /**
   * Exports a jitted function (traced for `args`) to a temporary .onnx and loads it in a worker.
   * Input/output names are in `info` (see Jitted.export).
   */
  static async fromJit<A extends unknown[], R>(fn: Jitted<A, R>, args: A, opts: { threads?: number } = {}): Promise<{ runtime: WorkerRuntime; info: ExportResult }> {
    const dir = mkdtempSync(join(tmpdir(), 'vlm2vec-worker-'));
    const info = await fn.export(join(dir, 'model.onnx'), args);
    const runtime = await WorkerRuntime.create(info.modelPath, opts);
    runtime.cleanup = dir;
    return { runtime, info };
  }

  /** Temporary directory to delete on close (fromJit). */
  private cleanup: string | undefined;

  /** Runs the model on `feeds` (input name -> data); the typed arrays are copied to the worker. */
  run(feeds: WorkerFeeds): Promise<WorkerOutputs> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, feeds });
    });
  }

  /** Releases the session and stops the worker. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      const onMsg = (m: { type?: string }) => {
        if (m.type === 'closed') {
          this.worker.off('message', onMsg);
          resolve();
        }
      };
      this.worker.on('message', onMsg);
      this.worker.postMessage({ type: 'close' });
    });
    await this.worker.terminate();
    if (this.cleanup) rmSync(this.cleanup, { recursive: true, force: true });
  }
}
