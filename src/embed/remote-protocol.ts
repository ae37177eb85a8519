// Wire formats of the remote embedder: request bodies for the vlm2vec protocol (a batch of
// multimodal items per request) and vLLM's chat-form /v1/embeddings (one item per request),
// and strict validation of OpenAI-shaped responses.

import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import type { EmbedItem } from './types.ts';
import { Vlm2VecError } from '../errors.ts';

export type RemoteProtocol = 'vlm2vec' | 'vllm';

const MIME_BY_EXT: Record<string, string> = {
  '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.png': 'image/png', '.gif': 'image/gif',
  '.webp': 'image/webp', '.bmp': 'image/bmp', '.tif': 'image/tiff', '.tiff': 'image/tiff',
};

/**
 * Mime type of image bytes: sniffed from the magic number (datasets do contain PNGs named .jpg),
 * else from the extension, else `application/octet-stream`.
 *
 * @example
 * mimeOf(Buffer.from([0x89, 0x50, 0x4e, 0x47]), 'a.jpg'); // 'image/png'
 */
export function mimeOf(bytes: Uint8Array, path: string): string {
  const b = bytes;
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  if (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'image/png';
  if (b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46) return 'image/gif';
  if (b[0] === 0x52 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x46 && b[8] === 0x57 && b[9] === 0x45) return 'image/webp';
  if (b[0] === 0x42 && b[1] === 0x4d) return 'image/bmp';
  if ((b[0] === 0x49 && b[1] === 0x49 && b[2] === 0x2a) || (b[0] === 0x4d && b[1] === 0x4d && b[2] === 0x00)) return 'image/tiff';
  return MIME_BY_EXT[extname(path).toLowerCase()] ?? 'application/octet-stream';
}

/** Media bytes the caller already holds (see `EmbedContext.mediaBytes`). */
export type MediaBytes = ReadonlyMap<string, Uint8Array> | undefined;

/** A data URI carrying the file's original bytes, unchanged (from `have` when it holds them). */
export async function fileDataUri(path: string, itemIndex: number, have?: MediaBytes): Promise<string> {
  const held = have?.get(path);
  let bytes: Buffer;
  if (held !== undefined) {
    bytes = Buffer.from(held.buffer, held.byteOffset, held.byteLength);
  } else {
    try {
      bytes = await readFile(path);
    } catch (err) {
      throw new Vlm2VecError('remote', `item ${itemIndex}: media file ${path} cannot be read: ${(err as Error).message}`, { cause: err });
    }
  }
  return `data:${mimeOf(bytes, path)};base64,${bytes.toString('base64')}`;
}

/** One element of the vlm2vec protocol's `input` array. */
export interface WireItem {
  text: string;
  images?: string[];
  video?: string[];
}

/**
 * Request body of the vlm2vec protocol for a batch of items (`POST <base>/embeddings`). Media
 * bytes come from `have` when it holds them (read by the caller already), else from disk.
 *
 * @example
 * await vlm2vecBody('VLM2Vec-V2.0', [{ text: 'a cat' }]);
 * // { model: 'VLM2Vec-V2.0', input: [{ text: 'a cat' }], encoding_format: 'float' }
 */
export async function vlm2vecBody(model: string | undefined, items: readonly EmbedItem[], firstIndex = 0, have?: MediaBytes): Promise<object> {
  const input = await Promise.all(items.map(async (it, i): Promise<WireItem> => {
    const w: WireItem = { text: it.text };
    if (it.images) w.images = await Promise.all(it.images.map((p) => fileDataUri(p, firstIndex + i, have)));
    if (it.video) w.video = await Promise.all(it.video.map((p) => fileDataUri(p, firstIndex + i, have)));
    return w;
  }));
  return { ...(model === undefined ? {} : { model }), input, encoding_format: 'float' };
}

/** Image/video placeholder tokens of every backbone prompt style (docs/mmeb.md §3.1). vLLM's chat
 *  template inserts its own vision tokens per image part, so ours must not reach it. */
const PLACEHOLDER = /<\|image_pad\|>|<\|video_pad\|>|<\|image_\d+\|>|<image>/g;

type ChatPart = { type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string } };

/**
 * Request body of vLLM's chat-form embeddings for one item. Images go where their placeholders
 * stood in the formatted prompt (extra images without a placeholder go first, as the reference
 * prompts put the image token first); the placeholders themselves are removed.
 *
 * @example
 * await vllmBody('m', { text: '<|image_pad|> Represent the given image.', images: ['/x.png'] }, 0);
 * // { model: 'm', messages: [{ role: 'user', content: [{ type: 'image_url', … },
 * //   { type: 'text', text: ' Represent the given image.' }] }], encoding_format: 'float' }
 */
export async function vllmBody(model: string | undefined, item: EmbedItem, index: number, task?: string, have?: MediaBytes): Promise<object> {
  if (item.video && item.video.length > 0) {
    throw new Vlm2VecError('remote', `${task ? `task ${task}, ` : ''}item ${index}: the vllm protocol cannot send video ` +
      `(${item.video.length} frames); use --protocol vlm2vec with a server that accepts video`);
  }
  const uris = await Promise.all((item.images ?? []).map((p) => fileDataUri(p, index, have)));
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
 * or unexpected dimensions and non-finite values, naming the endpoint and the item.
 *
 * @example
 * parseEmbeddings({ data: [{ index: 0, embedding: [0.6, 0.8] }] }, 1, { url: 'http://h/v1/embeddings', firstIndex: 0 });
 */
export function parseEmbeddings(json: unknown, count: number, ctx: ResponseContext): Float32Array[] {
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
    // encoding_format=base64 answers (some servers ignore "float"): little-endian float32.
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
