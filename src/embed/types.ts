// The narrow encoder interface shared by the MMEB harness, the CLI and the server.
// An item's `text` is the fully formatted prompt (instruction, text and the backbone's
// placeholder tokens already in place, see src/embed/prompt.ts); media are file paths or the
// files' bytes (a server decodes data URIs to bytes and embeds them without temporary files),
// sent or decoded unchanged either way.

/** An image or video frame: the path of its file, or the file's bytes (JPEG, PNG, …) as they are. */
export type MediaInput = string | Uint8Array;

/**
 * One multimodal input: a formatted prompt plus optional images and video frames. `M` narrows
 * the media: the MMEB harness works on files ({@link FileEmbedItem}), a server on bytes.
 *
 * @example
 * const a: EmbedItem = { text: '<|image_pad|> Represent the given image.', images: ['/x.jpg'] };
 * const b: EmbedItem = { text: '<|image_pad|> Represent the given image.', images: [await readFile('/x.jpg')] };
 */
export interface EmbedItem<M extends MediaInput = MediaInput> {
  /** Fully formatted prompt text, placeholders included (e.g. `<|image_pad|> Represent ...`). */
  text: string;
  /** Images (absolute paths or file bytes), in placeholder order. */
  images?: M[];
  /** The frames of one video (absolute paths or file bytes), in temporal order. */
  video?: M[];
}

/** An item whose media are files (what the MMEB loaders produce: the harness resizes and hashes by path). */
export type FileEmbedItem = EmbedItem<string>;

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
