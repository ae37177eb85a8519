// Qwen2-VL as an embedding encoder: one padded batch of token ids (+ packed patches and grids)
// → final-norm hidden state of each row's last real token (and its L2-normalized copy).
//
// Two jitted graphs with symbolic dims, frozen weights as initializers, each weight in one
// session only (the same two graphs are what `vlm2vec export` writes):
//   vision tower: pixels [K, M, P] (M = merge² patches per merged token), patch (row, col)
//                 [K, M, 2], segment ids [K, M] → features [K, D]
//   language model: ids [B, T], mask [B, T], positions [3, B, T], last [B, 2], scatter [K, 2],
//                 features [K, D] → pooled [B, D]; the features replace the embedding rows at
//                 `scatter` (images first, then videos, each row-major over the batch, as
//                 masked_scatter does). Text-only batches pass K = 0.
// Rows without media keep their token embeddings (a literal <|image_pad|> too, given per-row
// media counts), so text, image and video rows mix freely.
// The vision tower runs once per temporal slice (exact: the ViT attends within a slice only).

import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Vlm2VecError } from '../../errors.ts';
import { concatFloat32 } from '../../util/arrays.ts';
import { readJsonFile } from '../../io/weights/hf-configs.ts';
import type { PeftAdapter } from '../../io/weights/peft.ts';
import { Checkpoint } from '../../io/weights/checkpoint.ts';
import type { GridThw } from './rope.ts';
import type { Jitted, Tensor } from '../../tensor/index.ts';
import { fromArray, jit, treeLeaves } from '../../tensor/index.ts';
import type { Qwen2VLConfig } from './config.ts';
import { parseQwen2VLConfig } from './config.ts';
import { hasMedia, packText, packVision, type Qwen2VLBatch } from './batch.ts';
import { textGraph, visionGraph, type PooledTensors } from './forward.ts';
import { visionIndexInputs } from './vision.ts';
import { buildParams, readQwen2VLWeights, type Qwen2VLParams } from './weights.ts';
import { FLOAT16_SESSION, heldDtypeOf, parseWeightDtype, type WeightDtype } from '../common/float16.ts';
import type { ModelLoadEvent } from '../common/weights.ts';
import { DEFAULT_ATTENTION_KERNEL, withAttentionKernel, type AttentionKernel } from '../../nn/index.ts';

export type { Qwen2VLBatch } from './batch.ts';
export type { PooledTensors } from './forward.ts';

/** The vision tower graph: (pixels [K, M, P], patch (row, col) [K, M, 2], segment ids [K, M]) → [K, D]. */
export type VisionTowerGraph = Jitted<[Tensor, Tensor, Tensor], Tensor>;
/** The language model graph: (ids, mask, positions, last, scatter [K, 2], features [K, D]) → pooled. */
export type LanguageModelGraph = Jitted<[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor], PooledTensors>;

/**
 * ONNX names of the two graphs' inputs (in argument order) and outputs: what `vlm2vec export`
 * writes and docs/export.md describes (input_ids, attention_mask and position_ids as in
 * transformers; the rest are this export's own).
 */
export const VISION_INPUTS = ['pixel_values', 'patch_pos', 'segment_ids'] as const;
export const VISION_OUTPUT = 'features';
export const TEXT_INPUTS = ['input_ids', 'attention_mask', 'position_ids', 'last_index', 'scatter_index', 'features'] as const;
export const TEXT_OUTPUTS = { hidden: 'hidden', embedding: 'embedding' } as const;

const byPosition = (names: readonly string[]): Record<string, string> => Object.fromEntries(names.map((n, i) => [String(i), n]));

/** Pooled outputs, one row per batch row. */
export interface Qwen2VLEncoded {
  /** Last-token final-norm hidden states [B, D]. */
  hidden: Float32Array;
  /** The same, L2-normalized (eps 1e-12) [B, D]. */
  embeddings: Float32Array;
  dim: number;
}

