// LLaVA-NeXT as an embedding encoder: two jitted graphs with the weights as initializers (the
// same two `vlm2vec export` writes), symbolic batch / sequence / patch axes:
//   vision: pixel_values [N, 3, S, S] (one image's patches), feature_rows [K] → features [K, D]
//   text:   input_ids, attention_mask, position_ids [B, T], last_index [B, 2], scatter_index
//           [K, 2], features [K, D] → hidden [B, D], embedding [B, D]
// The vision graph runs once per image (attention memory stays that of ≤ 1 + grid patches);
// the features of all images, in row order, are written at the <image> tokens of the rows that
// have images, row-major (transformers' masked_scatter). Positions are 0…T−1 on every row, as
// transformers' Mistral numbers a padded batch when no position_ids are passed (RoPE is
// relative, so a left-padded row gives its unpadded values up to float rounding).

import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Vlm2VecError } from '../../errors.ts';
import { Checkpoint } from '../../io/weights/checkpoint.ts';
import { readJsonFile } from '../../io/weights/hf-configs.ts';
import type { PeftAdapter } from '../../io/weights/peft.ts';
import type { Jitted, Tensor } from '../../tensor/index.ts';
import { fromArray, jit, treeLeaves } from '../../tensor/index.ts';
import { FLOAT16_SESSION, heldDtypeOf, parseWeightDtype, type WeightDtype } from '../common/float16.ts';
import type { ModelLoadEvent } from '../common/weights.ts';
import { DEFAULT_ATTENTION_KERNEL, withAttentionKernel, type AttentionKernel } from '../../nn/index.ts';
import { parseLlavaNextConfig, type LlavaNextConfig } from './config.ts';
import { llavaImageFeatures, llavaTextGraph, type PooledTensors } from './forward.ts';
import { buildLlavaNextParams, readLlavaNextWeights, type LlavaNextParams } from './params.ts';

export const VISION_INPUTS = ['pixel_values', 'feature_rows'] as const;
export const VISION_OUTPUT = 'features';
export const TEXT_INPUTS = ['input_ids', 'attention_mask', 'position_ids', 'last_index', 'scatter_index', 'features'] as const;
export const TEXT_OUTPUTS = { hidden: 'hidden', embedding: 'embedding' } as const;
const byPosition = (names: readonly string[]): Record<string, string> => Object.fromEntries(names.map((n, i) => [String(i), n]));

export type LlavaVisionGraph = Jitted<[Tensor, Tensor], Tensor>;
export type LlavaTextGraph = Jitted<[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor], PooledTensors>;

/** One image of a batch: its patches and the rows of its packed features. */
export interface LlavaBatchImage {
  /** [n, 3, S, S] */
  pixels: Float32Array;
  numPatches: number;
  /** processor.ts featureRows (newline = numPatches · G²). */
  featureRows: Int32Array;
}

/** A padded batch with its images (in row order). */
export interface LlavaNextBatch {
  /** [B, T] */
  inputIds: BigInt64Array;
  /** [B, T], 1 = token */
  attentionMask: BigInt64Array;
  shape: readonly [number, number];
  images: readonly LlavaBatchImage[];
  /** Images of each row; only those rows' <image> tokens take features (absent: every row's). */
  imagesPerRow?: readonly number[] | undefined;
}

/** Pooled outputs [B, D]. */
export interface LlavaNextEncoded {
  hidden: Float32Array;
  embeddings: Float32Array;
  dim: number;
}

/**
 * Index of each row's last real token as (row, index) pairs: T−1 when every row ends with a
 * token (left padding), else Σmask−1 (VLM2Vec's _pooling).
 *
 * @example lastTokenPairs(BigInt64Array.from([0n, 1n, 1n, 1n]), 2, 2) // [0n, 1n, 1n, 1n]
 */
