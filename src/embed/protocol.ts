// The HTTP embedding protocol in both directions, in one place: what RemoteEmbedder sends and
// reads, and what a server (the tests' one in test/e2e/embed-server.ts, the coming `serve`)
// reads and answers. Two request forms reach `POST <base>/embeddings`:
// - `vlm2vec`: `{model?, input: [{text, images?: [dataURI…], video?: [frameDataURI…]}],
//   encoding_format}`, a batch of items; `text` is the fully formatted prompt;
// - `vllm`: vLLM's chat form `{model?, messages: [{role: 'user', content: [parts…]}],
//   encoding_format}`, one item per request, images as `image_url` parts where their
//   placeholders stood (no video).
// Both are answered in OpenAI's embeddings shape; `encoding_format: 'base64'` carries each vector
// as its little-endian float32 bytes, as OpenAI does. Media travel as data URIs of the files'
// original bytes: the server decodes them to bytes and embeds those, no temporary files.

import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import type { EmbedItem, MediaInput } from './types.ts';
import { Vlm2VecError } from '../errors.ts';
import { MediaError, type MediaRef } from './media-error.ts';

/** Which request form a client speaks (README "Endpoint protocols"). */
export type RemoteProtocol = 'vlm2vec' | 'vllm';

/** How response vectors are written: JSON numbers, or base64 of little-endian float32 bytes. */
export type EncodingFormat = 'float' | 'base64';

/** One element of the vlm2vec form's `input` array. */
export interface WireItem {
  text: string;
  images?: string[];
  video?: string[];
}

/** Request body of the vlm2vec form. */
export interface Vlm2VecRequest {
  model?: string;
  input: WireItem[];
  encoding_format: EncodingFormat;
}

/** One part of a vLLM chat message. */
export type ChatPart = { type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string } };

/** Request body of vLLM's chat form (one item). */
export interface VllmRequest {
  model?: string;
  messages: [{ role: 'user'; content: ChatPart[] }];
  encoding_format: EncodingFormat;
}

/** OpenAI's embeddings response. */
export interface EmbeddingsResponse {
  object: 'list';
  data: { object: 'embedding'; index: number; embedding: number[] | string }[];
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
}

// ── Media ───────────────────────────────────────────────────────────────────────────────────

const MIME_BY_EXT: Record<string, string> = {
  '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.png': 'image/png', '.gif': 'image/gif',
  '.webp': 'image/webp', '.bmp': 'image/bmp', '.tif': 'image/tiff', '.tiff': 'image/tiff',
};

/**
 * Mime type of image bytes: sniffed from the magic number (datasets do contain PNGs named .jpg),
 * else from the file's extension, else `application/octet-stream`.
 *
 * @example
 * mimeOf(Buffer.from([0x89, 0x50, 0x4e, 0x47]), 'a.jpg'); // 'image/png'
 */