/** Options of {@link Qwen2VLModel.load}. */
export interface LoadModelOptions {
  /** A loaded PEFT LoRA/DoRA adapter to merge into the base weights. */
  adapter?: PeftAdapter | undefined;
  /** Reject unknown config.json keys (default false: real checkpoints carry extra fields). */
  strictConfig?: boolean | undefined;
  /** The already parsed config.json of `dir` (the registry parsed it while resolving). */
  config?: Qwen2VLConfig | undefined;
  /**
   * How the weights are held (default 'float32'). 'float16' holds every matrix as float16 and
   * computes in float32, equal to transformers' `model.half().float()` (docs/float16.md).
   */
  dtype?: WeightDtype | undefined;
  /** Loading progress (weight bytes read per shard, the adapter merge); nothing is printed. */
  onProgress?: ((e: ModelLoadEvent) => void) | undefined;
  /**
   * Attention kernels of the traced graphs (default 'fused': ORT's MultiHeadAttention /
   * Attention; 'composed': the primitive composition they are tested against). docs/onnxruntime.md.
   */
  attention?: AttentionKernel | undefined;
}

export { FLOAT16_SESSION } from '../common/float16.ts';

/**
 * Frees the weight buffers of a parameter tree for every view at once (the tensors, the traced
 * graphs' initializer lists, a caller's host map) by transferring each to a clone that is dropped.
 */
function detachBuffers(tree: unknown): void {
  const buffers = new Set<ArrayBuffer>();
  for (const leaf of treeLeaves(tree as Parameters<typeof treeLeaves>[0]) as Tensor[]) {
    // A float16-held matrix is a lazy Transpose(Cast(constant)): its buffer is on the constant.
    let t = leaf;
    while (t.value === undefined && t.inputs.length === 1 && (t.prim === 'cast' || t.prim === 'permute')) t = t.inputs[0]!;
    // A quantized matrix (--dtype int8/q4) is a dequantize node over its packed constants.
    for (const c of t.prim === 'dequantize' ? t.inputs : [t]) {
      const buf = c.value?.buffer;
      // Never a small shared buffer (Node's 8 KB Buffer pool backs unrelated Buffers): only
      // buffers the weight owns outright, or large ones (file reads holding several weights).
      if (buf instanceof ArrayBuffer && buf.byteLength > 0 && (buf.byteLength === c.value!.byteLength || buf.byteLength >= 1 << 20)) buffers.add(buf);
    }
  }
  for (const buf of buffers) structuredClone(buf, { transfer: [buf] });
  // The transferred memory belongs to the dropped clones until a full GC collects them; V8 does
  // not count it as pressure, so without a collection here it would still be resident while ORT
  // builds the next session (measured: 3.0 GB instead of 2.4 GB peak in bench/model.ts).
  if (buffers.size > 0) fullGc();
}

let gcFn: (() => void) | null | undefined;

/**
 * A full V8 collection: `globalThis.gc` when node runs with --expose-gc, else a gc function
 * obtained by enabling the flag for one fresh context (the technique jest's leak detector uses),
 * then disabling it again. Silently does nothing if neither works.
 */
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
 * A loaded Qwen2-VL (base weights, adapter merged) that encodes padded batches.
 *
 * @example
 * const m = await Qwen2VLModel.load('/models/VLM2Vec-Qwen2VL-2B');
 * const { embeddings, dim } = await m.encode(batch); // [B, 1536]
 */
export class Qwen2VLModel {
  private graphsCache: { vision: VisionTowerGraph; text: LanguageModelGraph } | undefined;
  private released = false;
  /** Set by {@link releaseHostWeights}: each graph frees its weights once serialized for ORT. */
  private releasing = false;

  /** How the weights are held ('float16': matrices in float16, compute in float32). */
  readonly dtype: WeightDtype;

  private constructor(readonly config: Qwen2VLConfig, readonly params: Qwen2VLParams, readonly source: string,
    readonly attention: AttentionKernel = DEFAULT_ATTENTION_KERNEL) {
    this.dtype = heldDtypeOf(params.model.embed_tokens.weight, params.model.layers[0]?.mlp.up_proj.weight);
  }

  /** Loads config.json (flat 4.x or nested 5.x layout) and the weights of `dir` (safetensors, else pytorch_model.bin). */
  static async load(dir: string, opts: LoadModelOptions = {}): Promise<Qwen2VLModel> {
    const dtype = parseWeightDtype(opts.dtype, 'LoadModelOptions.dtype');
    const configPath = join(dir, 'config.json');
    const config = opts.config ?? parseQwen2VLConfig(await readJsonFile('qwen2_vl', configPath), { file: configPath, strict: opts.strictConfig ?? false });
    const ckpt = await Checkpoint.open(dir);
    try {
      const host = await readQwen2VLWeights(ckpt, config, opts.adapter, dtype, opts.onProgress);
      return new Qwen2VLModel(config, buildParams(host, config), dir, opts.attention);
    } finally {
      await ckpt.close();
    }
  }

