// LocalEmbedder: a local embedding model (docs/vlm2vec.md §1.3–§1.6) behind the same Embedder
// interface the MMEB harness and the server use. It knows no architecture: the model type in
// config.json picks a record in models/registry.ts, whose Encoder does the model's part.
//
// item {text, images?, video?} → media decoded (files or bytes) → Encoder.prepare (for Qwen2-VL:
// Pillow-exact processor, placeholders expanded, Qwen tokenizer) → batches grouped by token
// length, padded on the record's side → Encoder.encode → pooled, L2-normalized embeddings.
// Each item is processed on its own (as the reference does) so one bad item is reported with its
// index; `embedSettled` keeps going past it.

import { Vlm2VecError, errorDetail } from '../errors.ts';
import { checkPositiveInt } from '../util/checks.ts';
import { MediaError } from './media-error.ts';
import { loadImageRGB } from '../io/media/image.ts';
import type { RgbImage } from '../io/media/image-types.ts';
import { loadAdapter } from '../io/weights/peft.ts';
import { HfTokenizer, type PaddingSide } from '../io/text/tokenizer.ts';
import { parseWeightDtype, type WeightDtype } from '../models/common/float16.ts';
import { QUANTIZED_REVISION, quantSchemeOf } from '../models/common/quantize.ts';
import type { ModelLoadEvent } from '../models/common/weights.ts';
import type { EncodedRows, Encoder, ImageProcessorSettings, PreparedItem } from '../models/encoder.ts';
import { modelRecord, numCropsSetting } from '../models/registry.ts';
import { configureRuntime } from '../tensor/index.ts';
import type { EmbedContext, EmbedItem, Embedder, MediaInput } from './types.ts';
import { resolveLocalModel, type LocalModelSpecOptions } from './local-resolve.ts';
import { DEFAULT_PROMPT_STYLE, formatInput, type PromptStyle, type RawInput } from './prompt.ts';

/** Reads and decodes an image or frame (a file or its bytes); failures become {@link MediaError}s
 *  naming the file, or for bytes, which have no name, the field (e.g. `images[1]`). */
async function loadMedia(media: MediaInput, kind: 'images' | 'video', index: number): Promise<RgbImage> {
  try {
    return await loadImageRGB(media);
  } catch (e) {
    const msg = (e as Error).message;
    throw new MediaError(typeof media === 'string' ? msg : `${kind}[${index}]: ${msg}`, e, { kind, index });
  }
}

/**
 * Progress of {@link LocalEmbedder.load}: the resolved folders, hub download bytes, then the
 * model's own events (weights per shard, adapter merge, ORT sessions), then `ready`.
 */
export type LoadEvent =
  | { type: 'resolved'; modelDir: string; adapterDir: string | undefined }
  | { type: 'download'; file: string; bytesDone: number; bytesTotal: number }
  | ModelLoadEvent
  | { type: 'ready'; seconds: number };

/** Options of {@link LocalEmbedder.load}. */
export interface LocalEmbedderOptions extends LocalModelSpecOptions {
  /** PEFT LoRA/DoRA adapter folder (or hub id) merged into the base weights at load. */
  adapter?: string | undefined;
  /** Folder with tokenizer.json (default: the model folder, then the adapter folder, then the base). */
  tokenizerDir?: string | undefined;
  /** Rows per forward pass (default 8). */
  batchSize?: number | undefined;
  /** Default: the architecture's (VLM2Vec pads on the left); pooling is correct for either side. */
  paddingSide?: PaddingSide | undefined;
  /**
   * Image/video preprocessing over the model's preprocessor_config.json; pixel limits default to
   * VLM2Vec's (min 3,136 / max 1,003,520), settable here or with `minPixels` / `maxPixels`.
   */
  processor?: ImageProcessorSettings | undefined;
  /** ORT intra-op threads (default: ORT's choice). */
  threads?: number | undefined;
  /**
   * How the weights are held (default 'float32'). 'float16' holds every weight matrix as float16
   * and computes in float32: about half the resident memory, ~20–30% slower on CPU, within ~1e-3
   * of float32 (docs/float16.md). Part of the cache identity.
   */
  dtype?: WeightDtype | undefined;
  /** Identity used in cache keys (default: model source + weights fingerprint, adapter, non-default pixels). */
  id?: string | undefined;
  /**
   * Keep the host copies of the weights after the ORT sessions are built (default false: they are
   * released at load; keep them to trace or export `model.graphs()` later).
   */
  keepHostWeights?: boolean | undefined;
  /** Prompt style for {@link LocalEmbedder.embedInputs} (default: the architecture's); must be the architecture's. */
  promptStyle?: PromptStyle | undefined;
  /**
   * Phi-3-V's HD crops per image (`--num-crops`: 4 or 16, default 16 as VLM2Vec); refused for
   * architectures without crops. A count other than the default is part of the cache identity.
   */
  numCrops?: number | undefined;
  /** Called as loading goes (a large model takes minutes); the library itself prints nothing. */
  onLoad?: ((e: LoadEvent) => void) | undefined;
}