export function lastTokenPairs(mask: BigInt64Array, b: number, t: number): BigInt64Array {
  const leftPadded = Array.from({ length: b }, (_, r) => mask[r * t + t - 1] === 1n).every(Boolean);
  const out = new BigInt64Array(2 * b);
  for (let r = 0; r < b; r++) {
    let n = 0;
    for (let j = 0; j < t; j++) n += Number(mask[r * t + j]);
    if (n === 0) throw new Vlm2VecError('llava_next', `batch row ${r} has no tokens (attention mask all 0)`);
    out[2 * r] = BigInt(r);
    out[2 * r + 1] = BigInt(leftPadded ? t - 1 : n - 1);
  }
  return out;
}

/**
 * The text graph's host inputs of a padded batch whose images give `features` rows: positions
 * 0…T−1, each row's last token, and the <image> positions of the rows with images (row-major,
 * transformers' masked_scatter order), checked against the feature count.
 */
export function packLlavaText(batch: LlavaNextBatch, imageTokenId: number, features: number): { positions: BigInt64Array; last: BigInt64Array; scatter: BigInt64Array } {
  const [b, t] = batch.shape;
  const perRow = batch.imagesPerRow;
  if (perRow !== undefined && (perRow.length !== b || perRow.reduce((a, n) => a + n, 0) !== batch.images.length)) {
    throw new Vlm2VecError('llava_next', `imagesPerRow [${perRow.join(', ')}] must give a count for each of the ${b} rows, adding up to the ${batch.images.length} image(s)`);
  }
  const scatter: bigint[] = [];
  if (batch.images.length > 0) {
    const tok = BigInt(imageTokenId);
    for (let r = 0; r < b; r++) {
      if (perRow !== undefined && perRow[r] === 0) continue;
      for (let j = 0; j < t; j++) {
        if (batch.inputIds[r * t + j] === tok && batch.attentionMask[r * t + j] === 1n) scatter.push(BigInt(r), BigInt(j));
      }
    }
    if (scatter.length / 2 !== features) {
      throw new Vlm2VecError('llava_next', `the batch has ${scatter.length / 2} <image> tokens but its ${batch.images.length} image(s) give ${features} features`);
    }
  }
  const positions = new BigInt64Array(b * t);
  for (let r = 0; r < b; r++) for (let j = 0; j < t; j++) positions[r * t + j] = BigInt(j);
  return { positions, last: lastTokenPairs(batch.attentionMask, b, t), scatter: BigInt64Array.from(scatter) };
}

/** Frees the weight buffers of a tree once ORT holds its own copies. */
function releaseBuffers(tree: unknown): void {
  const seen = new Set<ArrayBuffer>();
  for (const leaf of treeLeaves(tree as Parameters<typeof treeLeaves>[0]) as Tensor[]) {
    let t = leaf;
    while (t.value === undefined && t.inputs.length === 1 && (t.prim === 'cast' || t.prim === 'permute')) t = t.inputs[0]!;
    const buf = t.value?.buffer;
    // Only buffers a weight owns outright, or large ones (never Node's small shared pool).
    if (buf instanceof ArrayBuffer && buf.byteLength > 0 && (buf.byteLength === t.value!.byteLength || buf.byteLength >= 1 << 20)) seen.add(buf);
  }
  for (const buf of seen) structuredClone(buf, { transfer: [buf] });
  // The transferred memory is only returned by a full collection; V8 does not count it as
  // pressure, so collect now, before ORT builds the next session.
  if (seen.size > 0) fullGc();
}

let gcFn: (() => void) | null | undefined;

/** A full V8 collection (globalThis.gc, or one obtained by enabling --expose-gc for a fresh context); nothing if neither works. */
function fullGc(): void {
  if (gcFn === undefined) {
    const g = (globalThis as { gc?: () => void }).gc;
    if (typeof g === 'function') gcFn = g;
    else {
      try {
        setFlagsFromString('--expose-gc');
        gcFn = runInNewContext('gc') as () => void;
        setFlagsFromString('--no-expose-gc');
      } catch {
        gcFn = null;
      }
    }
  }
  gcFn?.();
}

/**
 * A loaded LLaVA-NeXT (adapter merged).
 *
 * @example
 * const m = await LlavaNextModel.load('/models/VLM2Vec-LLaVa-Next');
 * const { embeddings } = await m.encode(batch);
 */