  /** Builds a model from an in-memory config and parameter tree (tests, export). */
  static fromParams(config: Qwen2VLConfig, params: Qwen2VLParams, source = '<memory>', opts: { attention?: AttentionKernel | undefined } = {}): Qwen2VLModel {
    return new Qwen2VLModel(config, params, source, opts.attention);
  }

  get hiddenSize(): number {
    return this.config.text.hiddenSize;
  }

  /** Number of ORT sessions created so far by the two encoder graphs. */
  get sessionCount(): number {
    return (this.graphsCache?.vision.sessionCount ?? 0) + (this.graphsCache?.text.sessionCount ?? 0);
  }

  /**
   * The two traced graphs (cached): the vision tower alone and the language model taking its
   * features (see the file comment for their inputs). `jitted.export` writes them as ONNX.
   *
   * @example const { vision, text } = model.graphs(); await text.export('text.onnx', exampleArgs);
   */
  graphs(): { vision: VisionTowerGraph; text: LanguageModelGraph } {
    if (this.released) {
      throw new Vlm2VecError('qwen2_vl', `${this.source}: the host weights were released after the ORT sessions were built ` +
        '(releaseHostWeights); load the model again (LocalEmbedder: keepHostWeights) to trace or export its graphs');
    }
    return this.compiledGraphs();
  }

  /** Whether {@link releaseHostWeights} ran: encoding works, tracing/exporting does not. */
  get hostWeightsReleased(): boolean {
    return this.released;
  }

  /**
   * Builds both ORT sessions now (tiny warm-up inputs) and then frees the host
   * copies of the weights: once a session exists ORT holds its own copy of every initializer, and
   * the graphs have one signature each (batch, sequence and patch axes are symbolic), so no later
   * call traces again. Halves steady-state memory; {@link graphs} (export) refuses afterwards.
   *
   * @example const m = await Qwen2VLModel.load(dir); await m.releaseHostWeights(); await m.encode(batch);
   */
  async releaseHostWeights(onProgress?: (e: ModelLoadEvent) => void): Promise<void> {
    if (this.released) return;
    const v = this.config.vision;
    const m = v.spatialMergeSize;
    const patchDim = v.inChannels * v.temporalPatchSize * v.patchSize * v.patchSize;
    const g = this.compiledGraphs();
    // Each graph's host weights are freed as soon as they are serialized for ORT (jit
    // onSerialized), before ORT loads them, so host and ORT copies never coexist. Vision first:
    // its weights are gone before the (larger) text session is built.
    this.releasing = true;
    try {
      onProgress?.({ type: 'session', graph: 'vision', state: 'start' });
      await this.visionFeatures(g.vision, new Float32Array(m * m * patchDim), [[1, m, m]]);
      onProgress?.({ type: 'session', graph: 'vision', state: 'done' });
      detachBuffers(this.params.visual);
      onProgress?.({ type: 'session', graph: 'text', state: 'start' });
      await this.encode({ inputIds: BigInt64Array.from([0n]), attentionMask: BigInt64Array.from([1n]), shape: [1, 1], positionIds: BigInt64Array.from([0n]) });
      onProgress?.({ type: 'session', graph: 'text', state: 'done' });
      if (g.vision.sessionCount !== 1 || g.text.sessionCount !== 1) {
        throw new Vlm2VecError('qwen2_vl', `expected one session per graph after the warm-up, got vision ${g.vision.sessionCount} / text ${g.text.sessionCount}`);
      }
      detachBuffers(this.params.model);
    } catch (e) {
      // Some weights may already be freed: refuse tracing/export from here on (clear error).
      this.released = true;
      throw e;
    } finally {
      this.releasing = false;
    }
    this.released = true;
  }

