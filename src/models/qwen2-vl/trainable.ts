// Qwen2-VL as a training step sees it (models/encoder.ts TrainableEncoder): the pure forward
// (forward.ts) with LoRA factors attached as arguments (adapter training) or with the whole
// parameter tree as the argument (full fine-tuning), and row slicing of a padded batch for
// GradCache's chunks (rows keep the batch's full padded length and carry their own patches and
// grids, as the reference's split_and_process_vlm_inputs slices tensors and lists).

import { Vlm2VecError } from '../../errors.ts';
import type { Tensor } from '../../tensor/index.ts';
import { concat, fromArray, reshape } from '../../tensor/index.ts';
import type { RepsRandom, TrainableEncoder } from '../encoder.ts';
import { rowKeyedDropout } from '../../nn/dropout.ts';
import { attachLora, type LoraFactors } from '../common/param-spec.ts';
import { batchTensors, packBatch, ropeRows, type Qwen2VLBatch } from './batch.ts';
import type { Qwen2VLConfig } from './config.ts';
import { textGraph, visionGraph } from './forward.ts';
import { visionIndexInputs } from './vision.ts';
import { concatFloat32 } from '../../util/arrays.ts';
import type { GridThw } from './rope.ts';
import type { Qwen2VLParams } from './weights.ts';

/** LoRA factors by checkpoint module path (`model.layers.0.self_attn.q_proj`). */
export type Qwen2VLLoraFactors = Record<string, LoraFactors<Tensor>>;

const patches = (gs: readonly GridThw[]): number => gs.reduce((n, [t, h, w]) => n + t * h * w, 0);

/**
 * Rows [start, end) of a padded batch, at its full length, with their own pixel rows and grids
 * (which grids belong to which row: the per-row counts when given, else the rows' placeholder
 * runs, as ropeRows assigns them).
 *
 * @example const chunk = sliceQwen2VLBatch(batch, cfg, 0, 8); // chunk.shape = [8, L]
 */
export function sliceQwen2VLBatch(batch: Qwen2VLBatch, cfg: Qwen2VLConfig, start: number, end: number): Qwen2VLBatch {
  const [b, l] = batch.shape;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > b || start >= end) {
    throw new Vlm2VecError('qwen2_vl', `row range [${start}, ${end}) is not inside the batch of ${b} rows`);
  }
  const perRow = ropeRows(batch, cfg);
  const patchDim = cfg.vision.inChannels * cfg.vision.temporalPatchSize * cfg.vision.patchSize ** 2;
  const before = perRow.slice(0, start);
  const mine = perRow.slice(start, end);
  const media = (key: 'imageGrids' | 'videoGrids', pixels: Float32Array | undefined) => {
    const grids = mine.flatMap((r) => r[key]);
    const off = patches(before.flatMap((r) => r[key])) * patchDim;
    return { grids, pixels: grids.length === 0 ? undefined : pixels!.subarray(off, off + patches(grids) * patchDim) };
  };
  const img = media('imageGrids', batch.pixelValues);
  const vid = media('videoGrids', batch.pixelValuesVideos);
  const rows = (a: BigInt64Array): BigInt64Array => a.subarray(start * l, end * l);
  let positionIds: BigInt64Array | undefined;
  if (batch.positionIds !== undefined) {
    const pos = batch.positionIds;
    positionIds = pos.length === b * l ? rows(pos) : BigInt64Array.from({ length: 3 * (end - start) * l }, (_, i) => {
      const axis = Math.floor(i / ((end - start) * l));
      return pos[axis * b * l + start * l + (i % ((end - start) * l))]!;
    });
  }
  const frozen = (batch as FrozenVisionBatch).frozenVision;
  return {
    ...(frozen === undefined ? {} : { frozenVision: frozen }),
    inputIds: rows(batch.inputIds),
    attentionMask: rows(batch.attentionMask),
    shape: [end - start, l],
    positionIds,
    pixelValues: img.pixels,
    imageGrids: img.grids,
    pixelValuesVideos: vid.pixels,
    videoGrids: vid.grids,
    imagesPerRow: batch.imagesPerRow?.slice(start, end),
    videosPerRow: batch.videosPerRow?.slice(start, end),
  };
}

/** Options of {@link qwen2VLTrainable} and {@link qwen2VLFullTrainable}. */
export interface Qwen2VLTrainableOptions {
  /** Reps are the L2-normalized embeddings (`--normalize True`), else the pooled hidden states. */
  normalize: boolean;
}

/** One image / temporal slice of a batch's pixels: where it lies (the key of its cached features). */
interface VisionSlice { key: string; kind: 'i' | 'v'; data: Float32Array; row: number; h: number; w: number }

