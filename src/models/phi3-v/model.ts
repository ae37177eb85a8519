// Phi-3-V as an embedding encoder at run time: the two graphs of forward.ts traced with jit
// (weights captured as initializers, batch / sequence / crop / token axes symbolic), the same two
// graphs `vlm2vec export` writes:
//   vision: pixel_values [N, 3, 336, 336], token_order [K] → features [K, D]   (one image per call)
//   text:   input_ids [B, T], attention_mask [B, T], last_index [B, 2], scatter_index [K, 2],
//           features [K, D] → hidden, embedding [B, D]
// and the host-side packing of a right-padded batch: placeholder ids (negative) become 0 and
// their positions the scatter index, row-major, as the reference's index_put fills them.

import { join } from 'node:path';
import { Vlm2VecError } from '../../errors.ts';
import { Checkpoint } from '../../io/weights/checkpoint.ts';
import { readJsonFile } from '../../io/weights/hf-configs.ts';
import type { PeftAdapter } from '../../io/weights/peft.ts';
import type { Jitted, Tensor } from '../../tensor/index.ts';
import { fromArray, jit, treeLeaves } from '../../tensor/index.ts';
import { concatFloat32 } from '../../util/arrays.ts';
import { FLOAT16_SESSION, heldDtypeOf, parseWeightDtype, type WeightDtype } from '../common/float16.ts';
import type { ModelLoadEvent } from '../common/weights.ts';
import { DEFAULT_ATTENTION_KERNEL, withAttentionKernel, type AttentionKernel } from '../../nn/index.ts';
import { parsePhi3VConfig, type Phi3VConfig } from './config.ts';
import { imageFeatures, imageTokenOrder, textGraph, type CropGrid, type PooledTensors } from './forward.ts';
import { CROP_SIZE } from './processor.ts';
import { buildPhi3VParams, readPhi3VWeights, type Phi3VParams } from './weights.ts';

export const VISION_INPUTS = ['pixel_values', 'token_order'] as const;
export const VISION_OUTPUT = 'features';
export const TEXT_INPUTS = ['input_ids', 'attention_mask', 'last_index', 'scatter_index', 'features'] as const;
export const TEXT_OUTPUTS = { hidden: 'hidden', embedding: 'embedding' } as const;

type VisionGraph = Jitted<[Tensor, Tensor], Tensor>;
type TextGraph = Jitted<[Tensor, Tensor, Tensor, Tensor, Tensor], PooledTensors>;

const byPosition = (names: readonly string[]): Record<string, string> => Object.fromEntries(names.map((n, i) => [String(i), n]));

/** One image of a batch: its crops [1 + rows·cols, 3, 336, 336] and grid. */
export interface Phi3VBatchImage extends CropGrid {
  pixels: Float32Array;
}

/** A padded batch: ids with negative image placeholders, as the processor gives them. */
export interface Phi3VBatch {
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  shape: readonly [number, number];
  /** Every image of the batch, rows in order, each row's images in order. */
  images: readonly Phi3VBatchImage[];
}

/** Pooled outputs [B, D]. */
export interface Phi3VEncoded {
  hidden: Float32Array;
  embeddings: Float32Array;
  dim: number;
}

/** Options of {@link Phi3VModel.load}. */
export interface LoadPhi3VOptions {
  adapter?: PeftAdapter | undefined;
  config?: Phi3VConfig | undefined;
  strictConfig?: boolean | undefined;
  dtype?: WeightDtype | undefined;
  onProgress?: ((e: ModelLoadEvent) => void) | undefined;
  /** Attention kernels of the traced graphs (default 'fused'; 'composed' is the reference). docs/onnxruntime.md. */
  attention?: AttentionKernel | undefined;
}

/**
 * Index of each row's last real token: T−1 when every row ends with a token, else Σmask − 1 (the
 * reference's pooling, right padding).
 *
 * @example lastTokenIndex(BigInt64Array.from([1n, 1n, 1n, 1n, 0n, 0n]), 2, 3) // [2, 0]
 */
export function lastTokenIndex(mask: BigInt64Array, b: number, l: number): number[] {
  const allLast = Array.from({ length: b }, (_, r) => mask[r * l + l - 1] === 1n).every(Boolean);
  return Array.from({ length: b }, (_, r) => {
    if (allLast) return l - 1;
    let n = 0;
    for (let j = 0; j < l; j++) n += Number(mask[r * l + j]);
    if (n === 0) throw new Vlm2VecError('phi3_v', `batch row ${r} has no tokens (attention mask all 0)`);
    return n - 1;
  });
}