export class LlavaNextModel {
  private graphsCache: { vision: LlavaVisionGraph; text: LlavaTextGraph } | undefined;
  private released = false;
  /** Set by {@link releaseHostWeights}: each graph frees its weights once serialized for ORT. */
  private releasing = false;
  readonly dtype: WeightDtype;

  private constructor(readonly config: LlavaNextConfig, readonly params: LlavaNextParams, readonly source: string,
    /** Attention kernels of the traced graphs (default 'fused'; 'composed' is the reference). docs/onnxruntime.md. */
    readonly attention: AttentionKernel = DEFAULT_ATTENTION_KERNEL) {
    this.dtype = heldDtypeOf(params.language_model.model.embed_tokens.weight, params.language_model.model.layers[0]?.mlp.gate_proj.weight);
  }

  static async load(dir: string, opts: { adapter?: PeftAdapter | undefined; dtype?: WeightDtype | undefined; config?: LlavaNextConfig | undefined;
    onProgress?: ((e: ModelLoadEvent) => void) | undefined; attention?: AttentionKernel | undefined } = {}): Promise<LlavaNextModel> {
    const dtype = parseWeightDtype(opts.dtype, 'dtype');
    const configPath = join(dir, 'config.json');
    const config = opts.config ?? parseLlavaNextConfig(await readJsonFile('llava_next', configPath), { file: configPath, strict: false });
    const ckpt = await Checkpoint.open(dir);
    try {
      const host = await readLlavaNextWeights(ckpt, config, opts.adapter, dtype, opts.onProgress);
      return new LlavaNextModel(config, buildLlavaNextParams(host, config), dir, opts.attention);
    } finally {
      await ckpt.close();
    }
  }

  /** A model over an in-memory config and parameter tree (tests, benchmarks). */
  static fromParams(config: LlavaNextConfig, params: LlavaNextParams, source = '<memory>', opts: { attention?: AttentionKernel | undefined } = {}): LlavaNextModel {
    return new LlavaNextModel(config, params, source, opts.attention);
  }

  get hiddenSize(): number {
    return this.config.text.hiddenSize;
  }

  get hostWeightsReleased(): boolean {
    return this.released;
  }

  /** The traced graphs (cached); refused after {@link releaseHostWeights}. */
  graphs(): { vision: LlavaVisionGraph; text: LlavaTextGraph } {
    if (this.released) {
      throw new Vlm2VecError('llava_next', `${this.source}: the host weights were released (releaseHostWeights); load the model again to trace or export it`);
    }
    return this.compiled();
  }

  private compiled(): { vision: LlavaVisionGraph; text: LlavaTextGraph } {
    if (this.graphsCache) return this.graphsCache;
    const session = this.dtype === 'float16' ? { session: FLOAT16_SESSION } : {};
    const fused = <T>(f: () => T): T => withAttentionKernel(this.attention, f);
    const vision = jit((pixels: Tensor, rows: Tensor) => fused(() => llavaImageFeatures(this.params, this.config, pixels, rows)), {
      name: 'llava_next_vision',
      dynamic: { '0': ['N', null, null, null], '1': ['K'] },
      inputNames: byPosition(VISION_INPUTS),
      outputNames: { '': VISION_OUTPUT },
      onSerialized: () => this.releasing && releaseBuffers(this.visionParams()),
      ...session,
    });
    const text = jit((ids: Tensor, mask: Tensor, pos: Tensor, last: Tensor, scatter: Tensor, feats: Tensor) =>
      fused(() => llavaTextGraph(this.params.language_model.model, this.config, ids, mask, pos, last, scatter, feats)), {
      name: 'llava_next_language_model',
      dynamic: { '0': ['B', 'T'], '1': ['B', 'T'], '2': ['B', 'T'], '3': ['B', null], '4': ['K', null], '5': ['K', null] },
      inputNames: byPosition(TEXT_INPUTS),
      outputNames: TEXT_OUTPUTS,
      onSerialized: () => this.releasing && releaseBuffers(this.params.language_model),
      ...session,
    });
    this.graphsCache = { vision, text };
    return this.graphsCache;
  }

