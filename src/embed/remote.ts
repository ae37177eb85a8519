// RemoteEmbedder: embeddings from one or more HTTP endpoints (our vlm2vec protocol, or vLLM's
// chat-form /v1/embeddings; the wire formats are in ./protocol.ts). Requests are spread over the
// live endpoints (least in-flight first), retried with exponential backoff, and an endpoint that
// keeps failing is dropped while the others carry on; only when every endpoint is dead does
// embedding fail.

import type { EmbedContext, EmbedItem, Embedder, EmbedderCapabilities } from './types.ts';
import { BadResponseError, decodeResponse, encodeVllmRequest, encodeVlm2VecRequest, parseMediaField, relaxedJson, type RemoteProtocol } from './protocol.ts';
import { MediaError, type MediaRef } from './media-error.ts';
import { Vlm2VecError } from '../errors.ts';

export type { RemoteProtocol } from './protocol.ts';

/** Something the embedder wants a user to know (the CLI prints these on stderr). */
export type RemoteEvent =
  | { type: 'retry'; url: string; attempt: number; error: string }
  | { type: 'dead'; url: string; error: string; alive: number };

/** Options of {@link RemoteEmbedder.create}. */
export interface RemoteOptions {
  /** Endpoint base URLs; `POST <base>/embeddings`. A URL without a path gets `/v1`. */
  endpoints: readonly string[];
  /** Default `vlm2vec`. */
  protocol?: RemoteProtocol;
  /** Sent as `"model"`. When absent it is read from `GET <base>/models` (first entry). */
  modelName?: string;
  /** Upper bound on in-flight HTTP requests over all endpoints. Default 4. */
  concurrency?: number;
  /** Items per request for the vlm2vec protocol (larger embed() calls are split). Default 32. */
  maxItemsPerRequest?: number;
  /** Retries of one request on live endpoints. Default 5. */
  retries?: number;
  /** First backoff delay; doubles per retry (with jitter) up to `maxBackoffMs`. Default 250. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Consecutive failures after which an endpoint is considered dead. Default 3. */
  deadAfter?: number;
  /** Per-request timeout. Default 5 minutes (Node's fetch also gives up waiting for response
   *  headers after 300 s, so longer values do not help a server that answers that slowly). */
  timeoutMs?: number;
  /** Sent as `Authorization: Bearer <key>` (vLLM `--api-key`, OpenAI-compatible gateways). */
  apiKey?: string;
  onEvent?: (e: RemoteEvent) => void;
}

interface Endpoint {
  url: string;
  alive: boolean;
  inFlight: number;
  failures: number;
  lastError: string;
}

/** An HTTP error that retrying cannot fix (bad request, auth, not found). */
class FatalHttpError extends Vlm2VecError {}

/** A 400 naming one media of the request (see parseMediaField): the data's fault, not the endpoint's. */
class HttpMediaError extends FatalHttpError {
  constructor(message: string, readonly ref: Required<MediaRef>) {
    super('remote', message);
  }
}

/**
 * The {@link MediaError} of a request's {@link HttpMediaError}, naming the file the item's media
 * came from (bytes have none) and the item's index in the embed call; other errors pass through.
 */
function asMediaError(err: unknown, items: readonly EmbedItem[], first: number): unknown {
  if (!(err instanceof HttpMediaError)) return err;
  const { item, kind, index } = err.ref;
  const src = items[item]?.[kind]?.[index];
  const name = typeof src === 'string' ? ` ${src}` : '';
  return new MediaError(`item ${first + item}: ${kind}[${index}]${name}: the endpoint cannot decode it (${err.detail})`, err, { item: first + item, kind, index });
}

/** A retryable HTTP answer (408, 429, 5xx), with the server's Retry-After when it sent one. */
class RetryableHttpError extends Error {
  constructor(message: string, readonly retryAfterMs: number | undefined) {
    super(message);
  }
}

/** `error.param` of an OpenAI-shaped error body, if the text is one. */
function errorParam(text: string): unknown {
  try {
    return (JSON.parse(text) as { error?: { param?: unknown } }).error?.param;
  } catch {
    return undefined;
  }
}