export type { PreparedItem } from '../models/encoder.ts';

export { modelPromptStyle } from './model-style.ts';

/** Result of one item in {@link LocalEmbedder.embedSettled}. */
export type SettledEmbedding = { ok: true; embedding: Float32Array } | { ok: false; error: Error };

/**
 * Embedder running a local model of any registered architecture (VLM2Vec: Qwen2-VL).
 *
 * @example
 * const emb = await LocalEmbedder.load('/models/Qwen2-VL-2B-Instruct', { adapter: '/models/VLM2Vec-V2.0' });
 * const [v] = await emb.embed([{ text: '<|image_pad|> Represent the given image.', images: ['/x.jpg'] }]);
 * v.length; // 1536, unit norm
 */
export class LocalEmbedder implements Embedder {
  readonly batchSize: number;

  private constructor(
    readonly id: string,
    readonly encoder: Encoder,
    private readonly opts: LocalEmbedderOptions,
  ) {
    this.batchSize = checkPositiveInt('embed', 'batchSize', opts.batchSize ?? 8);
  }

  /**
   * Resolves `spec` (local folder, hub id or PEFT adapter folder; see {@link resolveLocalModel}),
   * loads the model (merging the adapter, if any) and the tokenizer.
   *
   * @example
   * await LocalEmbedder.load('TIGER-Lab/VLM2Vec-Qwen2VL-2B');            // hub id (cached)
   * await LocalEmbedder.load('checkpoints/VLM2Vec-V2.0');                // adapter folder → base + adapter
   * await LocalEmbedder.load('/models/Qwen2-VL-2B', { adapter: 'checkpoints/VLM2Vec-V2.0', maxPixels: 401408 });
   */
  static async load(spec: string, opts: LocalEmbedderOptions = {}): Promise<LocalEmbedder> {
    const dtype = parseWeightDtype(opts.dtype, 'LocalEmbedderOptions.dtype');
    if (opts.threads !== undefined) configureRuntime({ threads: opts.threads });
    const t0 = performance.now();
    const onLoad = opts.onLoad;
    const download = opts.resolve?.download;
    const r = await resolveLocalModel(spec, !onLoad ? opts : {
      ...opts,
      resolve: {
        ...opts.resolve,
        download: {
          ...download,
          onProgress: (p) => {
            download?.onProgress?.(p);
            onLoad({ type: 'download', file: p.file, bytesDone: p.bytesDone, bytesTotal: p.bytesTotal });
          },
        },
      },
    });
    onLoad?.({ type: 'resolved', modelDir: r.model.dir, adapterDir: r.adapterDir });
    const record = modelRecord(r.model.config.modelType);
    if (opts.promptStyle !== undefined && opts.promptStyle !== record.promptStyle) {
      throw new Vlm2VecError('embed', `prompt style ${opts.promptStyle} does not fit ${r.model.configPath} (a ${record.name} model: prompt style ${record.promptStyle})`);
    }
    const crops = numCropsSetting(record, opts.numCrops, r.model.configPath);
    const adapter = r.adapterDir === undefined ? undefined : await loadAdapter(r.adapterDir);
    // resolveLocalModel throws when no folder has tokenizer.json (tokenizerOptional is not set).
    const tokenizer = await HfTokenizer.fromFolder(r.tokenizerDir as string, { paddingSide: opts.paddingSide ?? record.paddingSide, padTokenId: record.padTokenId });
    const encoder = await record.loadEncoder({
      dir: r.model.dir, config: r.model.config, tokenizer, adapter, dtype, processor: { ...r.processor, ...opts.processor, ...crops }, onProgress: onLoad,
    });
    // ORT keeps its own copy of every weight once the sessions exist: drop ours (about half the RSS).
    if (!opts.keepHostWeights) await encoder.releaseHostWeights(onLoad);
    // float16-held or quantized weights (of one quantization revision) and other crop counts than the default: never share cache entries.
    const crop = crops.numCrops !== undefined && crops.numCrops !== record.numCrops?.default ? `+numCrops:${crops.numCrops}` : '';
    const revision = quantSchemeOf(dtype) === undefined ? '' : `+quant:r${QUANTIZED_REVISION}`;
    const id = opts.id ?? `${dtype === 'float32' ? r.id : `${r.id}+dtype:${dtype}${revision}`}${crop}`;
    onLoad?.({ type: 'ready', seconds: (performance.now() - t0) / 1000 });
    // embedInputs formats with the architecture's style unless told otherwise (checked above).
    return new LocalEmbedder(id, encoder, { ...opts, promptStyle: opts.promptStyle ?? (record.promptStyle as PromptStyle) });
  }

  /** The prompt style items are formatted with: the one asked for, else the architecture's. */
  get promptStyle(): PromptStyle {
    return this.opts.promptStyle ?? DEFAULT_PROMPT_STYLE;
  }

  /** Wraps an already loaded encoder (any architecture). */
  static fromEncoder(id: string, encoder: Encoder, opts: LocalEmbedderOptions = {}): LocalEmbedder {
    return new LocalEmbedder(id, encoder, opts);
  }