  /** The vision graph's weights (tower, projector, newline). */
  private visionParams(): unknown {
    const p = this.params;
    return { vision_tower: p.vision_tower, multi_modal_projector: p.multi_modal_projector, image_newline: p.image_newline };
  }

  /** Features [K, D] of one image. */
  async imageFeatures(img: LlavaBatchImage): Promise<Float32Array> {
    const s = this.config.vision.imageSize;
    const out = await this.compiled().vision(
      fromArray(img.pixels, [img.numPatches, 3, s, s], 'float32'),
      fromArray(BigInt64Array.from(img.featureRows, (x) => BigInt(x)), [img.featureRows.length], 'int64'),
    );
    return (await out.data()) as Float32Array;
  }

  /**
   * Encodes one padded batch (either padding side) and pools each row's last real token.
   *
   * @example const out = await model.encode({ inputIds, attentionMask, shape: [2, 9], images: [] });
   */
  async encode(batch: LlavaNextBatch): Promise<LlavaNextEncoded> {
    const [b, t] = batch.shape;
    if (batch.inputIds.length !== b * t || batch.attentionMask.length !== b * t) {
      throw new Vlm2VecError('llava_next', `input_ids (${batch.inputIds.length}) / attention_mask (${batch.attentionMask.length}) do not match the batch shape [${b}, ${t}]`);
    }
    const d = this.hiddenSize;
    const parts: Float32Array[] = [];
    for (const img of batch.images) parts.push(await this.imageFeatures(img));
    const k = parts.reduce((a, p) => a + p.length / d, 0);
    const feats = new Float32Array(k * d);
    let at = 0;
    for (const p of parts) {
      feats.set(p, at);
      at += p.length;
    }
    const { positions, last, scatter } = packLlavaText(batch, this.config.imageTokenId, k);
    const out = await this.compiled().text(
      fromArray(batch.inputIds, [b, t], 'int64'),
      fromArray(batch.attentionMask, [b, t], 'int64'),
      fromArray(positions, [b, t], 'int64'),
      fromArray(last, [b, 2], 'int64'),
      fromArray(scatter, [k, 2], 'int64'),
      fromArray(feats, [k, d], 'float32'),
    );
    return { hidden: (await out.hidden.data()) as Float32Array, embeddings: (await out.embedding.data()) as Float32Array, dim: d };
  }

  /**
   * Builds both ORT sessions (a one-patch image, a one-token row) and frees the host weights; the
   * graphs' axes are symbolic, so nothing traces again. Tracing and export refuse afterwards.
   */
  async releaseHostWeights(onProgress?: (e: ModelLoadEvent) => void): Promise<void> {
    if (this.released) return;
    const s = this.config.vision.imageSize;
    const g = this.compiled();
    // Each graph frees its host weights as soon as they are serialized for ORT (before ORT loads
    // them), so the host and ORT copies never coexist; the vision graph goes first.
    this.releasing = true;
    try {
      onProgress?.({ type: 'session', graph: 'vision', state: 'start' });
      await this.imageFeatures({ pixels: new Float32Array(3 * s * s), numPatches: 1, featureRows: Int32Array.from([0]) });
      onProgress?.({ type: 'session', graph: 'vision', state: 'done' });
      onProgress?.({ type: 'session', graph: 'text', state: 'start' });
      await this.encode({ inputIds: BigInt64Array.from([1n]), attentionMask: BigInt64Array.from([1n]), shape: [1, 1], images: [] });
      onProgress?.({ type: 'session', graph: 'text', state: 'done' });
      if (g.vision.sessionCount !== 1 || g.text.sessionCount !== 1) {
        throw new Vlm2VecError('llava_next', `expected one session per graph after the warm-up, got vision ${g.vision.sessionCount} / text ${g.text.sessionCount}`);
      }
      releaseBuffers(this.params);
    } finally {
      this.releasing = false;
      this.released = true;
    }
  }
}
