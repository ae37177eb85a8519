// A small deterministic embedding server for tests: speaks the vlm2vec protocol (a batch of
// {text, images, video} items per request) and vLLM's chat form (one `messages` per request) on
// 127.0.0.1, a random port, decoding and answering through src/embed/protocol.ts (the module
// RemoteEmbedder and `serve` use), so a malformed request gets the same 400 a real server gives. The default embedding of an item is a unit vector seeded by the
// sha256 of its text and media bytes, so the same input always gives the same vector and
// distinct inputs give nearly orthogonal ones. Tests can replace the embedding function, inject
// faults per request (hang, die, HTTP errors, arbitrary bodies) and read the request log.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import { decodeRequest, encodeResponse, errorBody, errorStatus, type DecodedRequest, type RequestLimits } from '../../src/embed/protocol.ts';
import { MediaError } from '../../src/embed/media-error.ts';

/** One decoded input item as the server saw it. */
export interface ServerItem {
  text: string;
  images: Buffer[];
  video: Buffer[];
  /** Mime types of images then frames, from their data URIs. */
  mimes: string[];
  /** sha256 over text and media bytes: identifies the item across requests and runs. */
  digest: string;
}

export interface LoggedRequest {
  n: number;
  protocol: 'vlm2vec' | 'vllm';
  model: string | undefined;
  items: ServerItem[];
}

/** What to do with a request instead of answering it normally. */
export type Fault =
  | 'hang' // never answer (until the server closes)
  | 'die' // stop listening, drop every connection (the endpoint is gone)
  | 'reset' // destroy this connection only
  | { status: number; body?: string }
  | { json: unknown } // answer 200 with this body
  | { raw: string }; // answer 200 with this exact text

export interface EmbedServerOptions {
  dim?: number;
  modelName?: string;
  /** Embedding of one item (need not be normalised). Default {@link hashVector} of the item. */
  embed?: (item: ServerItem, dim: number) => ArrayLike<number>;
  /** Called per embeddings request (n is 1-based); return a fault to misbehave. */
  fault?: (req: LoggedRequest) => Fault | undefined;
  /** Delay before answering, ms. */
  delayMs?: number;
  /** Require `Authorization: Bearer <apiKey>` (401 otherwise). */
  apiKey?: string;
  /** Request limits (default: the protocol's defaults). */
  limits?: RequestLimits;
}

export interface EmbedServer {
  /** Base URL, e.g. `http://127.0.0.1:40123/v1`. */
  url: string;
  requests: LoggedRequest[];
  /** Most embeddings requests ever being handled at once. */
  readonly maxInFlight: number;
  /** Stop listening and drop every connection now. */
  die(): void;
  close(): Promise<void>;
}

/**
 * Deterministic unit vector for a seed: sha256 in counter mode gives uniform values in [-1, 1).
 *
 * @example
 * hashVector('a', 4); // the same 4 numbers every time, norm 1
 */
export function hashVector(seed: string | Buffer, dim: number): Float32Array {
  const out = new Float32Array(dim);
  let norm = 0;
  for (let block = 0; block * 8 < dim; block++) {
    const h = createHash('sha256').update(seed).update(`#${block}`).digest();
    for (let j = 0; j < 8 && block * 8 + j < dim; j++) {
      const v = h.readUInt32LE(j * 4) / 2 ** 31 - 1;
      out[block * 8 + j] = v;
      norm += v * v;
    }
  }
  const s = 1 / Math.sqrt(norm);
  for (let i = 0; i < dim; i++) out[i] = out[i]! * s;
  return out;
}

/** Digest identifying an item by content (text + media bytes), as the server computes it. */
export function itemDigest(text: string, images: readonly Buffer[], video: readonly Buffer[]): string {
  const h = createHash('sha256').update(JSON.stringify(text));
  for (const b of images) h.update('|i').update(createHash('sha256').update(b).digest());
  for (const b of video) h.update('|v').update(createHash('sha256').update(b).digest());
  return h.digest('hex');
}

