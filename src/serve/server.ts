// `vlm2vec serve`: an OpenAI-compatible multimodal embedding server over one local model.
//
// node:http, not a framework: five routes, one JSON body each, and the parts that matter here —
// counting body bytes as they arrive (413 before buffering a huge body), seeing the client go
// away (its queued work is dropped), answering while closing — are a few lines on the raw
// request/response objects that a framework would wrap. No dependency to pin or audit.
//
// Requests are decoded by src/embed/protocol.ts (OpenAI's text form, our item form, vLLM's chat
// form), their items queued in the Batcher (dynamic batching across requests, bounded queue →
// 429), computed in the model thread (worker.ts: the event loop stays free for /health), and
// answered in OpenAI's shape with `usage`. Every error is an OpenAI-shaped body; none stops the
// server. Loopback by default; an API key and CORS are opt-in.
//
// With `db` (a `vlm2vec index` database) it also answers `POST /v1/search` (search-route.ts: the
// search of `vlm2vec search`, its query embedded through the same batcher), and with `ui` the
// search page at `/` (ui/, ui-files.ts) and its thumbnails (thumbnails.ts).

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Vlm2VecError, errorDetail } from '../errors.ts';
import type { LoadEvent, LocalEmbedderOptions } from '../embed/local.ts';
import { MediaError } from '../embed/media-error.ts';
import { modelPromptStyle } from '../embed/model-style.ts';
import { DEFAULT_PROMPT_STYLE, formatInput, imageToken, type PromptStyle } from '../embed/prompt.ts';
import { decodeRequest, encodeResponse, errorBody, ProtocolError, type DecodedRequest } from '../embed/protocol.ts';
import type { WeightDtype } from '../models/common/float16.ts';
import { Batcher, CancelledError, QueueFullError } from './batcher.ts';
import { ServeMetrics } from './metrics.ts';
import { inlineLocalMedia, mediaRoots } from './local-media.ts';
import { ModelThread, type ItemResult, type WorkItem } from './model-thread.ts';
import { searchIndex } from '../search/search.ts';
import type { IndexMeta } from '../search/store.ts';
import { BatcherQueryEmbedder, decodeSearchRequest, indexCounts, MAX_TOP_K, modelMismatch, openServedIndex, searchAnswer } from './search-route.ts';
import { thumbnailRoot, ThumbnailError, Thumbnails } from './thumbnails.ts';
import { loadUiFiles, UI_HEADERS } from './ui-files.ts';

/** Limits and batching of a server; every field has a default (see {@link DEFAULT_SERVE_LIMITS}). */
export interface ServeLimits {
  /** Rows per forward pass inside a batch. */
  batchSize: number;
  /** Padded tokens (rows × longest row) per forward pass; a longer item goes alone. */
  maxBatchTokens: number;
  /** Items per dynamic batch across requests. */
  maxBatchItems: number;
  /** Longest wait for more items before a partial batch leaves, ms. */
  maxWaitMs: number;
  /** Items waiting for the model beyond which requests get 429. */
  maxQueueItems: number;
  /** Bytes of one request body (413 beyond). */
  maxBodyBytes: number;
  /** Embeddings requests handled at once (429 beyond, before the body is read): with the body
   *  limit, this bounds the memory held by request bodies. */
  maxConcurrentRequests: number;
  /** Items per request. */
  maxItems: number;
  /** Frames of one item's video. */
  maxFrames: number;
  /** Images plus frames of one item. */
  maxMediaPerItem: number;
  /** Pixels (width × height) of one image or frame, read from its header before decoding. */
  maxImagePixels: number;
  /** Characters of one item's text. */
  maxTextChars: number;
  /** Seconds from receiving a request to answering it (504 beyond). */
  timeoutSeconds: number;
}

/**
 * Defaults a single user never trips: dozens of concurrent RemoteEmbedder clients (32 items each)
 * queue rather than get 429; a body of tens of MB (a few dozen large images) passes.
 */
export const DEFAULT_SERVE_LIMITS: Readonly<ServeLimits> = Object.freeze({
  batchSize: 8,
  // text-embeddings-inference's default.
  maxBatchTokens: 16384,
  maxBatchItems: 32,
  maxWaitMs: 0,
  maxQueueItems: 4096,
  maxBodyBytes: 64 * 1024 * 1024,
  // text-embeddings-inference's default.
  maxConcurrentRequests: 512,
  maxItems: 1024,
  maxFrames: 64,
  maxMediaPerItem: 256,
  // Pillow's decompression-bomb threshold (Image.MAX_IMAGE_PIXELS).
  maxImagePixels: 89_478_485,
  maxTextChars: 1_000_000,
  timeoutSeconds: 300,
});