/** The text graph's host inputs: ids with placeholders zeroed, last-token pairs, scatter pairs. */
export function packText(batch: Phi3VBatch): { ids: BigInt64Array; last: BigInt64Array; scatter: BigInt64Array } {
  const [b, l] = batch.shape;
  if (batch.inputIds.length !== b * l || batch.attentionMask.length !== b * l) {
    throw new Vlm2VecError('phi3_v', `input_ids (${batch.inputIds.length}) / attention_mask (${batch.attentionMask.length}) do not match the batch shape [${b}, ${l}]`);
  }
  const ids = batch.inputIds.slice();
  const scatter: bigint[] = [];
  for (let r = 0; r < b; r++) {
    for (let j = 0; j < l; j++) {
      const k = r * l + j;
      if (ids[k]! < 0n && batch.attentionMask[k] === 1n) {
        scatter.push(BigInt(r), BigInt(j));
        ids[k] = 0n; // the reference clamps placeholder ids to 0 before the lookup, then overwrites them
      }
    }
  }
  const last = BigInt64Array.from(lastTokenIndex(batch.attentionMask, b, l).flatMap((j, r) => [BigInt(r), BigInt(j)]));
  return { ids, last, scatter: BigInt64Array.from(scatter) };
}

function detachBuffers(tree: unknown): void {
  const buffers = new Set<ArrayBuffer>();
  for (const leaf of treeLeaves(tree as Parameters<typeof treeLeaves>[0]) as Tensor[]) {
    let t = leaf;
    while (t.value === undefined && t.inputs.length === 1 && (t.prim === 'cast' || t.prim === 'permute')) t = t.inputs[0]!;
    for (const c of t.prim === 'dequantize' ? t.inputs : [t]) {
      const buf = c.value?.buffer;
      // Only buffers a weight owns outright, or large ones (never Node's small shared pool).
      if (buf instanceof ArrayBuffer && buf.byteLength > 0 && (buf.byteLength === c.value!.byteLength || buf.byteLength >= 1 << 20)) buffers.add(buf);
    }
  }
  for (const buf of buffers) structuredClone(buf, { transfer: [buf] });
}

/**
 * A loaded Phi-3-V (adapter merged) that encodes padded batches.
 *
 * @example
 * const m = await Phi3VModel.load('/models/VLM2Vec-Full');
 * const { embeddings } = await m.encode(batch); // [B, 3072]
 */
export class Phi3VModel {
  private graphsCache: { vision: VisionGraph; text: TextGraph } | undefined;
  private released = false;
  readonly dtype: WeightDtype;

  private constructor(readonly config: Phi3VConfig, readonly params: Phi3VParams, readonly source: string,
    readonly attention: AttentionKernel = DEFAULT_ATTENTION_KERNEL) {
    this.dtype = heldDtypeOf(params.model.embed_tokens.weight, params.model.layers[0]?.mlp.gate_up_proj.weight);
  }

  static async load(dir: string, opts: LoadPhi3VOptions = {}): Promise<Phi3VModel> {
    const dtype = parseWeightDtype(opts.dtype, 'LoadPhi3VOptions.dtype');
    const configPath = join(dir, 'config.json');
    const config = opts.config ?? parsePhi3VConfig(await readJsonFile('phi3_v', configPath), { file: configPath, strict: opts.strictConfig ?? false });
    const ckpt = await Checkpoint.open(dir);
    try {
      const host = await readPhi3VWeights(ckpt, config, opts.adapter, dtype, opts.onProgress);
      return new Phi3VModel(config, buildPhi3VParams(host, config), dir, opts.attention);
    } finally {
      await ckpt.close();
    }
  }

  /** A model over an already built parameter tree (benchmarks, tests). */
  static fromParams(config: Phi3VConfig, params: Phi3VParams, source = '<memory>', opts: { attention?: AttentionKernel | undefined } = {}): Phi3VModel {
    return new Phi3VModel(config, params, source, opts.attention);
  }

  get hiddenSize(): number {
    return this.config.text.hiddenSize;
  }

  get hostWeightsReleased(): boolean {
    return this.released;
  }

  /** The two traced graphs (export reads them; refused once the host weights are released). */
  graphs(): { vision: VisionGraph; text: TextGraph } {
    if (this.released) {
      throw new Vlm2VecError('phi3_v', `${this.source}: the host weights were released after the ORT sessions were built; load the model again to trace or export`);
    }
    return this.compiled();
  }

