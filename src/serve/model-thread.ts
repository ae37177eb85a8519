// The main-thread side of the server's model worker (worker.ts): loads the model in a worker
// thread and runs batches there, so the event loop keeps answering `/health` and new requests
// while ONNX Runtime computes. One batch is in the worker at a time (the batcher waits for it).

import { Worker } from 'node:worker_threads';
import { Vlm2VecError } from '../errors.ts';
import type { LoadEvent, LocalEmbedderOptions } from '../embed/local.ts';
import type { BytesEmbedItem } from '../embed/protocol.ts';
import { WorkerCalls } from '../util/worker-calls.ts';

/** One item of a batch: the item and its index in its own request (for error messages). */
export interface WorkItem {
  item: BytesEmbedItem;
  index: number;
}

/** The outcome of one item: its vector and prompt tokens, or the HTTP status and message of its failure. */
export type ItemResult =
  | { ok: true; vector: Float32Array; tokens: number }
  | { ok: false; status: 400 | 500; message: string; media?: { kind: 'images' | 'video'; index: number } };

export interface BatchRequest {
  id: number;
  items: WorkItem[];
}

export type BatchReply = { id: number; results: ItemResult[]; passes: number } | { id: number; error: string };

/** A model loaded in a worker thread. */
export class ModelThread {
  /** Forward passes run so far. */
  forwardPasses = 0;
  private readonly calls: WorkerCalls<BatchReply, ItemResult[]>;

  private constructor(worker: Worker, readonly id: string, readonly dim: number) {
    this.calls = new WorkerCalls<BatchReply, ItemResult[]>(
      worker,
      (m) => {
        if (!('results' in m)) return { error: new Vlm2VecError('serve', m.error) };
        this.forwardPasses += m.passes;
        return { value: m.results };
      },
      () => new Vlm2VecError('serve', 'the model worker exited'),
    );
  }

  /**
   * Starts the worker and waits for the model (load errors are rethrown here).
   *
   * @example const m = await ModelThread.load('/models/VLM2Vec-V2.0', {}, { maxImagePixels: 50_000_000, maxBatchTokens: 16384 });
   */
  static async load(model: string, options: LocalEmbedderOptions, limits: { maxImagePixels: number; maxBatchTokens: number }): Promise<ModelThread> {
    // Functions cannot cross to the worker: its load events come back as messages.
    const { onLoad, ...cloneable } = options;
    const worker = new Worker(new URL('./worker-boot.mjs', import.meta.url), { workerData: { model, options: cloneable, ...limits } });
    const ready = await new Promise<{ ready: boolean; dim?: number; id?: string; error?: string }>((resolve, reject) => {
      const onMessage = (m: { load?: LoadEvent; ready?: boolean }): void => {
        if (m.load) {
          onLoad?.(m.load);
          return;
        }
        worker.off('message', onMessage);
        resolve(m as { ready: boolean });
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
    });
    if (!ready.ready) {
      await worker.terminate();
      throw new Vlm2VecError('serve', `loading ${model} failed: ${ready.error ?? 'unknown error'}`);
    }
    return new ModelThread(worker, ready.id!, ready.dim!);
  }

  /** Embeds a batch; each item succeeds or fails on its own. */
  run(items: WorkItem[]): Promise<ItemResult[]> {
    return this.calls.call({ items } satisfies Omit<BatchRequest, 'id'>);
  }

  close(): Promise<void> {
    return this.calls.close();
  }
}