/** Options of {@link startServer}. */
export interface ServeOptions extends Partial<ServeLimits> {
  /** Model folder, hub id or adapter folder (as `vlm2vec embed --model`). */
  model: string;
  adapter?: string | undefined;
  tokenizer?: string | undefined;
  dtype?: WeightDtype | undefined;
  threads?: number | undefined;
  minPixels?: number | undefined;
  maxPixels?: number | undefined;
  /** Phi-3-V's HD crops per image (4 or 16); refused for other architectures. */
  numCrops?: number | undefined;
  /** Prompt style of OpenAI's text form (default: the model's own, from its config.json); must be the model's. */
  promptStyle?: PromptStyle | undefined;
  /** Default 127.0.0.1 (loopback only). */
  host?: string | undefined;
  /** Default 8000; 0 picks a free port. */
  port?: number | undefined;
  /** The model id of `/v1/models` and answers (default: the embedder's identity). */
  servedModelName?: string | undefined;
  /** Required as `Authorization: Bearer <key>` on every route but `/health`. */
  apiKey?: string | undefined;
  /** Folders whose files a request may name by absolute path or file: URL (default: none, data URIs only). */
  allowLocalMedia?: readonly string[] | undefined;
  /** `Access-Control-Allow-Origin` value (e.g. `*`); absent: no CORS headers. */
  cors?: string | undefined;
  /** A `vlm2vec index` database: `POST /v1/search` searches it (its model must be the served one). */
  db?: string | undefined;
  /** With `db`: the search page at `/` and its thumbnails at `/thumbnail`. */
  ui?: boolean | undefined;
  /** With `ui`: the folder the index was made from (default: the one the index records). */
  root?: string | undefined;
  onLoad?: ((e: LoadEvent) => void) | undefined;
}

/** A running server. */
export interface ServeHandle {
  /** e.g. `http://127.0.0.1:8000` (the API is under `/v1`). */
  url: string;
  /** Resolves when the model is loaded (rejects with the load error). */
  ready: Promise<void>;
  /** Stops accepting connections, answers what is in flight, stops the model. */
  close(): Promise<void>;
  readonly metrics: ServeMetrics;
  /** Embeddings requests being handled now. */
  readonly inFlight: number;
}

type ErrorType = 'invalid_request_error' | 'authentication_error' | 'not_found_error' | 'server_overloaded' | 'server_error' | 'timeout';

/** An error answered with its own status (not a protocol or media error). */
class HttpError extends Vlm2VecError {
  constructor(readonly status: number, readonly type: ErrorType, message: string, readonly code: string | null = null, readonly param: string | null = null) {
    super('serve', message);
  }
}

const GET_ROUTES = new Set(['/v1/models', '/models', '/info', '/metrics']);
const SEARCH_ROUTE = '/v1/search';
const THUMBNAIL_ROUTE = '/thumbnail';

/** Counts bytes as they arrive; past the limit the body is discarded and the request is refused. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  const tooLarge = (n: number): HttpError => new HttpError(413, 'invalid_request_error',
    `request body: ${n} bytes, more than the limit of ${limit} (--max-body-bytes)`, 'payload_too_large');
  if (declared > limit) {
    req.resume();
    return Promise.reject(tooLarge(declared));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) over = true;
      if (!over) chunks.push(c);
    });
    req.on('end', () => (over ? reject(tooLarge(size)) : resolve(Buffer.concat(chunks))));
    req.on('error', reject);
  });
}

function sameKey(got: string | undefined, want: string): boolean {
  const a = Buffer.from(got ?? '');
  const b = Buffer.from(`Bearer ${want}`);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Starts listening at once (`/health` says 503 while the model loads) and loads the model in a
 * worker thread.
 *
 * @example
 * const srv = await startServer({ model: 'TIGER-Lab/VLM2Vec-Qwen2VL-2B', port: 8000 });
 * await srv.ready; // POST http://127.0.0.1:8000/v1/embeddings {"input": "a cat"}
 * await srv.close();
 */
