// `vlm2vec search` as a library (and what a server's search endpoint calls): one query, text or
// image, against a folder index. VLM2Vec embeds a query with the instruction of its task's
// direction, so the query is embedded once per kind of item the index holds (text → image,
// text → document page, text → video, image → image, ...; see instructions.ts), each embedding
// searches its own kind, and the lists are merged by cosine similarity.

import { resolve } from 'node:path';
import type { Table } from '@lancedb/lancedb';
import { DEFAULT_PROMPT_STYLE, formatInput, type PromptStyle } from '../embed/prompt.ts';
import type { EmbedItem } from '../embed/types.ts';
import { Vlm2VecError } from '../errors.ts';
import { DEFAULT_QUERY_INSTRUCTIONS, ITEM_KINDS, type ItemKind, type QueryInstructions } from './instructions.ts';
import { sqlString } from './lance.ts';
import { openIndex, type IndexMeta } from './store.ts';

/** What search needs of an embedder. */
export interface QueryEmbedder {
  readonly id: string;
  embed(items: readonly EmbedItem[]): Promise<Float32Array[]>;
}

export interface SearchOptions {
  db: string;
  embedder: QueryEmbedder;
  /** The query: a text, or an image (path or file bytes). Exactly one. */
  text?: string | undefined;
  image?: string | Uint8Array | undefined;
  topK?: number | undefined;
  /** Kinds searched (default: every kind in the index). */
  kinds?: readonly ItemKind[] | undefined;
  instructions?: { text?: Partial<Record<ItemKind, string>>; image?: Partial<Record<ItemKind, string>> } | undefined;
  promptStyle?: PromptStyle | undefined;
  /** Scan every row even when a vector index exists (exact; for checking recall). */
  exact?: boolean | undefined;
  /**
   * With a vector index: candidates re-scored with the full float32 vectors, as a multiple of
   * topK (default 10). HNSW-SQ ranks with 8-bit quantized vectors; without re-scoring recall@10
   * was 0.46 on 20k clustered 64-d vectors, with it 0.98 (vector-index.test.ts).
   */
  refineFactor?: number | undefined;
  /** With a vector index: HNSW search breadth (LanceDB's default when unset). */
  ef?: number | undefined;
  storageOptions?: Record<string, string> | undefined;
}

export interface SearchHit {
  path: string;
  /** 1-based PDF page, 0 otherwise. */
  page: number;
  kind: ItemKind;
  /** Cosine similarity of the query and the item (1 = same direction). */
  score: number;
}

/** Opens an index for searching, with its meta (which model made it). */
export async function openSearchIndex(db: string, storageOptions?: Record<string, string>): Promise<{ meta: IndexMeta; table: Table }> {
  const ix = await openIndex(db, { mustExist: true, storageOptions });
  if (!ix.meta || !ix.items) throw new Vlm2VecError('search', `${db} holds no items yet: run vlm2vec index --db ${db} first`);
  return { meta: ix.meta, table: ix.items };
}

/**
 * Searches the index at `opts.db` for `opts.text` or `opts.image`; hits best first.
 *
 * @example
 * const hits = await searchIndex({ db: 'photos.lance', embedder: emb, text: 'a red bicycle', topK: 5 });
 * hits[0]; // { path: 'trips/2019/bike.jpg', page: 0, kind: 'image', score: 0.41 }
 */
export async function searchIndex(opts: SearchOptions): Promise<SearchHit[]> {
  if ((opts.text === undefined) === (opts.image === undefined)) throw new Vlm2VecError('search', 'give exactly one query: a text or an image');
  if (opts.text !== undefined && opts.text.trim() === '') throw new Vlm2VecError('search', 'the query text is empty');
  const topK = opts.topK ?? 10;
  const { meta, table } = await openSearchIndex(opts.db, opts.storageOptions);
  if (opts.embedder.id !== meta.modelId) {
    throw new Vlm2VecError('search', `${opts.db} was made with model ${meta.modelId}, but the query embedder is ${opts.embedder.id}: ` +
      'vectors of two models cannot be compared (use the model the index was made with)');
  }
  const style = opts.promptStyle ?? DEFAULT_PROMPT_STYLE;
  const mode = opts.text !== undefined ? 'text' : 'image';
  const inst: Record<ItemKind, string> = { ...DEFAULT_QUERY_INSTRUCTIONS[mode as keyof QueryInstructions], ...opts.instructions?.[mode] };
  const kinds: ItemKind[] = [];
  for (const k of opts.kinds ?? ITEM_KINDS) if ((await table.countRows(`kind = ${sqlString(k)}`)) > 0) kinds.push(k);
  if (kinds.length === 0) return [];
  // A relative image path is relative to the working directory.
  const image = typeof opts.image === 'string' ? resolve(opts.image) : opts.image;
  const items = kinds.map((k) => formatInput(mode === 'text' ? { instruction: inst[k], text: opts.text! } : { instruction: inst[k], images: [image as string] }, style));
  // formatInput types media as paths; bytes pass through unchanged to the embedder.
  const vectors = await opts.embedder.embed(items as EmbedItem[]);
  const hits: SearchHit[] = [];
  for (const [i, k] of kinds.entries()) {
    let q = table.vectorSearch(Array.from(vectors[i]!)).distanceType('cosine').where(`kind = ${sqlString(k)}`).select(['path', 'page', 'kind', '_distance']).limit(topK);
    if (opts.exact) q = q.bypassVectorIndex();
    else {
      q = q.refineFactor(opts.refineFactor ?? 10);
      if (opts.ef !== undefined) q = q.ef(opts.ef);
    }
    for (const r of await q.toArray()) hits.push({ path: r.path as string, page: r.page as number, kind: r.kind as ItemKind, score: 1 - (r._distance as number) });
  }
  return hits.sort((a, b) => b.score - a.score).slice(0, topK);
}
