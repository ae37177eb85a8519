// `POST /v1/search` of `vlm2vec serve --db DIR`: the search of `vlm2vec search` over HTTP. The
// request is validated here; the search itself is `searchIndex` (src/search/search.ts), the same
// function the CLI calls, with the same per-direction instructions, so the endpoint's hits are
// the CLI's. Only the query embedder differs: the query's items go through the server's batcher
// and model thread like any embeddings request (batched with them, 429 when the queue is full,
// dropped when the client goes away).

import { Vlm2VecError } from '../errors.ts';
import { parseDataUri, ProtocolError, type BytesEmbedItem } from '../embed/protocol.ts';
import type { EmbedItem } from '../embed/types.ts';
import { ITEM_KINDS, type ItemKind } from '../search/instructions.ts';
import { sqlString } from '../search/lance.ts';
import { openSearchIndex, type QueryEmbedder, type SearchHit } from '../search/search.ts';
import type { IndexMeta } from '../search/store.ts';
import type { ItemResult, WorkItem } from './model-thread.ts';

/** Most results one search may ask for. */
export const MAX_TOP_K = 1000;

/** A validated search request. */
export interface SearchRequest {
  text?: string;
  image?: Uint8Array;
  topK: number;
  /** Kinds searched; absent: every kind the index holds. */
  kinds?: ItemKind[];
  /** Query instructions replacing the defaults of some kinds. */
  instructions?: Partial<Record<ItemKind, string>>;
  exact: boolean;
}

/** A short description of a JSON value for error messages. */
function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  return `${typeof v} ${String(v)}`;
}

const FIELDS = ['query', 'image', 'top_k', 'kinds', 'instructions', 'exact', 'model'];

/**
 * Validates a search body, naming the field at fault (a {@link ProtocolError}, answered 400).
 *
 * @example
 * decodeSearchRequest({ query: 'a red bicycle', top_k: 5 }, { maxTextChars: 1e6, maxMediaBytes: 64e6 });
 * // { text: 'a red bicycle', topK: 5, exact: false }
 */
export function decodeSearchRequest(body: unknown, limits: { maxTextChars: number; maxMediaBytes: number }): SearchRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ProtocolError('request body', `expected a JSON object such as {"query": "a red bicycle", "top_k": 10}, got ${describe(body)}`);
  }
  const b = body as Record<string, unknown>;
  const unknown = Object.keys(b).filter((k) => !FIELDS.includes(k));
  if (unknown.length > 0) throw new ProtocolError(unknown[0]!, `unknown field (a search takes ${FIELDS.join(', ')})`);
  const hasText = b['query'] !== undefined && b['query'] !== null;
  const hasImage = b['image'] !== undefined && b['image'] !== null;
  if (hasText === hasImage) {
    throw new ProtocolError(hasText ? 'image' : 'query', hasText ? 'give a text "query" or an "image", not both'
      : 'missing: give a text "query" or an "image" (a data URI)');
  }
  const out: SearchRequest = { topK: 10, exact: false };
  if (hasText) {
    const q = b['query'];
    if (typeof q !== 'string') throw new ProtocolError('query', `expected a string, got ${describe(q)}`);
    if (q.trim() === '') throw new ProtocolError('query', 'the query text is empty');
    if (q.length > limits.maxTextChars) throw new ProtocolError('query', `${q.length} characters, more than the limit of ${limits.maxTextChars} (--max-text-chars)`);
    out.text = q;
  } else {
    out.image = parseDataUri(b['image'], 'image', limits.maxMediaBytes).bytes;
  }
  const k = b['top_k'];
  if (k !== undefined && k !== null) {
    if (typeof k !== 'number' || !Number.isInteger(k) || k < 1 || k > MAX_TOP_K) {
      throw new ProtocolError('top_k', `expected an integer from 1 to ${MAX_TOP_K}, got ${describe(k)}`);
    }
    out.topK = k;
  }
  const kinds = b['kinds'];
  if (kinds !== undefined && kinds !== null) {
    const list = typeof kinds === 'string' ? [kinds] : kinds;
    if (!Array.isArray(list) || list.length === 0) throw new ProtocolError('kinds', `expected a non-empty list of ${ITEM_KINDS.join(', ')}, got ${describe(kinds)}`);
    list.forEach((x: unknown, i) => {
      if (typeof x !== 'string' || !(ITEM_KINDS as readonly string[]).includes(x)) {
        throw new ProtocolError(`kinds[${i}]`, `expected one of ${ITEM_KINDS.join(', ')}, got ${describe(x)}`);
      }
    });
    out.kinds = [...new Set(list as ItemKind[])];
  }
  const inst = b['instructions'];
  if (inst !== undefined && inst !== null) {
    if (typeof inst !== 'object' || Array.isArray(inst)) {
      throw new ProtocolError('instructions', `expected an object {kind: instruction}, e.g. {"image": "Find an image of:"}, got ${describe(inst)}`);
    }
    out.instructions = {};
    for (const [kind, text] of Object.entries(inst)) {
      if (!(ITEM_KINDS as readonly string[]).includes(kind)) throw new ProtocolError(`instructions.${kind}`, `unknown kind (kinds: ${ITEM_KINDS.join(', ')})`);
      if (typeof text !== 'string') throw new ProtocolError(`instructions.${kind}`, `expected a string, got ${describe(text)}`);
      out.instructions[kind as ItemKind] = text;
    }
  }
  const exact = b['exact'];
  if (exact !== undefined && exact !== null) {
    if (typeof exact !== 'boolean') throw new ProtocolError('exact', `expected true or false, got ${describe(exact)}`);
    out.exact = exact;
  }
  return out;
}