  private compiledGraphs(): { vision: VisionTowerGraph; text: LanguageModelGraph } {
    if (this.graphsCache) return this.graphsCache;
    const session = this.dtype === 'float16' ? { session: FLOAT16_SESSION } : {};
    const v = this.config.vision;
    // The math is forward.ts's; here it is traced with the weights captured as initializers.
    // Inputs are grouped per merged token ([K, merge², ...], the same memory as [merge²·K, ...]).
    const vision = jit(
      (pixels: Tensor, patchPos: Tensor, seg: Tensor) => withAttentionKernel(this.attention, () => visionGraph(this.params.visual, v, pixels, patchPos, seg)),
      {
        name: 'qwen2vl_vision_tower',
        dynamic: { '0': ['K', null, null], '1': ['K', null, null], '2': ['K', null] },
        inputNames: byPosition(VISION_INPUTS),
        outputNames: { '': VISION_OUTPUT },
        onSerialized: () => this.releasing && detachBuffers(this.params.visual),
        ...session,
      },
    );
    const text = jit(
      (ids: Tensor, mask: Tensor, pos: Tensor, last: Tensor, scatter: Tensor, feats: Tensor) =>
        withAttentionKernel(this.attention, () => textGraph(this.params.model, this.config, ids, mask, pos, last, scatter, feats)),
      {
        name: 'qwen2vl_language_model',
        dynamic: { '0': ['B', 'T'], '1': ['B', 'T'], '2': [null, 'B', 'T'], '3': ['B', null], '4': ['K', null], '5': ['K', null] },
        inputNames: byPosition(TEXT_INPUTS),
        outputNames: TEXT_OUTPUTS,
        onSerialized: () => this.releasing && detachBuffers(this.params.model),
        ...session,
      },
    );
    this.graphsCache = { vision, text };
    return this.graphsCache;
  }

  /**
   * Encodes one padded batch (either padding side) and pools each row's last real token.
   *
   * @example const out = await model.encode({ inputIds, attentionMask, shape: [2, 9] }); // text only
   */
  async encode(batch: Qwen2VLBatch): Promise<Qwen2VLEncoded> {
    const p = packText(batch, this.config);
    const [b, l] = p.shape;
    const ids = fromArray(p.ids, [b, l], 'int64');
    const mask = fromArray(p.mask, [b, l], 'int64');
    const pos = fromArray(p.positions, [3, b, l], 'int64');
    const lastT = fromArray(p.last, [b, 2], 'int64');
    const { vision, text } = this.compiledGraphs();
    const d = this.hiddenSize;
    let feats = fromArray(new Float32Array(0), [0, d], 'float32');
    let scatter = fromArray(new BigInt64Array(0), [0, 2], 'int64');
    // No media in the batch: placeholder tokens are ordinary tokens (transformers and VLM2Vec
    // only scatter features when pixel values are given).
    if (hasMedia(batch)) {
      const v = packVision(batch, this.config);
      feats = await this.visionFeatures(vision, v.pixels, v.grids);
      scatter = fromArray(v.scatter, [v.scatter.length / 2, 2], 'int64');
    }
    const out = await text(ids, mask, pos, lastT, scatter, feats);
    return {
      hidden: (await out.hidden.data()) as Float32Array,
      embeddings: (await out.embedding.data()) as Float32Array,
      dim: this.hiddenSize,
    };
  }

  /**
   * Vision features [K, D] of packed patches, one vision-tower call per temporal slice: the ViT
   * attends within a slice only and every other op is per patch (the merger's 2×2 groups lie
   * inside a slice), so this is exact, and attention memory is O(slice²) instead of O(batch²).
   */
  private async visionFeatures(vision: VisionTowerGraph, pixels: Float32Array, grids: readonly GridThw[]): Promise<Tensor> {
    const v = this.config.vision;
    const m = v.spatialMergeSize * v.spatialMergeSize;
    const patchDim = v.inChannels * v.temporalPatchSize * v.patchSize * v.patchSize;
    const d = this.hiddenSize;
    const parts: Float32Array[] = [];
    let row = 0;
    for (const [t, h, w] of grids) {
      const slice = visionIndexInputs([[1, h, w]], v.spatialMergeSize); // same ids for every slice
      const k = (h * w) / m;
      for (let s = 0; s < t; s++) {
        const px = pixels.subarray(row * patchDim, (row + h * w) * patchDim);
        const f = await vision(
          fromArray(px, [k, m, patchDim], 'float32'),
          fromArray(slice.positionIds, [k, m, 2], 'int32'),
          fromArray(slice.segmentIds, [k, m], 'int32'),
        );
        parts.push((await f.data()) as Float32Array);
        row += h * w;
      }
    }
    const out = concatFloat32(parts);
    return fromArray(out, [out.length / d, d], 'float32');
  }
}