  get dim(): number {
    return this.encoder.dim;
  }

  /**
   * Processes one item on its own: media decoded, then the encoder's processing (for Qwen2-VL:
   * patches, placeholders expanded, tokenized).
   *
   * @example const p = await emb.prepare({ text: '<|image_pad|> Cat?', images: ['/cat.png'] }, 0);
   */
  async prepare(item: EmbedItem, index: number): Promise<PreparedItem> {
    const where = `item ${index}`;
    try {
      const nImages = item.images?.length ?? 0;
      const nFrames = item.video?.length ?? 0;
      if (item.text.length === 0 && nImages === 0 && nFrames === 0) throw new Vlm2VecError('embed', 'empty item: no text, image or video');
      const images = nImages > 0 ? await Promise.all(item.images!.map((m, k) => loadMedia(m, 'images', k))) : [];
      const frames: RgbImage[] = nFrames > 0 ? await Promise.all(item.video!.map((m, k) => loadMedia(m, 'video', k))) : [];
      const prepared = this.encoder.prepare({ text: item.text, images, frames });
      if (prepared.ids.length === 0) throw new Vlm2VecError('embed', 'the prompt tokenizes to no tokens');
      return prepared;
    } catch (e) {
      // Keep the inner area tag (e.g. `[image]`) unless it repeats ours.
      const msg = errorDetail(e, 'embed');
      // An unreadable or undecodable file is the data's fault, not the model's (MMEB: that task fails alone).
      if (e instanceof MediaError) throw new MediaError(`${where}: ${msg}`, e, e.media && { ...e.media, item: index });
      throw new Vlm2VecError('embed', `${where}: ${msg}`, { cause: e });
    }
  }

  /**
   * Pooled hidden states (last token, for Qwen2-VL) and embeddings of prepared items, in one
   * padded batch.
   *
   * @example const { embeddings } = await emb.encodePrepared([await emb.prepare(item, 0)]);
   */
  encodePrepared(rows: readonly PreparedItem[], paddingSide?: PaddingSide): Promise<EncodedRows> {
    return this.encoder.encode(rows, paddingSide);
  }

  /** Batches of item indices, grouped by token length to limit padding. */
  private batches(prepared: readonly PreparedItem[], indices: readonly number[]): number[][] {
    const order = [...indices].sort((a, b) => prepared[a]!.ids.length - prepared[b]!.ids.length || a - b);
    const out: number[][] = [];
    for (let i = 0; i < order.length; i += this.batchSize) out.push(order.slice(i, i + this.batchSize));
    return out;
  }

  /** Embeds items; throws (naming the item) on the first bad one. */
  async embed(items: readonly EmbedItem[], _ctx?: EmbedContext): Promise<Float32Array[]> {
    const prepared = await Promise.all(items.map((it, i) => this.prepare(it, i)));
    const out: Float32Array[] = new Array(items.length);
    for (const idx of this.batches(prepared, prepared.map((_, i) => i))) {
      const { embeddings } = await this.encodePrepared(idx.map((i) => prepared[i]!));
      idx.forEach((i, k) => (out[i] = embeddings[k]!));
    }
    return out;
  }

  /**
   * Embeds items, reporting failures per item instead of failing the whole call; `onProgress` is
   * called after each batch with the number of items finished.
   *
   * @example
   * const res = await emb.embedSettled(items);
   * res.forEach((r, i) => r.ok || console.error(`item ${i}: ${r.error.message}`));
   */
  async embedSettled(items: readonly EmbedItem[], onProgress?: (done: number, total: number) => void): Promise<SettledEmbedding[]> {
    const out: SettledEmbedding[] = new Array(items.length);
    const prepared: PreparedItem[] = new Array(items.length);
    const good: number[] = [];
    await Promise.all(
      items.map(async (it, i) => {
        try {
          prepared[i] = await this.prepare(it, i);
          good.push(i);
        } catch (e) {
          out[i] = { ok: false, error: e as Error };
        }
      }),
    );
    let done = items.length - good.length;
    onProgress?.(done, items.length);
    for (const idx of this.batches(prepared, good)) {
      try {
        const { embeddings } = await this.encodePrepared(idx.map((i) => prepared[i]!));
        idx.forEach((i, k) => (out[i] = { ok: true, embedding: embeddings[k]! }));
      } catch (e) {
        idx.forEach((i) => (out[i] = { ok: false, error: e as Error }));
      }
      done += idx.length;
      onProgress?.(done, items.length);
    }
    return out;
  }

  /**
   * Formats raw `{instruction?, text?, images?, video?}` inputs with the prompt style (VLM2Vec's
   * `process_input_text`) and embeds them.
   *
   * @example await emb.embedInputs([{ instruction: 'Represent the given image.', images: ['/x.jpg'] }]);
   */
  async embedInputs(inputs: readonly RawInput[]): Promise<Float32Array[]> {
    return this.embed(inputs.map((x) => formatInput(x, this.opts.promptStyle ?? DEFAULT_PROMPT_STYLE)));
  }

  async close(): Promise<void> {
    await this.encoder.close();
  }
}