  private compiled(): { vision: VisionGraph; text: TextGraph } {
    if (this.graphsCache) return this.graphsCache;
    const session = this.dtype === 'float16' ? { session: FLOAT16_SESSION } : {};
    const fused = <T>(f: () => T): T => withAttentionKernel(this.attention, f);
    const vision = jit((pixels: Tensor, order: Tensor) => fused(() => imageFeatures(this.params.model.vision_embed_tokens, this.config, pixels, order)), {
      name: 'phi3v_image_embedding',
      dynamic: { '0': ['N', null, null, null], '1': ['K'] },
      inputNames: byPosition(VISION_INPUTS),
      outputNames: { '': VISION_OUTPUT },
      ...session,
    });
    const text = jit((ids: Tensor, mask: Tensor, last: Tensor, scatter: Tensor, feats: Tensor) =>
      fused(() => textGraph(this.params.model, this.config, ids, mask, last, scatter, feats)), {
      name: 'phi3v_language_model',
      dynamic: { '0': ['B', 'T'], '1': ['B', 'T'], '2': ['B', null], '3': ['K', null], '4': ['K', null] },
      inputNames: byPosition(TEXT_INPUTS),
      outputNames: TEXT_OUTPUTS,
      ...session,
    });
    this.graphsCache = { vision, text };
    return this.graphsCache;
  }

  /** Projected features [K, D] of one image's crops, in the reference's token order. */
  private async imageFeatures(vision: VisionGraph, img: Phi3VBatchImage): Promise<Float32Array> {
    const n = 1 + img.rows * img.cols;
    const crop = 3 * CROP_SIZE * CROP_SIZE;
    if (img.pixels.length !== n * crop) {
      throw new Vlm2VecError('phi3_v', `an image of ${img.rows}×${img.cols} crops needs ${n} crops of pixels, got ${img.pixels.length / crop}`);
    }
    const order = imageTokenOrder([img], this.config.image.tokensPerSide);
    const f = await vision(fromArray(img.pixels, [n, 3, CROP_SIZE, CROP_SIZE], 'float32'), fromArray(order, [order.length], 'int64'));
    return (await f.data()) as Float32Array;
  }

  /**
   * Pooled hidden states and embeddings of a right-padded batch.
   *
   * @example const out = await model.encode({ inputIds, attentionMask, shape: [2, 9], images: [] });
   */
  async encode(batch: Phi3VBatch): Promise<Phi3VEncoded> {
    const [b, l] = batch.shape;
    const d = this.hiddenSize;
    const { vision, text } = this.compiled();
    const p = packText(batch);
    const parts: Float32Array[] = [];
    for (const img of batch.images) parts.push(await this.imageFeatures(vision, img));
    const feats = concatFloat32(parts);
    const k = p.scatter.length / 2;
    if (feats.length !== k * d) {
      throw new Vlm2VecError('phi3_v', `the batch has ${k} image placeholder tokens but its ${batch.images.length} image(s) give ${feats.length / d} features`);
    }
    const out = await text(
      fromArray(p.ids, [b, l], 'int64'),
      fromArray(batch.attentionMask, [b, l], 'int64'),
      fromArray(p.last, [b, 2], 'int64'),
      fromArray(p.scatter, [k, 2], 'int64'),
      fromArray(feats, [k, d], 'float32'),
    );
    return { hidden: (await out.hidden.data()) as Float32Array, embeddings: (await out.embedding.data()) as Float32Array, dim: d };
  }

  /**
   * Builds both ORT sessions (a one-crop warm-up image and a one-token batch), then frees the host
   * copies of the weights: ORT holds its own. Encoding works afterwards; tracing and export do not.
   */
  async releaseHostWeights(onProgress?: (e: ModelLoadEvent) => void): Promise<void> {
    if (this.released) return;
    const { vision } = this.compiled();
    try {
      onProgress?.({ type: 'session', graph: 'vision', state: 'start' });
      await this.imageFeatures(vision, { rows: 0, cols: 0, pixels: new Float32Array(3 * CROP_SIZE * CROP_SIZE) });
      onProgress?.({ type: 'session', graph: 'vision', state: 'done' });
      onProgress?.({ type: 'session', graph: 'text', state: 'start' });
      await this.encode({ inputIds: BigInt64Array.from([1n]), attentionMask: BigInt64Array.from([1n]), shape: [1, 1], images: [] });
      onProgress?.({ type: 'session', graph: 'text', state: 'done' });
    } finally {
      this.released = true;
    }
    detachBuffers(this.params);
  }
}
