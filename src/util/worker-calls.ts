// Request/reply over a worker thread: each call posts `{ id, …payload }` and waits for the reply
// carrying the same id. The worker's crash or exit rejects every call still waiting. Shared by
// the threaded embedder (embed/local-threaded.ts) and the server's model thread (serve/model-thread.ts).

import type { Worker } from 'node:worker_threads';

/** How a reply settles its call: a value, or an error to reject with. */
export type Settle<T> = { value: T } | { error: Error };

/**
 * Numbered calls to one worker.
 *
 * @example
 * const calls = new WorkerCalls<Reply, Float32Array[]>(worker, (m) => ('vectors' in m ? { value: m.vectors } : { error: new Error(m.error) }), () => new Error('worker exited'));
 * const vectors = await calls.call({ items });
 */
export class WorkerCalls<Reply extends { id: number }, T> {
  private next = 0;
  private readonly pending = new Map<number, { resolve: (v: T) => void; reject: (e: Error) => void }>();

  constructor(private readonly worker: Worker, settle: (reply: Reply) => Settle<T>, exited: () => Error) {
    worker.on('message', (m: Reply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      const s = settle(m);
      if ('value' in s) p.resolve(s.value);
      else p.reject(s.error);
    });
    worker.on('error', (e) => this.failAll(e));
    worker.on('exit', () => this.failAll(exited()));
  }

  /** Posts `{ id, ...payload }` and resolves with the settled reply. */
  call(payload: object): Promise<T> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, ...payload });
    });
  }

  /** Stops the worker; calls still waiting are not settled (the caller is closing). */
  async close(): Promise<void> {
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }

  private failAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
}