/** Every slice of a batch, in packing order (images, then videos; packVision's order). */
function visionSlices(batch: Qwen2VLBatch, cfg: Qwen2VLConfig): VisionSlice[] {
  const v = cfg.vision;
  const patchDim = v.inChannels * v.temporalPatchSize * v.patchSize ** 2;
  const out: VisionSlice[] = [];
  for (const [kind, grids, data] of [['i', batch.imageGrids, batch.pixelValues], ['v', batch.videoGrids, batch.pixelValuesVideos]] as const) {
    let row = 0;
    for (const [frames, h, w] of grids ?? []) {
      for (let s = 0; s < frames; s++) {
        const px = data?.subarray(row * patchDim, (row + h * w) * patchDim);
        if (px === undefined || px.length !== h * w * patchDim) throw new Vlm2VecError('qwen2_vl', `the batch's ${kind === 'i' ? 'image' : 'video'} grids need more pixel rows than it has`);
        // Slices of a batch are views of its arrays: the byte offset names a slice in all of them.
        out.push({ key: `${kind}:${px.byteOffset}`, kind, data: data!, row, h, w });
        row += h * w;
      }
    }
    if (row * patchDim !== (data?.length ?? 0)) throw new Vlm2VecError('qwen2_vl', `the batch's ${kind === 'i' ? 'image' : 'video'} grids cover ${row} patch rows, its pixels ${(data?.length ?? 0) / patchDim}`);
  }
  return out;
}

/**
 * Patches one vision call may hold. Consecutive slices are packed into one call with a
 * block-diagonal mask (the ViT attends within a slice, so the math is the same) up to this many
 * patches: a batch of small images becomes a few calls instead of one per image, and the step's
 * graph shrinks accordingly (32 images of 64 patches: ORT session creation 5 s → well under 1 s
 * on the shipped model's recipe). Attention costs (patches in the call)² instead of Σ slice², so
 * images of a real model's size (1,000+ patches) still go one per call.
 */
export const VISION_PACK_PATCHES = 1024;