/** The decoded request's items as the tests see them; a chat-form image leaves `<IMG>` in the
 *  text where it stood. */
function serverItems(req: DecodedRequest): ServerItem[] {
  const buf = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  return req.items.map((it, i) => {
    const images = (it.images ?? []).map(buf);
    const video = (it.video ?? []).map(buf);
    return { text: it.text, images, video, mimes: req.mimes[i]!, digest: itemDigest(it.text, images, video) };
  });
}

/**
 * Start the server on 127.0.0.1 with a random port.
 *
 * @example
 * const srv = await startEmbedServer({ dim: 8 });
 * // POST `${srv.url}/embeddings` …
 * await srv.close();
 */
export async function startEmbedServer(opts: EmbedServerOptions = {}): Promise<EmbedServer> {
  const dim = opts.dim ?? 16;
  const model = opts.modelName ?? 'test-embedder';
  const embed = opts.embed ?? ((item: ServerItem, d: number) => hashVector(Buffer.from(item.digest, 'hex'), d));
  // As a real server's embedder does, a MediaError from `embed` gets the item's index, so the
  // 400 answer names the media's JSON path.
  const embedItem = (item: ServerItem, i: number): ArrayLike<number> => {
    try {
      return embed(item, dim);
    } catch (e) {
      if (e instanceof MediaError && e.media) throw new MediaError(e.detail, e, { ...e.media, item: i });
      throw e;
    }
  };
  const requests: LoggedRequest[] = [];
  const sockets = new Set<Socket>();
  const hanging = new Set<ServerResponse>();
  let dead = false;
  let inFlight = 0;
  let maxInFlight = 0;

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void handle(req, res, Buffer.concat(chunks).toString('utf8'));
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  const die = (): void => {
    if (dead) return;
    dead = true;
    server.close();
    for (const s of sockets) s.destroy();
  };

  async function handle(req: IncomingMessage, res: ServerResponse, raw: string): Promise<void> {
    const send = (status: number, body: string): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(body);
    };
    if (opts.apiKey !== undefined && req.headers.authorization !== `Bearer ${opts.apiKey}`) {
      send(401, JSON.stringify({ error: 'invalid api key' }));
      return;
    }
    if (req.method === 'GET' && req.url === '/v1/models') {
      send(200, JSON.stringify({ object: 'list', data: [{ id: model, object: 'model' }] }));
      return;
    }
    if (req.method !== 'POST' || req.url !== '/v1/embeddings') {
      send(404, JSON.stringify({ error: `no route ${req.method} ${req.url}` }));
      return;
    }
    let decoded: DecodedRequest;
    try {
      decoded = decodeRequest(JSON.parse(raw), { imageToken: '<IMG>', ...opts.limits });
    } catch (err) {
      send(400, JSON.stringify(errorBody(err as Error)));
      return;
    }
    const logged: LoggedRequest = { n: requests.length + 1, protocol: decoded.protocol, model: decoded.model, items: serverItems(decoded) };
    requests.push(logged);
    const fault = opts.fault?.(logged);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    res.on('close', () => inFlight--);
    if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
    if (fault === 'hang') {
      hanging.add(res);
      return;
    }
    if (fault === 'die') {
      die();
      return;
    }
    if (fault === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault && 'status' in fault) return send(fault.status, fault.body ?? '{"error":"injected"}');
    if (fault && 'json' in fault) return send(200, JSON.stringify(fault.json));
    if (fault && 'raw' in fault) return send(200, fault.raw);
    let body: string;
    try {
      body = JSON.stringify(encodeResponse(logged.items.map((it, i) => embedItem(it, i)), { model, encodingFormat: decoded.encodingFormat }));
    } catch (err) {
      return send(errorStatus(err as Error), JSON.stringify(errorBody(err as Error)));
    }
    send(200, body);
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    get maxInFlight() {
      return maxInFlight;
    },
    die,
    close: async () => {
      for (const r of hanging) r.destroy();
      die();
      await new Promise<void>((r) => setImmediate(r));
    },
  };
}