export function mimeOf(bytes: Uint8Array, path = ''): string {
  const b = bytes;
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  if (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'image/png';
  if (b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46) return 'image/gif';
  if (b[0] === 0x52 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x46 && b[8] === 0x57 && b[9] === 0x45) return 'image/webp';
  if (b[0] === 0x42 && b[1] === 0x4d) return 'image/bmp';
  if ((b[0] === 0x49 && b[1] === 0x49 && b[2] === 0x2a) || (b[0] === 0x4d && b[1] === 0x4d && b[2] === 0x00)) return 'image/tiff';
  return MIME_BY_EXT[extname(path).toLowerCase()] ?? 'application/octet-stream';
}

/**
 * A data URI carrying bytes unchanged; the mime type as {@link mimeOf} gives it.
 *
 * @example
 * toDataUri(Buffer.from([0xff, 0xd8, 0xff])); // 'data:image/jpeg;base64,/9j/'
 */
export function toDataUri(bytes: Uint8Array, path?: string): string {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return `data:${mimeOf(b, path)};base64,${b.toString('base64')}`;
}

/** Media bytes the caller already holds (see `EmbedContext.mediaBytes`). */
export type MediaBytes = ReadonlyMap<string, Uint8Array> | undefined;

/** A data URI of one image or frame: bytes as given, or the file's bytes (from `have` when it holds them). */
async function mediaDataUri(media: MediaInput, itemIndex: number, have: MediaBytes): Promise<string> {
  if (typeof media !== 'string') return toDataUri(media);
  const held = have?.get(media);
  if (held !== undefined) return toDataUri(held, media);
  try {
    return toDataUri(await readFile(media), media);
  } catch (err) {
    throw new Vlm2VecError('remote', `item ${itemIndex}: media file ${media} cannot be read: ${(err as Error).message}`, { cause: err });
  }
}

/** Media types are not restricted to image/*: the embedder sniffs the bytes, and a client sends
 *  `application/octet-stream` for bytes it does not recognise (the embedder then names them). */
const DATA_URI = /^data:([a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+)((?:;[^;,]*)*);base64,/i;

/**
 * Decode a base64 data URI to its mime type and bytes, naming `field` when it is not one, its
 * payload is not base64, it is empty, or its bytes exceed `maxBytes`.
 *
 * @example
 * parseDataUri('data:image/png;base64,iVBORw==', 'input[0].images[0]'); // { mime: 'image/png', bytes: <89 50 4e 47> }
 */
export function parseDataUri(value: unknown, field: string, maxBytes = Infinity): { mime: string; bytes: Uint8Array } {
  const m = typeof value === 'string' ? DATA_URI.exec(value) : null;
  if (!m) {
    const got = typeof value === 'string' ? JSON.stringify(value.slice(0, 40) + (value.length > 40 ? '…' : '')) : describeValue(value);
    throw new ProtocolError(field, `expected a data URI (data:image/...;base64,...), got ${got}`);
  }
  const payload = (value as string).slice(m[0].length);
  if (payload.length === 0) throw new ProtocolError(field, 'the data URI carries no bytes');
  // Upper bound of the decoded size, checked before decoding a payload that is far too large.
  const size = Math.floor((payload.length * 3) / 4) - (payload.endsWith('==') ? 2 : payload.endsWith('=') ? 1 : 0);
  if (size > maxBytes) throw new ProtocolError(field, `${size} bytes, more than the limit of ${maxBytes} per image or frame`);
  // Buffer.from(…, 'base64') skips characters it does not know: check the alphabet first.
  if (!isBase64(payload)) throw new ProtocolError(field, 'the data URI payload is not valid base64');
  return { mime: m[1]!.toLowerCase(), bytes: Buffer.from(payload, 'base64') };
}

/** Standard base64 alphabet, `=` padding only at the end (up to two), no length of 4k+1. A loop,
 *  not a regex: payloads run to megabytes. */
function isBase64(s: string): boolean {
  let end = s.length;
  if (s.endsWith('==')) end -= 2;
  else if (s.endsWith('=')) end -= 1;
  if (end < s.length && s.length % 4 !== 0) return false;
  if (end % 4 === 1) return false;
  for (let i = 0; i < end; i++) {
    const c = s.charCodeAt(i);
    const ok = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 47;
    if (!ok) return false;
  }
  return true;
}

// ── Requests: client side ──────────────────────────────────────────────────────────────────

/**
 * Request body of the vlm2vec form for a batch of items. Media paths are read from `have` when
 * it holds them (the caller read them already), else from disk; media bytes are sent as they are.
 * `firstIndex` numbers the items in error messages.
 *
 * @example
 * await encodeVlm2VecRequest('VLM2Vec-V2.0', [{ text: 'a cat' }]);
 * // { model: 'VLM2Vec-V2.0', input: [{ text: 'a cat' }], encoding_format: 'float' }
 */
export async function encodeVlm2VecRequest(model: string | undefined, items: readonly EmbedItem[], firstIndex = 0, have?: MediaBytes): Promise<Vlm2VecRequest> {
  const input = await Promise.all(items.map(async (it, i): Promise<WireItem> => {
    const w: WireItem = { text: it.text };
    if (it.images) w.images = await Promise.all(it.images.map((p) => mediaDataUri(p, firstIndex + i, have)));
    if (it.video) w.video = await Promise.all(it.video.map((p) => mediaDataUri(p, firstIndex + i, have)));
    return w;
  }));
  return { ...(model === undefined ? {} : { model }), input, encoding_format: 'float' };
}

/** Image/video placeholder tokens of every backbone prompt style (docs/mmeb.md §3.1). vLLM's chat
 *  template inserts its own vision tokens per image part, so ours must not reach it. */
const PLACEHOLDER = /<\|image_pad\|>|<\|video_pad\|>|<\|image_\d+\|>|<image>/g;

/**
 * Request body of vLLM's chat form for one item. Images go where their placeholders stood in the
 * formatted prompt (extra images without a placeholder go first, as the reference prompts put
 * the image token first); the placeholders themselves are removed.
 *
 * @example
 * await encodeVllmRequest('m', { text: '<|image_pad|> Represent the given image.', images: ['/x.png'] }, 0);
 * // { model: 'm', messages: [{ role: 'user', content: [{ type: 'image_url', … },
 * //   { type: 'text', text: ' Represent the given image.' }] }], encoding_format: 'float' }
 */
export async function encodeVllmRequest(model: string | undefined, item: EmbedItem, index: number, task?: string, have?: MediaBytes): Promise<VllmRequest> {
  if (item.video && item.video.length > 0) {
    throw new Vlm2VecError('remote', `${task ? `task ${task}, ` : ''}item ${index}: the vllm protocol cannot send video ` +
      `(${item.video.length} frames); use --protocol vlm2vec with a server that accepts video`);
  }
  const uris = await Promise.all((item.images ?? []).map((p) => mediaDataUri(p, index, have)));
  const segments = item.text.split(PLACEHOLDER);
  const placeholders = segments.length - 1;
  const leading = Math.max(0, uris.length - placeholders);
  const content: ChatPart[] = [];
  const img = (u: string): ChatPart => ({ type: 'image_url', image_url: { url: u } });
  for (let i = 0; i < leading; i++) content.push(img(uris[i]!));
  let next = leading;
  segments.forEach((seg, i) => {
    if (i > 0 && next < uris.length) content.push(img(uris[next++]!));
    if (seg.length > 0) content.push({ type: 'text', text: seg });
  });
  return { ...(model === undefined ? {} : { model }), messages: [{ role: 'user', content }], encoding_format: 'float' };
}

// ── Requests: server side ──────────────────────────────────────────────────────────────────

/** A request the server cannot accept (answered with HTTP 400); `field` is its JSON path. */
export class ProtocolError extends Vlm2VecError {
  constructor(readonly field: string, message: string) {
    super('protocol', `${field}: ${message}`);
    this.name = 'ProtocolError';
  }
}

/** Bounds a server puts on one request (the HTTP layer bounds the body size before parsing). */
export interface RequestLimits {
  /** Items per vlm2vec-form request. Default 1024 (RemoteEmbedder sends 32). */
  maxItems?: number;
  /** Images plus video frames of one item. Default 256. */
  maxMediaPerItem?: number;
  /** Bytes of one decoded image or frame. Default 64 MiB. */
  maxMediaBytes?: number;
  /** Characters of one item's text. Default 1,000,000. */
  maxTextChars?: number;
}

/** The limits a {@link RequestLimits} field falls back to. */
export const DEFAULT_REQUEST_LIMITS: Readonly<Required<RequestLimits>> = Object.freeze({
  maxItems: 1024,
  maxMediaPerItem: 256,
  maxMediaBytes: 64 * 1024 * 1024,
  maxTextChars: 1_000_000,
});

/** Options of {@link decodeRequest}. */
export interface DecodeRequestOptions extends RequestLimits {
  /** What stands in the decoded text where a chat-form image part stood. Default `<|image_pad|>`
   *  (the qwen2_vl prompt style's, so a qwen2_vl item survives encode → decode unchanged). */
  imageToken?: string;
}

/** An item whose media are bytes, as a server hands it to an embedder. */
export type BytesEmbedItem = EmbedItem<Uint8Array>;

/** A decoded, validated request. */
export interface DecodedRequest {
  protocol: RemoteProtocol;
  model: string | undefined;
  /** How the response must write the vectors (OpenAI's default is `float`). */
  encodingFormat: EncodingFormat;
  /** One per input item, media decoded to bytes: ready for `Embedder.embed`. */
  items: BytesEmbedItem[];
  /** The data URIs' mime types per item: its images, then its video frames. */
  mimes: string[][];
}

/**
 * Decode and validate either request form. Throws a {@link ProtocolError} naming the field at
 * fault, e.g. `input[3].images[0]: expected a data URI (data:image/...;base64,...), got "…"`.
 * `input` may also be a string or a list of strings (OpenAI's text-only form).
 *
 * @example
 * const req = decodeRequest(JSON.parse(body), { maxItems: 64 });
 * const vectors = await embedder.embed(req.items);
 * res.end(JSON.stringify(encodeResponse(vectors, { model: 'VLM2Vec-V2.0', encodingFormat: req.encodingFormat })));
 */
export function decodeRequest(body: unknown, opts: DecodeRequestOptions = {}): DecodedRequest {
  const limits = { ...DEFAULT_REQUEST_LIMITS, ...definedOnly(opts) };
  if (!isObject(body)) throw new ProtocolError('request body', `expected a JSON object, got ${describeValue(body)}`);
  if (body.model !== undefined && typeof body.model !== 'string') throw new ProtocolError('model', `expected a string, got ${describeValue(body.model)}`);
  const f = body.encoding_format;
  if (f !== undefined && f !== 'float' && f !== 'base64') throw new ProtocolError('encoding_format', `expected "float" or "base64", got ${describeValue(f)}`);
  const head = { model: body.model as string | undefined, encodingFormat: (f ?? 'float') as EncodingFormat };
  if (body.input !== undefined && body.messages !== undefined) {
    throw new ProtocolError('request body', 'has both "input" (vlm2vec form) and "messages" (vLLM chat form)');
  }
  if (body.messages !== undefined) {
    const { item, mimes } = decodeChat(body.messages, limits, opts.imageToken ?? '<|image_pad|>');
    return { protocol: 'vllm', ...head, items: [item], mimes: [mimes] };
  }
  if (body.input === undefined) throw new ProtocolError('request body', 'expected "input" (vlm2vec form) or "messages" (vLLM chat form)');
  const input = typeof body.input === 'string' ? [body.input] : body.input;
  if (!Array.isArray(input)) throw new ProtocolError('input', `expected an array of items, got ${describeValue(input)}`);
  if (input.length === 0) throw new ProtocolError('input', 'expected at least one item');
  if (input.length > limits.maxItems) throw new ProtocolError('input', `${input.length} items, more than the limit of ${limits.maxItems} per request`);
  const items: BytesEmbedItem[] = [];
  const mimes: string[][] = [];
  input.forEach((raw: unknown, i) => {
    const d = decodeWireItem(raw, `input[${i}]`, limits);
    items.push(d.item);
    mimes.push(d.mimes);
  });
  return { protocol: 'vlm2vec', ...head, items, mimes };
}

const ITEM_FIELDS = new Set(['text', 'images', 'video']);

function decodeWireItem(raw: unknown, at: string, limits: Required<RequestLimits>): { item: BytesEmbedItem; mimes: string[] } {
  if (typeof raw === 'string') raw = { text: raw };
  if (!isObject(raw)) throw new ProtocolError(at, `expected an item {text, images?, video?} or a string, got ${describeValue(raw)}`);
  // A misspelt field ("image") would otherwise drop the media silently.
  for (const k of Object.keys(raw)) {
    if (!ITEM_FIELDS.has(k)) throw new ProtocolError(`${at}.${k}`, 'unknown field (an item has text, images, video)');
  }
  const text = checkText(raw.text, `${at}.text`, limits);
  const lists = { images: raw.images, video: raw.video };
  let count = 0;
  for (const [k, v] of Object.entries(lists)) {
    if (v === undefined) continue;
    if (!Array.isArray(v)) throw new ProtocolError(`${at}.${k}`, `expected an array of data URIs, got ${describeValue(v)}`);
    count += v.length;
  }
  if (count > limits.maxMediaPerItem) {
    throw new ProtocolError(at, `${count} images and video frames, more than the limit of ${limits.maxMediaPerItem} per item`);
  }
  const item: BytesEmbedItem = { text };
  const mimes: string[] = [];
  for (const k of ['images', 'video'] as const) {
    const v = lists[k] as unknown[] | undefined;
    if (v === undefined) continue;
    item[k] = v.map((uri, j) => {
      const d = parseDataUri(uri, `${at}.${k}[${j}]`, limits.maxMediaBytes);
      mimes.push(d.mime);
      return d.bytes;
    });
  }
  return { item, mimes };
}

function decodeChat(messages: unknown, limits: Required<RequestLimits>, imageToken: string): { item: BytesEmbedItem; mimes: string[] } {
  if (!Array.isArray(messages) || messages.length !== 1) {
    const got = Array.isArray(messages) ? `${messages.length} messages` : describeValue(messages);
    throw new ProtocolError('messages', `expected exactly one user message (one item per request), got ${got}`);
  }
  const msg: unknown = messages[0];
  if (!isObject(msg)) throw new ProtocolError('messages[0]', `expected {role, content}, got ${describeValue(msg)}`);
  if (msg.role !== undefined && msg.role !== 'user') throw new ProtocolError('messages[0].role', `expected "user", got ${describeValue(msg.role)}`);
  const content = typeof msg.content === 'string' ? [{ type: 'text', text: msg.content }] : msg.content;
  if (!Array.isArray(content)) throw new ProtocolError('messages[0].content', `expected a string or an array of parts, got ${describeValue(content)}`);
  const images: Uint8Array[] = [];
  const mimes: string[] = [];
  let text = '';
  content.forEach((part: unknown, i) => {
    const at = `messages[0].content[${i}]`;
    if (!isObject(part)) throw new ProtocolError(at, `expected a part {type, …}, got ${describeValue(part)}`);
    if (part.type === 'text') {
      if (typeof part.text !== 'string') throw new ProtocolError(`${at}.text`, `expected a string, got ${describeValue(part.text)}`);
      text += part.text;
    } else if (part.type === 'image_url') {
      const url = isObject(part.image_url) ? part.image_url.url : undefined;
      if (images.length + 1 > limits.maxMediaPerItem) {
        throw new ProtocolError(at, `more than the limit of ${limits.maxMediaPerItem} images per item`);
      }
      // Remote URLs are not fetched: a server fetching what a client names is a security hole.
      const d = parseDataUri(url, `${at}.image_url.url`, limits.maxMediaBytes);
      images.push(d.bytes);
      mimes.push(d.mime);
      text += imageToken;
    } else {
      throw new ProtocolError(`${at}.type`, `expected "text" or "image_url", got ${describeValue(part.type)}`);
    }
  });
  checkText(text, 'messages[0].content', limits);
  return { item: images.length > 0 ? { text, images } : { text }, mimes };
}

function checkText(v: unknown, field: string, limits: Required<RequestLimits>): string {
  if (typeof v !== 'string') throw new ProtocolError(field, `expected a string, got ${describeValue(v)}`);
  if (v.length > limits.maxTextChars) throw new ProtocolError(field, `${v.length} characters, more than the limit of ${limits.maxTextChars}`);
  return v;
}

/**
 * The JSON path of one media of a request item, as a server names it in a 400 answer.
 *
 * @example mediaField({ item: 2, kind: 'images', index: 0 }) // 'input[2].images[0]'
 */
export function mediaField(ref: Required<MediaRef>): string {
  return `input[${ref.item}].${ref.kind}[${ref.index}]`;
}

/**
 * The media a 400 answer's `param` names (see {@link mediaField}), or undefined when it names
 * none (another field, or a server that does not say).
 *
 * @example parseMediaField('input[2].video[7]') // { item: 2, kind: 'video', index: 7 }
 */
export function parseMediaField(param: unknown): Required<MediaRef> | undefined {
  const m = typeof param === 'string' ? /^input\[(\d+)\]\.(images|video)\[(\d+)\]$/.exec(param) : null;
  return m ? { item: Number(m[1]), kind: m[2] as MediaRef['kind'], index: Number(m[3]) } : undefined;
}

/** The request's fault (400: a malformed request, or media that cannot be decoded) or the server's (500). */
export function errorStatus(err: Error): 400 | 500 {
  return err instanceof ProtocolError || err instanceof MediaError ? 400 : 500;
}

/**
 * The body a server answers a failed request with, in OpenAI's error shape; `param` names the
 * field at fault (for undecodable media: its {@link mediaField}, which RemoteEmbedder reads back).
 *
 * @example
 * errorBody(new ProtocolError('input[0].text', 'expected a string, got number'));
 * // { error: { message: '[protocol] input[0].text: expected …', type: 'invalid_request_error', param: 'input[0].text', code: null } }
 */
export function errorBody(err: Error): { error: { message: string; type: string; param: string | null; code: null } } {
  const media = err instanceof MediaError && err.media?.item !== undefined ? mediaField(err.media as Required<MediaRef>) : undefined;
  const param = err instanceof ProtocolError ? err.field : media ?? null;
  return { error: { message: err.message, type: errorStatus(err) === 400 ? 'invalid_request_error' : 'server_error', param, code: null } };
}

// ── Responses ──────────────────────────────────────────────────────────────────────────────

/**
 * The response body for vectors in request order. Refuses empty, ragged or non-finite vectors
 * (a client would reject them anyway; the server is the one to say which).
 *
 * @example
 * encodeResponse([Float32Array.of(0.6, 0.8)], { model: 'm' });
 * // { object: 'list', data: [{ object: 'embedding', index: 0, embedding: [0.6000000238418579, 0.800000011920929] }], model: 'm', usage: … }
 */
export function encodeResponse(vectors: readonly ArrayLike<number>[], opts: { model: string; encodingFormat?: EncodingFormat; promptTokens?: number }): EmbeddingsResponse {
  const dim = vectors[0]?.length;
  const data = vectors.map((v, index) => {
    if (v.length === 0 || v.length !== dim) {
      throw new Vlm2VecError('protocol', `response: embedding ${index} has ${v.length} dimensions${v.length === 0 ? '' : `, embedding 0 has ${dim}`}`);
    }
    for (let j = 0; j < v.length; j++) {
      if (!Number.isFinite(v[j])) throw new Vlm2VecError('protocol', `response: embedding ${index}[${j}] is ${v[j]} (expected a finite number)`);
    }
    const embedding = opts.encodingFormat === 'base64' ? float32Base64(v) : Array.from(v);
    return { object: 'embedding' as const, index, embedding };
  });
  const tokens = opts.promptTokens ?? 0;
  return { object: 'list', data, model: opts.model, usage: { prompt_tokens: tokens, total_tokens: tokens } };
}

function float32Base64(v: ArrayLike<number>): string {
  const buf = Buffer.alloc(v.length * 4);
  for (let i = 0; i < v.length; i++) buf.writeFloatLE(v[i]!, i * 4);
  return buf.toString('base64');
}

/** Where a response came from, for error messages. */
export interface ResponseContext {
  url: string;
  task?: string | undefined;
  /** Index (within the embed() call) of the response's first item. */
  firstIndex: number;
  /** Dimension seen earlier from this embedder, if any. */
  expectedDim?: number | undefined;
}

/** A response that is well-formed JSON but semantically wrong: never retried. */
export class BadResponseError extends Vlm2VecError {
  constructor(message: string) {
    super('remote', message);
    this.name = 'BadResponseError';
  }
}

/**
 * Validate an OpenAI-shaped embeddings response and return one vector per requested item, in
 * request order (by `index`). Rejects a wrong count, missing or repeated indices, inconsistent
 * or unexpected dimensions and non-finite values, naming the endpoint and the item. Float arrays
 * and base64 vectors are both read (some servers answer base64 whatever was asked).
 *
 * @example
 * decodeResponse({ data: [{ index: 0, embedding: [0.6, 0.8] }] }, 1, { url: 'http://h/v1/embeddings', firstIndex: 0 });
 */
export function decodeResponse(json: unknown, count: number, ctx: ResponseContext): Float32Array[] {
  const where = `${ctx.url}${ctx.task ? ` (task ${ctx.task})` : ''}`;
  const data = (json as { data?: unknown } | null)?.data;
  if (!Array.isArray(data)) throw new BadResponseError(`${where}: response has no "data" array`);
  if (data.length !== count) {
    throw new BadResponseError(`${where}: response has ${data.length} embeddings for ${count} items ` +
      `(items ${ctx.firstIndex}..${ctx.firstIndex + count - 1})`);
  }
  const out: (Float32Array | undefined)[] = new Array(count).fill(undefined);
  let dim = ctx.expectedDim;
  data.forEach((entry: unknown, pos) => {
    const e = entry as { index?: unknown; embedding?: unknown } | null;
    const idx = e?.index === undefined ? pos : e.index;
    if (typeof idx !== 'number' || !Number.isInteger(idx) || idx < 0 || idx >= count) {
      throw new BadResponseError(`${where}: data[${pos}].index is ${JSON.stringify(idx)}, expected an integer in 0..${count - 1}`);
    }
    const item = ctx.firstIndex + idx;
    if (out[idx]) throw new BadResponseError(`${where}: item ${item}: index ${idx} appears twice in the response`);
    const vec = toVector(e?.embedding, `${where}: item ${item}`);
    if (dim !== undefined && vec.length !== dim) {
      throw new BadResponseError(`${where}: item ${item}: embedding has ${vec.length} dimensions, expected ${dim} ` +
        `like the other embeddings`);
    }
    dim = vec.length;
    out[idx] = vec;
  });
  return out as Float32Array[];
}

function toVector(raw: unknown, label: string): Float32Array {
  let vec: Float32Array;
  if (typeof raw === 'string') {
    // encoding_format=base64: little-endian float32.
    const bytes = Buffer.from(raw, 'base64');
    if (bytes.length % 4 !== 0 || bytes.length === 0) throw new BadResponseError(`${label}: base64 embedding has ${bytes.length} bytes, not a float32 vector`);
    vec = new Float32Array(bytes.length / 4);
    for (let i = 0; i < vec.length; i++) vec[i] = bytes.readFloatLE(i * 4);
  } else if (Array.isArray(raw)) {
    if (raw.length === 0) throw new BadResponseError(`${label}: embedding is empty`);
    vec = new Float32Array(raw.length);
    for (let i = 0; i < raw.length; i++) {
      const v: unknown = raw[i];
      // Python's json.dumps writes bare NaN/Infinity; the transport quotes them (see relaxedJson).
      if (v === 'NaN' || v === 'Infinity' || v === '-Infinity') throw new BadResponseError(`${label}: embedding[${i}] is ${v} (expected a finite number)`);
      if (typeof v !== 'number') throw new BadResponseError(`${label}: embedding[${i}] is ${JSON.stringify(v)}, expected a number`);
      vec[i] = v;
    }
  } else {
    throw new BadResponseError(`${label}: "embedding" is ${raw === undefined ? 'missing' : typeof raw}, expected an array of numbers`);
  }
  for (let i = 0; i < vec.length; i++) {
    if (!Number.isFinite(vec[i]!)) throw new BadResponseError(`${label}: embedding[${i}] is ${vec[i]} (expected a finite number)`);
  }
  return vec;
}

/**
 * JSON.parse that also accepts the bare `NaN`, `Infinity` and `-Infinity` tokens Python's json
 * module writes, turning them into strings so validation can name them instead of failing with
 * an opaque syntax error.
 *
 * @example
 * relaxedJson('{"a":[NaN,1]}'); // { a: ['NaN', 1] }
 */
export function relaxedJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    // Only rewrite tokens outside strings: walk the text, copying strings verbatim.
    const fixed = text.replace(/"(?:[^"\\]|\\.)*"|-?Infinity|NaN/g, (m) => (m.startsWith('"') ? m : `"${m}"`));
    try {
      return JSON.parse(fixed);
    } catch {
      throw err;
    }
  }
}

// ── Helpers ────────────────────────────────────────────────────────────────────────────────

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A short description of a JSON value for error messages. */
function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  return `${typeof v} ${String(v)}`;
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
