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
}

/** Anything that turns items into fixed-size float32 vectors (one per item, same order). */
export interface Embedder {
  /** Stable identity used in cache keys (model name or endpoint model id). */
  readonly id: string;
  embed(items: readonly EmbedItem[], ctx?: EmbedContext): Promise<Float32Array[]>;
  close?(): Promise<void>;
}