/** Consecutive slices of one kind grouped into calls of at most VISION_PACK_PATCHES patches (a larger slice alone). */
function visionPacks(slices: readonly VisionSlice[]): VisionSlice[][] {
  const out: VisionSlice[][] = [];
  let cur: VisionSlice[] = [];
  let n = 0;
  for (const sl of slices) {
    if (cur.length > 0 && (cur[0]!.kind !== sl.kind || n + sl.h * sl.w > VISION_PACK_PATCHES)) {
      out.push(cur);
      cur = [];
      n = 0;
    }
    cur.push(sl);
    n += sl.h * sl.w;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/** The vision features [K, D] of consecutive slices of one kind (one segment each), as a lazy graph. */
function packFeatures(visual: Qwen2VLParams['visual'], cfg: Qwen2VLConfig, pack: readonly VisionSlice[]): Tensor {
  const v = cfg.vision;
  const m = v.spatialMergeSize ** 2;
  const patchDim = v.inChannels * v.temporalPatchSize * v.patchSize ** 2;
  const first = pack[0]!;
  const n = pack.reduce((a, sl) => a + sl.h * sl.w, 0);
  const pixels = first.data.subarray(first.row * patchDim, (first.row + n) * patchDim);
  const idx = visionIndexInputs(pack.map((sl): GridThw => [1, sl.h, sl.w]), v.spatialMergeSize);
  const k = n / m;
  return visionGraph(visual, v, fromArray(pixels, [k, m, patchDim], 'float32'), fromArray(idx.positionIds, [k, m, 2], 'int32'), fromArray(idx.segmentIds, [k, m], 'int32'));
}

/** The features of a pack split back into its slices' rows (host arrays, by slice key). */
function splitPack(cfg: Qwen2VLConfig, pack: readonly VisionSlice[], feats: Float32Array, into: Map<string, Float32Array>): void {
  const m = cfg.vision.spatialMergeSize ** 2;
  let off = 0;
  for (const sl of pack) {
    const len = ((sl.h * sl.w) / m) * cfg.text.hiddenSize;
    into.set(sl.key, feats.slice(off, off + len));
    off += len;
  }
}

/**
 * A batch with the vision features of its slices computed ahead (by slice key): with a frozen
 * vision tower (no adapted module there, so no dropout either) they do not depend on the
 * trainable leaves, so GradCache's two passes over a chunk take them from here instead of running
 * the tower twice. The reference runs it twice.
 */
export type FrozenVisionBatch = Qwen2VLBatch & { frozenVision?: ReadonlyMap<string, Float32Array> };

/**
 * Pooled reps of a batch: the vision tower over packs of consecutive slices (each slice its own
 * attention segment, as model.ts runs inference one slice at a time: the same math), the
 * features concatenated in packing order, then the language model. `perSlice(j)`, when given,
 * gives the vision weights of slice j (its own dropout masks), and each slice then runs alone.
 * A batch from the encoder's `prepare` brings a frozen tower's features, used as they are.
 */
const repsOf = (params: Qwen2VLParams, cfg: Qwen2VLConfig, batch: Qwen2VLBatch, normalize: boolean, perSlice?: (slice: number) => Qwen2VLParams['visual']): Tensor => {
  const packed = packBatch(batch, cfg);
  const t = batchTensors(packed, cfg);
  const frozen = (batch as FrozenVisionBatch).frozenVision;
  const d = cfg.text.hiddenSize;
  const slices = visionSlices(batch, cfg);
  let parts: Tensor[];
  if (frozen !== undefined && slices.every((sl) => frozen.has(sl.key))) {
    // Constants: one host array, one graph input.
    const data = concatFloat32(slices.map((sl) => frozen.get(sl.key)!));
    parts = slices.length === 0 ? [] : [fromArray(data, [data.length / d, d], 'float32')];
  } else if (perSlice !== undefined) {
    parts = slices.map((sl, j) => packFeatures(perSlice(j), cfg, [sl]));
  } else {
    parts = visionPacks(slices).map((pack) => packFeatures(params.visual, cfg, pack));
  }
  const features = parts.length === 0 ? reshape(t.pixels, [0, cfg.text.hiddenSize]) : parts.length === 1 ? parts[0]! : concat(parts, 0);
  const out = textGraph(params.model, cfg, t.ids, t.mask, t.positions, t.last, t.scatter, features);
  return normalize ? out.embedding : out.hidden;
};

const slicer = (cfg: Qwen2VLConfig) => ({
  rows: (batch: Qwen2VLBatch) => batch.shape[0],
  sliceRows: (batch: Qwen2VLBatch, start: number, end: number) => sliceQwen2VLBatch(batch, cfg, start, end),
});

/**
 * The trainable encoder of Qwen2-VL with LoRA factors (scaling alpha / r) as the trainable
 * leaves; `params` are the frozen weights (captured). With `dropout` > 0 (the adapter's
 * lora_dropout), a call given a training step's `random` applies peft's LoRA dropout with masks
 * from nn/dropout.ts: the language model's inputs [rows, L, in] per row of the whole batch,
 * vision inputs (packed patches) per chunk. Without `random` (evaluation) nothing is dropped.
 *
 * @example const enc = qwen2VLTrainable(buildParams(host, cfg), cfg, { scaling: 2, normalize: true, dropout: 0.1 });
 * const { grads } = await gradCacheStep(enc, factors, queries, targets, { temperature: 0.02, qChunkSize: 8, pChunkSize: 8, random: { seed: 42, step: 0 } });
 */
export function qwen2VLTrainable(params: Qwen2VLParams, cfg: Qwen2VLConfig, opts: Qwen2VLTrainableOptions & { scaling: number; dropout?: number | undefined }): TrainableEncoder<Qwen2VLLoraFactors, Qwen2VLBatch> {
  const p = opts.dropout ?? 0;
  if (!(p >= 0 && p < 1)) throw new Vlm2VecError('qwen2_vl', `lora_dropout ${p} must be in [0, 1)`);
  const dropout = (r: RepsRandom, part?: number) => (module: string) => rowKeyedDropout(p, { seed: r.seed, step: r.step, side: r.side, module }, r.firstRow, part);
  return {
    ...slicer(cfg),
    reps: (lora, batch, random) => {
      if (!(p > 0 && random !== undefined)) return repsOf(attachLora(params, lora, opts.scaling), cfg, batch, opts.normalize);
      const visionLora = Object.keys(lora).some((k) => k.startsWith('visual.'));
      const withDrop = attachLora(params, lora, opts.scaling, dropout(random));
      // Vision modules with dropout get the masks of their slice: the tree re-attached per slice.
      const perSlice = visionLora ? (j: number) => attachLora(params, lora, opts.scaling, dropout(random, j)).visual : undefined;
      return repsOf(withDrop, cfg, batch, opts.normalize, perSlice);
    },
    prepare: async (lora, batch) => {
      if (Object.keys(lora).some((k) => k.startsWith('visual.'))) return batch; // the tower trains
      const feats = new Map<string, Float32Array>();
      for (const pack of visionPacks(visionSlices(batch, cfg))) splitPack(cfg, pack, (await packFeatures(params.visual, cfg, pack).data()) as Float32Array, feats);
      return { ...batch, frozenVision: feats } as FrozenVisionBatch;
    },
  };
}

/**
 * Full fine-tuning: every weight of the tree (float32) is a trainable leaf.
 *
 * @example const step = await TrainStep.create(qwen2VLFullTrainable(cfg, { normalize: true }), buildParams(host, cfg), opts);
 */
export function qwen2VLFullTrainable(cfg: Qwen2VLConfig, opts: Qwen2VLTrainableOptions): TrainableEncoder<Qwen2VLParams, Qwen2VLBatch> {
  return { ...slicer(cfg), reps: (params, batch) => repsOf(params, cfg, batch, opts.normalize) };
}
