// Dynamic batching across concurrent requests: requests queue their items; a batch leaves when
// it holds `maxBatchItems` items or its oldest request has waited `maxWaitMs`, and only when the
// model is free (one batch at a time, as one model thread computes one at a time). The queue is
// bounded in items: past `maxQueueItems` a request is refused at once (HTTP 429) rather than
// waiting without end. A request whose client went away leaves the queue before it is computed.

import { Vlm2VecError } from '../errors.ts';
import type { ItemResult, WorkItem } from './model-thread.ts';

/** The queue holds too many items; `retryAfter` (seconds) estimates when it will have room. */
export class QueueFullError extends Vlm2VecError {
  constructor(message: string, readonly retryAfter: number) {
    super('serve', message);
    this.name = 'QueueFullError';
  }
}

/** The request was abandoned (client gone or timed out) before its items were computed. */
export class CancelledError extends Vlm2VecError {
  constructor(message: string) {
    super('serve', message);
    this.name = 'CancelledError';
  }
}

export interface BatcherOptions {
  /** Items per batch (a larger request forms a batch of its own). */
  maxBatchItems: number;
  /** Longest wait for more items before a partial batch leaves, ms. */
  maxWaitMs: number;
  /** Items waiting (not yet in the model) beyond which requests are refused. */
  maxQueueItems: number;
  /** Called after each batch (for the metrics). */
  onBatch?: (b: { items: number; tokens: number; seconds: number }) => void;
}

interface Job {
  items: WorkItem[];
  enqueued: number;
  resolve: (r: { results: ItemResult[]; queueSeconds: number }) => void;
  reject: (e: Error) => void;
  /** Set when the job left the queue for the model. */
  started?: number;
  gone: boolean;
}

/**
 * @example
 * const b = new Batcher((items) => model.run(items), { maxBatchItems: 16, maxWaitMs: 5, maxQueueItems: 4096 });
 * const { results } = await b.submit(items, abortSignal);
 */
export class Batcher {
  private readonly queue: Job[] = [];
  private queued = 0;
  private busy = false;
  private timer: NodeJS.Timeout | undefined;
  /** Recent throughput (items/s), for Retry-After. */
  private rate = 0;

  constructor(private readonly run: (items: WorkItem[]) => Promise<ItemResult[]>, private readonly opts: BatcherOptions) {}

  /** Items waiting for the model. */
  get queuedItems(): number {
    return this.queued;
  }

  /** True while a batch is in the model. */
  get running(): boolean {
    return this.busy;
  }

  /** Queues a request's items; resolves with one result per item once their batch is computed. */
  submit(items: WorkItem[], signal?: AbortSignal): Promise<{ results: ItemResult[]; queueSeconds: number }> {
    if (this.queued > 0 && this.queued + items.length > this.opts.maxQueueItems) {
      const retryAfter = Math.min(60, Math.max(1, Math.ceil(this.queued / Math.max(this.rate, 1))));
      return Promise.reject(new QueueFullError(`the queue holds ${this.queued} items; ${items.length} more would pass the limit ` +
        `of ${this.opts.maxQueueItems} (--max-queue-items): retry in ${retryAfter} s`, retryAfter));
    }
    return new Promise((resolve, reject) => {
      const job: Job = { items, enqueued: performance.now(), resolve, reject, gone: false };
      if (signal) {
        if (signal.aborted) return reject(signal.reason instanceof Error ? signal.reason : new CancelledError('request abandoned'));
        signal.addEventListener('abort', () => this.abandon(job, signal.reason), { once: true });
      }
      this.queue.push(job);
      this.queued += items.length;
      this.schedule();
    });
  }

  private abandon(job: Job, reason: unknown): void {
    if (job.gone) return;
    job.gone = true;
    const i = this.queue.indexOf(job);
    if (i >= 0) {
      this.queue.splice(i, 1);
      this.queued -= job.items.length;
    }
    job.reject(reason instanceof Error ? reason : new CancelledError('request abandoned'));
  }

  private schedule(): void {
    if (this.busy || this.queue.length === 0) return;
    const waited = performance.now() - this.queue[0]!.enqueued;
    if (this.queued < this.opts.maxBatchItems && waited < this.opts.maxWaitMs) {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.schedule();
      }, this.opts.maxWaitMs - waited);
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const jobs: Job[] = [];
    let n = 0;
    while (this.queue.length > 0 && (jobs.length === 0 || n + this.queue[0]!.items.length <= this.opts.maxBatchItems)) {
      const j = this.queue.shift()!;
      jobs.push(j);
      n += j.items.length;
    }
    this.queued -= n;
    void this.dispatch(jobs, n);
  }

  private async dispatch(jobs: Job[], n: number): Promise<void> {
    this.busy = true;
    const t0 = performance.now();
    for (const j of jobs) j.started = t0;
    try {
      const results = await this.run(jobs.flatMap((j) => j.items));
      const seconds = (performance.now() - t0) / 1000;
      this.rate = n / Math.max(seconds, 1e-3);
      let tokens = 0;
      for (const r of results) if (r.ok) tokens += r.tokens;
      this.opts.onBatch?.({ items: n, tokens, seconds });
      let at = 0;
      for (const j of jobs) {
        const mine = results.slice(at, at + j.items.length);
        at += j.items.length;
        if (!j.gone) j.resolve({ results: mine, queueSeconds: (j.started! - j.enqueued) / 1000 });
        j.gone = true;
      }
    } catch (e) {
      for (const j of jobs) if (!j.gone) j.reject(e as Error);
      for (const j of jobs) j.gone = true;
    } finally {
      this.busy = false;
      this.schedule();
    }
  }

  /** Resolves once nothing is queued or computing (for a graceful shutdown). */
  async drain(): Promise<void> {
    while (this.busy || this.queue.length > 0) await new Promise((r) => setTimeout(r, 10));
  }
}