export async function startServer(opts: ServeOptions): Promise<ServeHandle> {
  const limits: ServeLimits = { ...DEFAULT_SERVE_LIMITS };
  for (const k of Object.keys(DEFAULT_SERVE_LIMITS) as (keyof ServeLimits)[]) {
    const v = opts[k];
    if (v !== undefined) {
      if (!(Number.isFinite(v) && v >= 0)) throw new Vlm2VecError('serve', `${k} must be a non-negative number, got ${v}`);
      limits[k] = v;
    }
  }
  const style = opts.promptStyle ?? (await modelPromptStyle(opts.model)) ?? DEFAULT_PROMPT_STYLE;
  let roots: string[];
  try {
    roots = await mediaRoots(opts.allowLocalMedia ?? []);
  } catch (e) {
    throw new Vlm2VecError('serve', `--allow-local-media: ${(e as Error).message}`, { cause: e });
  }
  if (opts.ui && opts.db === undefined) throw new Vlm2VecError('serve', '--ui needs --db DIR: the page searches a vlm2vec index');
  // The index is checked before the (slow) model load; the model's identity once it is loaded.
  let indexMeta: IndexMeta | undefined;
  let thumbnails: Thumbnails | undefined;
  let uiFiles: Map<string, { type: string; body: Buffer }> | undefined;
  if (opts.db !== undefined) {
    indexMeta = await openServedIndex(opts.db);
    if (opts.ui) {
      thumbnails = new Thumbnails(opts.db, await thumbnailRoot(opts.root ?? indexMeta.root, opts.db), limits.maxImagePixels);
      uiFiles = await loadUiFiles();
    }
  }
  const metrics = new ServeMetrics();
  let model: ModelThread | undefined;
  let loadError: Error | undefined;
  let closing = false;
  let inFlight = 0;

  const batcher = new Batcher((items) => model!.run(items), {
    maxBatchItems: limits.maxBatchItems,
    maxWaitMs: limits.maxWaitMs,
    maxQueueItems: limits.maxQueueItems,
    onBatch: (b) => {
      metrics.batchSize.observe(b.items);
      metrics.batchTokens.observe(b.tokens);
      metrics.batchTime.observe(b.seconds);
    },
  });

  const modelName = (): string => opts.servedModelName ?? model?.id ?? opts.model;

  const searchInfo = async () => opts.db === undefined ? null : {
    route: `POST ${SEARCH_ROUTE}`,
    db: opts.db,
    index_model: indexMeta!.modelId,
    counts: await indexCounts(opts.db).catch(() => null),
    max_top_k: MAX_TOP_K,
    ui: opts.ui === true,
    ...(thumbnails ? { thumbnails_from: opts.root ?? indexMeta!.root } : {}),
  };

  const info = async () => ({
    model: modelName(),
    model_source: opts.model,
    ...(opts.adapter ? { adapter: opts.adapter } : {}),
    dim: model?.dim ?? null,
    ready: model !== undefined,
    prompt_style: style,
    local_media_folders: roots,
    dtype: opts.dtype ?? 'float32',
    request_forms: ['openai (input: string | string[])', 'vlm2vec (input: [{text, images?, video?}])', 'vllm (messages: chat form)'],
    encoding_formats: ['float', 'base64'],
    search: await searchInfo(),
    limits: {
      max_body_bytes: limits.maxBodyBytes,
      max_concurrent_requests: limits.maxConcurrentRequests,
      max_items_per_request: limits.maxItems,
      max_frames_per_video: limits.maxFrames,
      max_media_per_item: limits.maxMediaPerItem,
      max_image_pixels: limits.maxImagePixels,
      max_text_chars: limits.maxTextChars,
      timeout_seconds: limits.timeoutSeconds,
    },
    batching: {
      batch_size: limits.batchSize,
      max_batch_tokens: limits.maxBatchTokens,
      max_batch_items: limits.maxBatchItems,
      max_wait_ms: limits.maxWaitMs,
      max_queue_items: limits.maxQueueItems,
    },
  });

  function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    if (res.writableEnded || res.destroyed) return;
    const text = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    res.writeHead(status, {
      'content-type': typeof body === 'string' ? 'text/plain; version=0.0.4; charset=utf-8' : 'application/json',
      ...(opts.cors !== undefined ? { 'access-control-allow-origin': opts.cors, vary: 'Origin' } : {}),
      ...(closing ? { connection: 'close' } : {}),
      ...headers,
    });
    res.end(text);
  }

  function sendError(res: ServerResponse, err: Error): number {
    if (err instanceof ThumbnailError) {
      send(res, err.status, { error: { message: err.message, type: err.status === 400 ? 'invalid_request_error' : err.status === 403 ? 'permission_error' : 'not_found_error', param: err.status === 400 ? 'path' : null, code: null } });
      return err.status;
    }
    if (err instanceof HttpError) {
      send(res, err.status, { error: { message: err.message, type: err.type, param: err.param, code: err.code } },
        err.status === 401 ? { 'www-authenticate': 'Bearer' } : {});
      return err.status;
    }
    if (err instanceof QueueFullError) {
      send(res, 429, { error: { message: err.message, type: 'server_overloaded', param: null, code: 'queue_full' } }, { 'retry-after': String(err.retryAfter) });
      return 429;
    }
    if (err instanceof ProtocolError || err instanceof MediaError) {
      send(res, 400, errorBody(err));
      return 400;
    }
    send(res, 500, { error: { message: err.message, type: 'server_error', param: null, code: null } });
    return 500;
  }

  /** The request's answer from its items' results: the first failure fails the whole request. */
  function answer(decoded: DecodedRequest, results: ItemResult[]): unknown {
    const bad = results.findIndex((r) => !r.ok);
    if (bad >= 0) {
      const r = results[bad] as Extract<ItemResult, { ok: false }>;
      if (r.status === 500) throw new Vlm2VecError('serve', r.message);
      if (r.media) throw new MediaError(r.message, undefined, { item: bad, ...r.media });
      throw new ProtocolError(decoded.protocol === 'vllm' ? 'messages[0].content' : `input[${bad}]`, r.message);
    }
    const ok = results as Extract<ItemResult, { ok: true }>[];
    const tokens = ok.reduce((s, r) => s + r.tokens, 0);
    metrics.embeddings += ok.length;
    metrics.tokens += tokens;
    return encodeResponse(ok.map((r) => r.vector), { model: modelName(), encodingFormat: decoded.encodingFormat, promptTokens: tokens });
  }

  /** Runs `handle` under the request timeout, aborted when the client goes away. */
  async function withDeadline(req: IncomingMessage, res: ServerResponse,
    handle: (req: IncomingMessage, res: ServerResponse, signal: AbortSignal) => Promise<void>): Promise<void> {
    // The timeout counts from the request's arrival; a client that goes away abandons its items
    // (they leave the queue, or their results are dropped).
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(new HttpError(504, 'timeout',
      `the request was not answered within ${limits.timeoutSeconds} s (--timeout)`, 'timeout')), limits.timeoutSeconds * 1000);
    const onClose = (): void => {
      if (!res.writableEnded) ctl.abort(new CancelledError('the client closed the connection'));
    };
    res.on('close', onClose);
    try {
      await handle(req, res, ctl.signal);
    } finally {
      clearTimeout(timer);
      res.off('close', onClose);
    }
  }

  /** The JSON body of a request, once the model is there to work on it. */
  async function readJson(req: IncomingMessage): Promise<unknown> {
    const raw = await readBody(req, limits.maxBodyBytes);
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch (e) {
      throw new ProtocolError('request body', `not valid JSON: ${(e as Error).message}`);
    }
    if (model === undefined) {
      throw new HttpError(503, 'server_error', loadError ? `the model failed to load: ${loadError.message}` : 'the model is still loading; retry when GET /health answers 200', 'model_loading');
    }
    return body;
  }

  async function embedRequest(req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> {
    const body = await readJson(req);
    const dim = model!.dim;
    const dims = (body as { dimensions?: unknown } | null)?.dimensions;
    if (dims !== undefined && dims !== null && dims !== dim) {
      throw new ProtocolError('dimensions', `VLM2Vec is not a Matryoshka model: its embeddings have ${dim} dimensions and cannot be ` +
        `shortened (got ${JSON.stringify(dims)}); omit "dimensions"`);
    }
    await inlineLocalMedia(body, roots, limits.maxBodyBytes);
    const decoded = decodeRequest(body, {
      maxItems: limits.maxItems, maxMediaPerItem: limits.maxMediaPerItem, maxTextChars: limits.maxTextChars,
      maxMediaBytes: limits.maxBodyBytes, imageToken: imageToken(style),
    });
    // OpenAI's text form: each string is embedded as `vlm2vec embed` embeds {"text": …}.
    const input = (body as { input?: unknown }).input;
    const strings = typeof input === 'string' ? [true] : Array.isArray(input) ? input.map((x) => typeof x === 'string') : [];
    const items: WorkItem[] = decoded.items.map((item, index) => {
      if ((item.video?.length ?? 0) > limits.maxFrames) {
        throw new ProtocolError(`input[${index}].video`, `${item.video!.length} frames, more than the limit of ${limits.maxFrames} per video (--max-frames)`);
      }
      return { item: strings[index] ? { text: formatInput({ text: item.text }, style).text } : item, index };
    });
    const { results, queueSeconds } = await batcher.submit(items, signal);
    metrics.queueTime.observe(queueSeconds);
    send(res, 200, answer(decoded, results));
  }

  /** `POST /v1/search`: `searchIndex` with the query embedded through the batcher. */
  async function searchRequest(req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> {
    const body = await readJson(req);
    const q = decodeSearchRequest(body, { maxTextChars: limits.maxTextChars, maxMediaBytes: limits.maxBodyBytes });
    const embedder = new BatcherQueryEmbedder(model!.id, async (items) => {
      const { results, queueSeconds } = await batcher.submit(items, signal);
      metrics.queueTime.observe(queueSeconds);
      return results;
    });
    const mode = q.text !== undefined ? 'text' : 'image';
    const hits = await searchIndex({
      db: opts.db!, embedder, text: q.text, image: q.image, topK: q.topK, kinds: q.kinds, exact: q.exact,
      instructions: q.instructions ? { [mode]: q.instructions } : undefined, promptStyle: style,
    });
    send(res, 200, searchAnswer(hits, { model: modelName(), mode, tokens: embedder.tokens }));
  }

  /** A POST route that computes: bounded by --max-concurrent-requests, timed, its failures counted. */
  async function computeRoute(req: IncomingMessage, res: ServerResponse, kind: 'embeddings' | 'search',
    handle: (req: IncomingMessage, res: ServerResponse, signal: AbortSignal) => Promise<void>): Promise<void> {
    const counted = kind === 'embeddings' ? metrics : metrics.search;
    counted.requests++;
    const t0 = performance.now();
    inFlight++;
    try {
      if (inFlight > limits.maxConcurrentRequests) {
        req.resume();
        throw new QueueFullError(`${inFlight - 1} requests are being handled, the limit (--max-concurrent-requests); retry in 1 s`, 1);
      }
      await withDeadline(req, res, handle);
    } catch (e) {
      const status = sendError(res, e instanceof Error ? e : new Error(String(e)));
      counted.fail(e instanceof CancelledError ? 'cancelled' : status === 429 ? 'overloaded' : status === 413 ? 'payload_too_large'
        : status === 504 ? 'timeout' : status === 503 ? 'unavailable' : status >= 500 ? 'server' : 'validation');
    } finally {
      inFlight--;
      counted.latency.observe((performance.now() - t0) / 1000);
    }
  }

  /** The routes this server has, for a 404's message. */
  const routeList = (): string => ['POST /v1/embeddings', ...(opts.db !== undefined ? [`POST ${SEARCH_ROUTE}`] : []),
    'GET /health, /v1/models, /info, /metrics', ...(uiFiles ? [`GET / (search page), ${THUMBNAIL_ROUTE}`] : [])].join(', ');

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    const method = req.method ?? 'GET';
    if (method === 'OPTIONS' && opts.cors !== undefined) {
      send(res, 204, '', {
        'access-control-allow-methods': 'GET, POST, OPTIONS',
        'access-control-allow-headers': 'authorization, content-type',
        'access-control-max-age': '600',
      });
      return;
    }
    // The page holds no data (what it shows comes from the routes below): no key needed for it.
    if (uiFiles?.has(path) && (method === 'GET' || method === 'HEAD')) {
      const f = uiFiles.get(path)!;
      send(res, 200, f.body, { 'content-type': f.type, ...UI_HEADERS });
      return;
    }
    if (path === '/health' && method === 'GET') {
      if (model) send(res, 200, { status: 'ok' });
      else send(res, 503, { status: loadError ? 'failed' : 'loading', ...(loadError ? { error: loadError.message } : {}) });
      return;
    }
    if (opts.apiKey !== undefined && !sameKey(req.headers.authorization, opts.apiKey)) {
      throw new HttpError(401, 'authentication_error', 'missing or wrong API key: send "Authorization: Bearer <key>"', 'invalid_api_key');
    }
    if (path === '/v1/embeddings' || path === '/embeddings') {
      if (method !== 'POST') throw new HttpError(405, 'invalid_request_error', `${path} takes POST, not ${method}`, 'method_not_allowed');
      await computeRoute(req, res, 'embeddings', embedRequest);
      return;
    }
    if (path === SEARCH_ROUTE && opts.db !== undefined) {
      if (method !== 'POST') throw new HttpError(405, 'invalid_request_error', `${path} takes POST, not ${method}`, 'method_not_allowed');
      await computeRoute(req, res, 'search', searchRequest);
      return;
    }
    if (path === THUMBNAIL_ROUTE && thumbnails) {
      if (method !== 'GET') throw new HttpError(405, 'invalid_request_error', `${path} takes GET, not ${method}`, 'method_not_allowed');
      const params = new URL(req.url ?? '/', 'http://x').searchParams;
      const t = await thumbnails.get(params.get('path'), params.get('page'));
      send(res, 200, t.body, { ...UI_HEADERS, 'content-type': t.type, 'cache-control': 'private, max-age=60' });
      return;
    }
    if (!GET_ROUTES.has(path)) {
      throw new HttpError(404, 'not_found_error', `no route ${method} ${path} (routes: ${routeList()})`, 'not_found');
    }
    if (method !== 'GET') throw new HttpError(405, 'invalid_request_error', `${path} takes GET, not ${method}`, 'method_not_allowed');
    if (path === '/v1/models' || path === '/models') {
      if (!model) throw new HttpError(503, 'server_error', 'the model is still loading', 'model_loading');
      send(res, 200, { object: 'list', data: [{ id: modelName(), object: 'model', created: 0, owned_by: 'vlm2vec' }] });
    } else if (path === '/info') {
      send(res, 200, await info());
    } else {
      send(res, 200, metrics.render({ queueItems: batcher.queuedItems, inFlightRequests: inFlight, ready: model !== undefined, forwardPasses: model?.forwardPasses ?? 0 }));
    }
  }

  const server: Server = createServer((req, res) => {
    // A client aborting mid-body makes the request emit 'error'; unheard, that would end the process.
    req.on('error', () => {});
    if (closing) {
      send(res, 503, { error: { message: 'the server is shutting down', type: 'server_error', param: null, code: 'shutting_down' } });
      req.resume();
      return;
    }
    route(req, res).catch((e: unknown) => sendError(res, e instanceof Error ? e : new Error(String(e))));
  });
  // Receiving a request (headers and body) is bounded too, against clients that send slowly;
  // Node checks it every few seconds, so it is coarse.
  server.requestTimeout = Math.max(1000, limits.timeoutSeconds * 1000);

  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new Vlm2VecError('serve', `cannot listen on ${host}:${opts.port ?? 8000}: ${e.message}`, { cause: e })));
    server.listen(opts.port ?? 8000, host, resolve);
  });
  const addr = server.address() as AddressInfo;
  const url = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;

  const local: LocalEmbedderOptions = {
    adapter: opts.adapter, tokenizerDir: opts.tokenizer, dtype: opts.dtype, threads: opts.threads,
    minPixels: opts.minPixels, maxPixels: opts.maxPixels, numCrops: opts.numCrops, batchSize: limits.batchSize, promptStyle: style, onLoad: opts.onLoad,
  };
  const ready = ModelThread.load(opts.model, local, { maxImagePixels: limits.maxImagePixels, maxBatchTokens: limits.maxBatchTokens }).then(
    async (m) => {
      if (closing) return m.close();
      const mismatch = indexMeta && modelMismatch(opts.db!, indexMeta, m.id);
      if (mismatch) {
        await m.close();
        throw mismatch;
      }
      model = m;
      return undefined;
    },
  ).catch((e: unknown) => {
    loadError = e instanceof Error ? e : new Error(errorDetail(e));
    throw loadError;
  });
  // The caller awaits `ready`; an unobserved load failure must not crash the process.
  ready.catch(() => {});

  return {
    url,
    ready,
    metrics,
    get inFlight() {
      return inFlight;
    },
    async close() {
      if (closing) return;
      closing = true;
      await new Promise<void>((resolve) => {
        const t0 = performance.now();
        const poll = setInterval(() => {
          if (inFlight > 0) return;
          server.closeIdleConnections();
          // A client holding a connection open without a request does not delay the exit.
          if (performance.now() - t0 > 2000) server.closeAllConnections();
        }, 20);
        server.close(() => {
          clearInterval(poll);
          resolve();
        });
        server.closeIdleConnections();
      });
      await batcher.drain();
      await model?.close();
    },
  };
}