/**
 * A {@link QueryEmbedder} over the server's batcher: `searchIndex` hands it the formatted query
 * items (media as bytes); their prompt tokens are counted for `usage`.
 */
export class BatcherQueryEmbedder implements QueryEmbedder {
  tokens = 0;
  constructor(readonly id: string, private readonly submit: (items: WorkItem[]) => Promise<ItemResult[]>) {}

  async embed(items: readonly EmbedItem[]): Promise<Float32Array[]> {
    // searchIndex formats the query image as given: bytes here (the request's data URI).
    const results = await this.submit(items.map((item, index) => ({ item: item as unknown as BytesEmbedItem, index })));
    return results.map((r) => {
      if (r.ok) {
        this.tokens += r.tokens;
        return r.vector;
      }
      if (r.status === 500) throw new Vlm2VecError('serve', r.message);
      // The only media of a search is its query image; the message says what is wrong with it.
      // (`item 0: images[0]: [image] <bytes>: unrecognised …` → `unrecognised …`: one item, one image.)
      const message = r.message.replace(/^item \d+: /, '').replace(/^images\[0\]: /, '').replace(/^\[image\] <bytes>: /, '');
      throw new ProtocolError(items[0]?.images ? 'image' : 'query', message);
    });
  }
}

/** The answer of a search: hits best first, in an OpenAI-like list with `usage`. */
export function searchAnswer(hits: readonly SearchHit[], opts: { model: string; mode: 'text' | 'image'; tokens: number }): unknown {
  return {
    object: 'list',
    model: opts.model,
    query: { type: opts.mode },
    data: hits.map((h, i) => ({ object: 'search_result', rank: i + 1, path: h.path, page: h.page, kind: h.kind, score: h.score })),
    usage: { prompt_tokens: opts.tokens, total_tokens: opts.tokens },
  };
}

/** Opens the index a server searches and says, before the model loads, what it needs. */
export async function openServedIndex(db: string): Promise<IndexMeta> {
  try {
    return (await openSearchIndex(db)).meta;
  } catch (e) {
    throw new Vlm2VecError('serve', `--db: ${(e as Error).message}`, { cause: e });
  }
}

/** Refusal of a served model that did not make the index (vectors of two models do not compare). */
export function modelMismatch(db: string, meta: IndexMeta, servedId: string): Vlm2VecError | undefined {
  if (servedId === meta.modelId) return undefined;
  return new Vlm2VecError('serve', `--db ${db} was made with model ${meta.modelId}, but the served model is ${servedId}: ` +
    `vectors of two models cannot be compared; serve the index's model (vlm2vec serve --db ${db} without -m loads it: ` +
    `${meta.modelSpec}${meta.adapter ? ` with adapter ${meta.adapter}` : ''})`);
}

/** Rows per kind in the index now (a `vlm2vec index` run may be adding to it). */
export async function indexCounts(db: string): Promise<Record<ItemKind, number>> {
  const { table } = await openSearchIndex(db);
  const out = {} as Record<ItemKind, number>;
  for (const k of ITEM_KINDS) out[k] = await table.countRows(`kind = ${sqlString(k)}`);
  return out;
}