/** Longest Retry-After we honour; a server asking for more is treated as this. */
const MAX_RETRY_AFTER_MS = 60_000;

/**
 * Milliseconds from a Retry-After header (delta seconds or an HTTP date), or undefined.
 *
 * @example
 * parseRetryAfter('2'); // 2000
 */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const secs = Number(value);
  if (Number.isFinite(secs)) return secs >= 0 ? Math.min(secs * 1000, MAX_RETRY_AFTER_MS) : undefined;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.min(Math.max(0, at - now), MAX_RETRY_AFTER_MS);
}

/**
 * Normalise an endpoint base URL: http(s) only, no trailing slash, `/v1` when there is no path.
 *
 * @example
 * normalizeEndpoint('http://gpu1:8000'); // 'http://gpu1:8000/v1'
 */
export function normalizeEndpoint(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new Vlm2VecError('remote', `endpoint '${raw}' is not a URL (expected e.g. http://host:8000/v1)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new Vlm2VecError('remote', `endpoint '${raw}' must use http or https, not ${u.protocol}`);
  }
  let path = u.pathname.replace(/\/+$/, '');
  if (path === '') path = '/v1';
  return `${u.protocol}//${u.host}${path}`;
}

/** Counting semaphore bounding in-flight requests. */
class Semaphore {
  #free: number;
  readonly #waiters: (() => void)[] = [];
  constructor(n: number) {
    this.#free = n;
  }
  async acquire(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return;
    }
    await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }
  release(): void {
    const next = this.#waiters.shift();
    if (next) next();
    else this.#free++;
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Embedder backed by HTTP endpoints.
 *
 * @example
 * const emb = await RemoteEmbedder.create({ endpoints: ['http://gpu1:8000', 'http://gpu2:8000'] });
 * const [v] = await emb.embed([{ text: 'Find a document image that matches the given query: cats' }]);
 */
export class RemoteEmbedder implements Embedder {
  readonly id: string;
  readonly protocol: RemoteProtocol;
  readonly modelName: string | undefined;
  /** `video: false` for the vLLM chat protocol, which carries text and images only: the harness
   *  then fails a video task up front instead of stopping the run at its first request. */
  readonly capabilities: Readonly<Required<EmbedderCapabilities>>;
  readonly #endpoints: Endpoint[];
  readonly #sem: Semaphore;
  readonly #opts: Required<Omit<RemoteOptions, 'modelName' | 'onEvent' | 'endpoints' | 'protocol' | 'apiKey'>>;
  readonly #headers: Record<string, string>;
  readonly #onEvent: (e: RemoteEvent) => void;
  #dim: number | undefined;
  #rr = 0;

  private constructor(urls: string[], protocol: RemoteProtocol, modelName: string | undefined, opts: RemoteOptions) {
    this.protocol = protocol;
    this.modelName = modelName;
    this.capabilities = Object.freeze({ images: true, video: protocol !== 'vllm' });
    // The cache identity: the served model when known (any endpoint serving it gives the same
    // vectors), else the endpoint set. The protocol is part of it: vLLM's chat template builds a
    // different prompt from the same item.
    this.id = `${protocol}:${modelName ?? [...urls].sort().join(',')}`;
    this.#endpoints = urls.map((url) => ({ url, alive: true, inFlight: 0, failures: 0, lastError: '' }));
    this.#opts = {
      concurrency: opts.concurrency ?? 4,
      maxItemsPerRequest: opts.maxItemsPerRequest ?? 32,
      retries: opts.retries ?? 5,
      backoffMs: opts.backoffMs ?? 250,
      maxBackoffMs: opts.maxBackoffMs ?? 10_000,
      deadAfter: opts.deadAfter ?? 3,
      timeoutMs: opts.timeoutMs ?? 300_000,
    };
    this.#headers = { 'content-type': 'application/json', ...(opts.apiKey ? { authorization: `Bearer ${opts.apiKey}` } : {}) };
    for (const [k, v] of Object.entries(this.#opts)) {
      if (!Number.isFinite(v) || v < (k === 'retries' || k === 'backoffMs' || k === 'maxBackoffMs' ? 0 : 1)) {
        throw new Vlm2VecError('remote', `option ${k} must be a positive number, got ${v}`);
      }
    }
    this.#sem = new Semaphore(this.#opts.concurrency);
    this.#onEvent = opts.onEvent ?? (() => {});
  }

  /** Build the embedder; discovers the served model name when `modelName` is not given. */
  static async create(opts: RemoteOptions): Promise<RemoteEmbedder> {
    if (opts.endpoints.length === 0) throw new Vlm2VecError('remote', 'no endpoint given');
    const urls = [...new Set(opts.endpoints.map(normalizeEndpoint))];
    const protocol = opts.protocol ?? 'vlm2vec';
    const auth: Record<string, string> = opts.apiKey ? { authorization: `Bearer ${opts.apiKey}` } : {};
    const name = opts.modelName ?? (await discoverModel(urls, Math.min(opts.timeoutMs ?? 10_000, 10_000), auth));
    return new RemoteEmbedder(urls, protocol, name, opts);
  }

  /** Endpoints still in use. */
  get aliveEndpoints(): string[] {
    return this.#endpoints.filter((e) => e.alive).map((e) => e.url);
  }

  /** Embedding dimension, known after the first response. */
  get dim(): number | undefined {
    return this.#dim;
  }

  async embed(items: readonly EmbedItem[], ctx?: EmbedContext): Promise<Float32Array[]> {
    if (items.length === 0) return [];
    const task = ctx?.task;
    if (this.protocol === 'vllm') {
      const parts = await Promise.all(items.map(async (it, i) => {
        const body = await encodeVllmRequest(this.modelName, it, i, task, ctx?.mediaBytes);
        return this.#request(body, 1, i, task).catch((e: unknown) => {
          throw asMediaError(e, [it], i);
        });
      }));
      return parts.map((p) => p[0]!);
    }
    const size = this.#opts.maxItemsPerRequest;
    const chunks: Promise<Float32Array[]>[] = [];
    for (let start = 0; start < items.length; start += size) {
      const slice = items.slice(start, start + size);
      chunks.push(encodeVlm2VecRequest(this.modelName, slice, start, ctx?.mediaBytes)
        .then((body) => this.#request(body, slice.length, start, task))
        .catch((e: unknown) => {
          throw asMediaError(e, slice, start);
        }));
    }
    return (await Promise.all(chunks)).flat();
  }

  #pick(avoid: Endpoint | undefined): Endpoint {
    const alive = this.#endpoints.filter((e) => e.alive);
    if (alive.length === 0) {
      const why = this.#endpoints.map((e) => `${e.url}: ${e.lastError}`).join('; ');
      throw new Vlm2VecError('remote', `every endpoint is dead (${why})`);
    }
    const pool = alive.length > 1 && avoid ? alive.filter((e) => e !== avoid) : alive;
    const min = Math.min(...pool.map((e) => e.inFlight));
    const least = pool.filter((e) => e.inFlight === min);
    return least[this.#rr++ % least.length]!;
  }

  async #request(body: object, count: number, firstIndex: number, task: string | undefined): Promise<Float32Array[]> {
    const payload = JSON.stringify(body);
    let attempt = 0;
    let last: Endpoint | undefined;
    for (;;) {
      await this.#sem.acquire();
      let ep: Endpoint;
      try {
        ep = this.#pick(last);
      } catch (err) {
        this.#sem.release();
        throw err;
      }
      last = ep;
      ep.inFlight++;
      let failure: string;
      let retryAfterMs: number | undefined;
      try {
        const vectors = await this.#send(ep, payload, count, firstIndex, task);
        ep.failures = 0;
        return vectors;
      } catch (err) {
        if (err instanceof BadResponseError || err instanceof FatalHttpError) throw err;
        failure = describe(err);
        if (err instanceof RetryableHttpError) retryAfterMs = err.retryAfterMs;
      } finally {
        ep.inFlight--;
        this.#sem.release();
      }
      ep.failures++;
      ep.lastError = failure;
      if (ep.alive && ep.failures >= this.#opts.deadAfter) {
        ep.alive = false;
        const alive = this.#endpoints.filter((e) => e.alive).length;
        this.#onEvent({ type: 'dead', url: ep.url, error: failure, alive });
        // Dropping a dead endpoint does not spend this request's retries: it moves on at once.
        if (alive > 0) continue;
        this.#pick(undefined); // throws the every-endpoint-is-dead error
      }
      attempt++;
      if (attempt > this.#opts.retries) {
        throw new Vlm2VecError('remote', `${ep.url}${task ? ` (task ${task})` : ''}: items ${firstIndex}..${firstIndex + count - 1} ` +
          `failed after ${attempt} attempts: ${failure}`);
      }
      this.#onEvent({ type: 'retry', url: ep.url, attempt, error: failure });
      const base = Math.min(this.#opts.maxBackoffMs, this.#opts.backoffMs * 2 ** (attempt - 1));
      // An overloaded server (429/503) may say how long to wait; never retry sooner than that.
      await sleep(Math.max(base * (0.5 + Math.random() * 0.5), retryAfterMs ?? 0));
    }
  }

  async #send(ep: Endpoint, payload: string, count: number, firstIndex: number, task: string | undefined): Promise<Float32Array[]> {
    const url = `${ep.url}/embeddings`;
    const res = await fetch(url, {
      method: 'POST',
      headers: this.#headers,
      body: payload,
      signal: AbortSignal.timeout(this.#opts.timeoutMs),
    });
    const text = await res.text();
    if (!res.ok) {
      const msg = `HTTP ${res.status} from ${url}${task ? ` (task ${task})` : ''}: ${text.slice(0, 300)}`;
      if (res.status === 408 || res.status === 429 || res.status >= 500) {
        throw new RetryableHttpError(msg, parseRetryAfter(res.headers.get('retry-after')));
      }
      const ref = res.status === 400 ? parseMediaField(errorParam(text)) : undefined;
      if (ref && ref.item < count) throw new HttpMediaError(msg, ref);
      throw new FatalHttpError('remote', msg);
    }
    let json: unknown;
    try {
      json = relaxedJson(text);
    } catch {
      // A truncated body is what a dying server sends: worth a retry elsewhere.
      throw new Error(`${url}: response is not valid JSON (${text.length} bytes: ${JSON.stringify(text.slice(0, 80))})`);
    }
    const vectors = decodeResponse(json, count, { url, task, firstIndex, expectedDim: this.#dim });
    const dim = vectors[0]!.length;
    if (this.#dim !== undefined && dim !== this.#dim) {
      throw new BadResponseError(`${url}${task ? ` (task ${task})` : ''}: item ${firstIndex}: embedding has ${dim} dimensions, ` +
        `expected ${this.#dim} like the earlier responses`);
    }
    this.#dim = dim;
    return vectors;
  }
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  const code = (cause as { code?: string } | undefined)?.code;
  if (err.name === 'TimeoutError') return 'request timed out';
  return code ? `${err.message} (${code})` : cause instanceof Error ? `${err.message}: ${cause.message}` : err.message;
}

/** The served model id from `GET <base>/models` of the first endpoint that answers. */
async function discoverModel(urls: readonly string[], timeoutMs: number, headers: Record<string, string>): Promise<string | undefined> {
  const errors: string[] = [];
  for (const base of urls) {
    try {
      const res = await fetch(`${base}/models`, { headers, signal: AbortSignal.timeout(timeoutMs) });
      if (res.status === 401 || res.status === 403) {
        throw new Vlm2VecError('remote', `${base}/models answered HTTP ${res.status}: the endpoint needs an API key (--api-key or VLM2VEC_API_KEY)`);
      }
      if (!res.ok) {
        // An endpoint without /models is fine: requests then carry no "model" field.
        await res.body?.cancel();
        return undefined;
      }
      const id = ((await res.json()) as { data?: { id?: unknown }[] }).data?.[0]?.id;
      return typeof id === 'string' ? id : undefined;
    } catch (err) {
      if (err instanceof Vlm2VecError) throw err;
      errors.push(`${base}: ${describe(err)}`);
    }
  }
  throw new Vlm2VecError('remote', `no endpoint answered GET <base>/models (${errors.join('; ')}); ` +
    'check the URLs, or pass the model name explicitly (--model-name)');
}
