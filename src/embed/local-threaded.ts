// ThreadedLocalEmbedder: the LocalEmbedder running in a worker thread. Same results, same
// Embedder interface; the calling thread only posts items and receives vectors (transferred,
// not copied), so a server's event loop stays responsive during a forward pass.

import { Worker } from 'node:worker_threads';
import { Vlm2VecError } from '../errors.ts';
import type { LocalEmbedderOptions } from './local.ts';
import { MediaError } from './media-error.ts';
import type { EmbedContext, EmbedItem, Embedder } from './types.ts';
import { WorkerCalls } from '../util/worker-calls.ts';

type Reply = { id: number; vectors?: Float32Array[]; error?: string; media?: boolean };

/**
 * A LocalEmbedder in a worker thread.
 *
 * @example
 * const emb = await ThreadedLocalEmbedder.load('/models/Qwen2-VL-2B', { adapter: '/models/VLM2Vec-V2.0' });
 * const vecs = await emb.embed([{ text: 'Find a document about cats' }]);
 * await emb.close();
 */
export class ThreadedLocalEmbedder implements Embedder {
  private readonly calls: WorkerCalls<Reply, Float32Array[]>;

  private constructor(worker: Worker, readonly id: string, readonly dim: number) {
    this.calls = new WorkerCalls<Reply, Float32Array[]>(
      worker,
      (m) => m.error === undefined
        ? { value: m.vectors! }
        : { error: m.media === true ? new MediaError(m.error, undefined) : new Vlm2VecError('embed', m.error) },
      () => new Vlm2VecError('embed', 'the embedding worker exited'),
    );
  }

  /** Starts the worker and waits until the model is loaded (load errors are rethrown here). */
  static async load(modelDir: string, options: LocalEmbedderOptions = {}): Promise<ThreadedLocalEmbedder> {
    // A .mjs entry registers tsx in the worker, which then runs the TypeScript worker module.
    // Functions cannot cross to the worker: load progress is not reported from there.
    const { onLoad: _onLoad, ...cloneable } = options;
    const worker = new Worker(new URL('./local-worker-boot.mjs', import.meta.url), { workerData: { modelDir, options: cloneable } });
    const ready = await new Promise<{ ready: boolean; dim?: number; embedderId?: string; error?: string }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    if (!ready.ready) {
      await worker.terminate();
      throw new Vlm2VecError('embed', `loading ${modelDir} in the worker failed: ${ready.error ?? 'unknown error'}`);
    }
    return new ThreadedLocalEmbedder(worker, ready.embedderId!, ready.dim!);
  }

  embed(items: readonly EmbedItem[], _ctx?: EmbedContext): Promise<Float32Array[]> {
    return this.calls.call({ items });
  }

  close(): Promise<void> {
    return this.calls.close();
  }
}
