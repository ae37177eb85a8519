// The server's Prometheus metrics (text exposition format 0.0.4), written by hand: a few
// counters, gauges and histograms do not need a client library. Names follow
// text-embeddings-inference's where one exists (requests, failures by reason, latency, queue
// time, batch sizes, queue size), prefixed `vlm2vec_`.

/** Buckets in seconds, ×2 from 1 ms to ~65 s. */
const TIME_BUCKETS = Array.from({ length: 17 }, (_, i) => 0.001 * 2 ** i);
/** Batch sizes (items) and token counts. */
const SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];
const TOKEN_BUCKETS = [16, 64, 256, 1024, 4096, 16384, 65536];

class Histogram {
  private readonly counts: number[];
  private sum = 0;
  /** Observations so far. */
  count = 0;
  constructor(readonly name: string, readonly help: string, private readonly buckets: readonly number[]) {
    this.counts = buckets.map(() => 0);
  }
  observe(v: number): void {
    this.sum += v;
    this.count++;
    this.buckets.forEach((b, i) => {
      if (v <= b) this.counts[i]!++;
    });
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    this.buckets.forEach((b, i) => lines.push(`${this.name}_bucket{le="${b}"} ${this.counts[i]}`));
    lines.push(`${this.name}_bucket{le="+Inf"} ${this.count}`, `${this.name}_sum ${this.sum}`, `${this.name}_count ${this.count}`);
    return lines.join('\n');
  }
}

/** Requests of `POST /v1/search` (`serve --db`), counted apart from embeddings requests. */
class SearchMetrics {
  requests = 0;
  readonly failures = new Map<string, number>();
  readonly latency = new Histogram('vlm2vec_search_duration_seconds', 'Time from receiving a search request to answering it', TIME_BUCKETS);

  fail(reason: string): void {
    this.failures.set(reason, (this.failures.get(reason) ?? 0) + 1);
  }

  render(): string[] {
    return [
      '# HELP vlm2vec_search_requests_total Search requests received (serve --db)',
      '# TYPE vlm2vec_search_requests_total counter',
      `vlm2vec_search_requests_total ${this.requests}`,
      '# HELP vlm2vec_search_failures_total Search requests answered with an error, by reason',
      '# TYPE vlm2vec_search_failures_total counter',
      ...[...this.failures].map(([k, v]) => `vlm2vec_search_failures_total{reason="${k}"} ${v}`),
      this.latency.render(),
    ];
  }
}

/** Everything `/metrics` reports. */
export class ServeMetrics {
  readonly search = new SearchMetrics();
  requests = 0;
  readonly failures = new Map<string, number>();
  embeddings = 0;
  tokens = 0;
  readonly latency = new Histogram('vlm2vec_request_duration_seconds', 'Time from receiving an embeddings request to answering it', TIME_BUCKETS);
  readonly queueTime = new Histogram('vlm2vec_request_queue_duration_seconds', 'Time an embeddings request waited for its batch to start', TIME_BUCKETS);
  readonly batchSize = new Histogram('vlm2vec_batch_size', 'Items per batch sent to the model', SIZE_BUCKETS);
  readonly batchTokens = new Histogram('vlm2vec_batch_tokens', 'Prompt tokens per batch sent to the model', TOKEN_BUCKETS);
  readonly batchTime = new Histogram('vlm2vec_batch_duration_seconds', 'Model time per batch', TIME_BUCKETS);

  /** Counts a failed request by reason (e.g. `validation`, `overloaded`, `timeout`). */
  fail(reason: string): void {
    this.failures.set(reason, (this.failures.get(reason) ?? 0) + 1);
  }

  /** The exposition text, with the gauges read now. */
  render(gauges: { queueItems: number; inFlightRequests: number; ready: boolean; forwardPasses: number }): string {
    const out: string[] = [
      '# HELP vlm2vec_requests_total Embeddings requests received',
      '# TYPE vlm2vec_requests_total counter',
      `vlm2vec_requests_total ${this.requests}`,
      '# HELP vlm2vec_request_failures_total Embeddings requests answered with an error, by reason',
      '# TYPE vlm2vec_request_failures_total counter',
      ...[...this.failures].map(([k, v]) => `vlm2vec_request_failures_total{reason="${k}"} ${v}`),
      '# HELP vlm2vec_embeddings_total Embeddings computed and returned',
      '# TYPE vlm2vec_embeddings_total counter',
      `vlm2vec_embeddings_total ${this.embeddings}`,
      '# HELP vlm2vec_tokens_total Prompt tokens embedded',
      '# TYPE vlm2vec_tokens_total counter',
      `vlm2vec_tokens_total ${this.tokens}`,
      '# HELP vlm2vec_forward_passes_total Forward passes of the model (a batch splits by --batch-size rows and --max-batch-tokens)',
      '# TYPE vlm2vec_forward_passes_total counter',
      `vlm2vec_forward_passes_total ${gauges.forwardPasses}`,
      '# HELP vlm2vec_queue_items Items waiting for the model',
      '# TYPE vlm2vec_queue_items gauge',
      `vlm2vec_queue_items ${gauges.queueItems}`,
      '# HELP vlm2vec_requests_in_flight Embeddings requests being handled',
      '# TYPE vlm2vec_requests_in_flight gauge',
      `vlm2vec_requests_in_flight ${gauges.inFlightRequests}`,
      '# HELP vlm2vec_ready 1 once the model is loaded',
      '# TYPE vlm2vec_ready gauge',
      `vlm2vec_ready ${gauges.ready ? 1 : 0}`,
      this.latency.render(),
      this.queueTime.render(),
      this.batchSize.render(),
      this.batchTokens.render(),
      this.batchTime.render(),
      ...this.search.render(),
    ];
    return `${out.join('\n')}\n`;
  }
}
