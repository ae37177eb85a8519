// The seam between the code that embeds (embed/, cli/, the coming serve/ and train/) and the
// architectures under models/: an `Encoder` prepares items and encodes batches into pooled,
// L2-normalized representations, whatever backbone it runs. Each architecture implements it in
// its folder and is found through its record in models/registry.ts.

import type { RgbImage } from '../io/media/image-types.ts';
import type { PeftAdapter } from '../io/weights/peft.ts';
import type { Tensor } from '../tensor/index.ts';
import type { HfTokenizer, PaddingSide } from '../io/text/tokenizer.ts';
import type { WeightDtype } from './common/float16.ts';
import type { ModelLoadEvent } from './common/weights.ts';

/** One item with its media decoded; the prompt already carries the style's media tokens. */
export interface EncoderInput {
  readonly text: string;
  readonly images: readonly RgbImage[];
  /** Frames of one video, in order (empty: no video). */
  readonly frames: readonly RgbImage[];
}

/**
 * An item processed on its own (media → model inputs, tokenized), ready to batch. `ids` is what
 * batching groups by; each architecture adds its own fields (pixel patches, grids, …).
 */
export interface PreparedItem {
  readonly ids: readonly number[];
}

/** Pooled outputs of one batch, one row per item. */
export interface EncodedRows {
  /** The pooled hidden state of each row [D] (e.g. last-token final-norm hidden state). */
  hidden: Float32Array[];
  /** The same, L2-normalized [D]: the embedding. */
  embeddings: Float32Array[];
}

/**
 * Image/video processor settings (HF preprocessor_config.json fields, camelCase) with the pixel
 * limits; each architecture reads the ones its processor has and fills in its defaults.
 */
export interface ImageProcessorSettings {
  /** Lower bound on resized area (VLM2Vec: 4·28·28 = 3,136). */
  minPixels?: number;
  /** Upper bound on resized area (VLM2Vec: 1280·28·28 = 1,003,520). */
  maxPixels?: number;
  patchSize?: number;
  mergeSize?: number;
  temporalPatchSize?: number;
  rescaleFactor?: number;
  imageMean?: readonly [number, number, number];
  imageStd?: readonly [number, number, number];
  /** VLM2Vec's collator resizes images with a side < 28 px to 56×56 first (default true). */
  tinyImageRule?: boolean;
}

/** Options of an ONNX export (see {@link Encoder.exportOnnx}). */
export interface ExportGraphOptions {
  /** Initializer bytes above which weights go to `<file>.data`. */
  externalDataThreshold: number;
}

/** One exported ONNX graph in manifest.json: its file, external data and input/output names. */
export interface ExportedGraph {
  file: string;
  data?: string | undefined;
  inputs: Record<string, string>;
}

/**
 * A loaded embedding model. Code above models/ uses only this interface.
 *
 * @example
 * const enc = await modelRecord(cfg.modelType).loadEncoder({ dir, config: cfg, tokenizer, dtype: 'float32', processor: {} });
 * const rows = [enc.prepare({ text: 'a cat', images: [], frames: [] })];
 * const { embeddings } = await enc.encode(rows); // one unit vector of enc.dim values
 */
export interface Encoder<P extends PreparedItem = PreparedItem> {
  /** config.json's model_type. */
  readonly modelType: string;
  /** Embedding size. */
  readonly dim: number;
  /** How the weights are held. */
  readonly dtype: WeightDtype;
  /** Processes one item on its own (throws naming what is wrong with it). */
  prepare(input: EncoderInput): P;
  /** Pooled hidden states and embeddings of prepared items, in one padded batch. */
  encode(rows: readonly P[], paddingSide?: PaddingSide): Promise<EncodedRows>;
  /**
   * Builds every ORT session now and frees the host copies of the weights (ORT keeps its own);
   * encoding works afterwards, tracing and exporting do not.
   */
  releaseHostWeights(onProgress?: (e: ModelLoadEvent) => void): Promise<void>;
  readonly hostWeightsReleased: boolean;
  /**
   * Writes the encoder's graphs as standalone ONNX files into `outDir` and returns the manifest
   * body naming them (absent: the architecture has no ONNX export).
   */
  exportOnnx?(outDir: string, opts: ExportGraphOptions): Promise<Record<string, unknown> & { graphs: Record<string, ExportedGraph> }>;
  close(): Promise<void>;
}

/** What a record's `loadEncoder` gets: everything resolved, nothing architecture-specific. */
export interface LoadEncoderArgs<C> {
  /** The model folder (config.json + weights). */
  dir: string;
  config: C;
  /** Loaded with the record's pad token and padding side; absent when only exporting. */
  tokenizer?: HfTokenizer | undefined;
  /** A PEFT adapter to merge into the weights. */
  adapter?: PeftAdapter | undefined;
  dtype: WeightDtype;
  processor: ImageProcessorSettings;
  onProgress?: ((e: ModelLoadEvent) => void) | undefined;
}

/**
 * An architecture's math as a training step differentiates it (src/train/step.ts): pooled reps of
 * a batch as a pure function of the trainable leaves `P` (a tree of tensors passed as arguments,
 * so `valueAndGrad` / `vjp` reach them; the frozen weights are captured), and the row slicing
 * GradCache cuts its chunks with. `B` is the architecture's padded batch.
 */
export interface TrainableEncoder<P, B> {
  /** Rows (items) in a batch. */
  rows(batch: B): number;
  /** Rows [start, end) of a batch at its full padded length, as the reference's chunks keep it. */
  sliceRows(batch: B, start: number, end: number): B;
  /**
   * Pooled reps [rows, D]: L2-normalized (`--normalize True`) or the pooled hidden states.
   * `random` is given by a training step only: it makes the forward stochastic (LoRA dropout)
   * as a pure function of it, so GradCache's two passes over a chunk agree; without it the
   * forward is deterministic (evaluation).
   */
  reps(params: P, batch: B, random?: RepsRandom): Tensor;
  /**
   * Optional: the batch with whatever does not depend on the trainable leaves computed once
   * (Qwen2-VL: a frozen vision tower's features), for a step that runs `reps` on its rows twice
   * (GradCache). `reps` and `sliceRows` take the returned batch.
   */
  prepare?(params: P, batch: B): Promise<B>;
}

/**
 * Where a training forward draws its randomness (LoRA dropout masks): the run's seed, the
 * optimizer step, the side (0 queries, 1 targets) and the chunk's first row in its side's batch.
 */
export interface RepsRandom {
  readonly seed: number;
  readonly step: number;
  readonly side: 0 | 1;
  readonly firstRow: number;
}
