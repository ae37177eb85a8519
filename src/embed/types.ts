// The narrow encoder interface shared by the MMEB harness, the CLI and the server.
// An item's `text` is the fully formatted prompt (instruction, text and the backbone's
// placeholder tokens already in place, see src/embed/prompt.ts); media are file paths whose
// bytes are sent or decoded unchanged.

/** One multimodal input: a formatted prompt plus optional images and video frames. */
export interface EmbedItem {
  /** Fully formatted prompt text, placeholders included (e.g. `<|image_pad|> Represent ...`). */
  text: string;
  /** Absolute paths of image files, in placeholder order. */
  images?: string[];
  /** Absolute paths of the frames of one video, in temporal order. */
  video?: string[];
}

/** What the harness tells an embedder about the batch it encodes. */
export interface EmbedContext {
  /** Task name, e.g. `MSCOCO_t2i`; absent outside the benchmark. */
  task?: string;
  role: 'query' | 'candidate';
  /** Bytes of media files the caller has already read (path → file bytes), e.g. while hashing
   *  them for the cache key: an embedder should use these instead of reading the file again,
   *  and read any path that is absent itself. Holds only the current batch's files. */
  mediaBytes?: ReadonlyMap<string, Uint8Array>;
}

/**
 * What kinds of input an embedder can encode. A field that is absent means "unknown": the
 * harness then sends such items and lets the embedder fail if it must. `false` lets the harness
 * refuse a task with such items up front (that task alone fails, before any request) instead of
 * the whole run stopping at the first request.
 *
 * @example
 * const caps: EmbedderCapabilities = { images: true, video: false }; // vLLM's chat form
 */
export interface EmbedderCapabilities {
  /** Can embed items with `images`. */
  images?: boolean;
  /** Can embed items with `video` frames. */
  video?: boolean;
}

/** Anything that turns items into fixed-size float32 vectors (one per item, same order). */
export interface Embedder {
  /** Stable identity used in cache keys (model name or endpoint model id). */
  readonly id: string;
  /** What the embedder can encode; optional (absent = unknown, everything is tried). */
  readonly capabilities?: EmbedderCapabilities;
  embed(items: readonly EmbedItem[], ctx?: EmbedContext): Promise<Float32Array[]>;
  close?(): Promise<void>;
}
