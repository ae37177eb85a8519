// Host-side packing of a padded Qwen2-VL batch into the arrays the forward (forward.ts) takes:
// position ids (given, or derived per row by ropeIndex), each row's last real token, and the
// vision inputs (pixels of images then videos, per-patch (row, col) and segment ids, and the
// placeholder positions the features are scattered to, as masked_scatter orders them).
// Inference (model.ts) and training (the pure forward under valueAndGrad) pack the same way, so
// the two see the same batch. Everything here is plain typed arrays and checks; no tensors but
// in `batchTensors`.

import { Vlm2VecError } from '../../errors.ts';
import { fromArray } from '../../tensor/index.ts';
import { concatFloat32 } from '../../util/arrays.ts';
import type { Qwen2VLConfig } from './config.ts';
import type { Qwen2VLBatchTensors } from './forward.ts';
import { ropeIndex, type RopeIndexRow } from './rope-index.ts';
import type { GridThw } from './rope.ts';
import { visionIndexInputs } from './vision.ts';

/** A padded batch as the processor + tokenizer produce it. */
export interface Qwen2VLBatch {
  /** [B, L] */
  inputIds: BigInt64Array;
  /** [B, L], 1 = token, 0 = pad (either side). */
  attentionMask: BigInt64Array;
  shape: readonly [number, number];
  /** [3, B, L] (or 1-D [B, L]); computed with {@link ropeIndex} when absent. */
  positionIds?: BigInt64Array | undefined;
  /** Image patches of all rows, concatenated in row order: [ΣN_img, P]. */
  pixelValues?: Float32Array | undefined;
  imageGrids?: readonly GridThw[] | undefined;
  /** Video patches of all rows, concatenated in row order: [ΣN_vid, P]. */
  pixelValuesVideos?: Float32Array | undefined;
  videoGrids?: readonly GridThw[] | undefined;
  /**
   * Images (resp. videos) of each row, in row order. Only the placeholder tokens of rows that
   * have images (videos) take vision features; a row without any keeps a literal `<|image_pad|>`
   * as an ordinary token embedded from the table, as VLM2Vec's Qwen2-VL forward does for its
   * per-row processed batches (a text-only query of WebQA keeps one). Absent: every placeholder
   * token of the batch is a media token (transformers' masked_scatter).
   */
  imagesPerRow?: readonly number[] | undefined;
  videosPerRow?: readonly number[] | undefined;
}

/** The language model's host inputs of a batch. */
export interface PackedText {
  /** [B, L] */
  ids: BigInt64Array;
  /** [B, L] */
  mask: BigInt64Array;
  /** [3, B, L] */
  positions: BigInt64Array;
  /** [B, 2]: (row, index of the row's last real token). */
  last: BigInt64Array;
  shape: readonly [number, number];
}

/** The vision inputs of a batch with media. */
export interface PackedVision {
  /** [N, P]: image patches, then video patches. */
  pixels: Float32Array;
  /** The grids of `pixels`, images then videos. */
  grids: GridThw[];
  /** [K, 2]: (row, token) of each placeholder that takes a feature (K = N / merge²). */
  scatter: BigInt64Array;
}

/** Every host array of the pure forward's batch (forward.ts `Qwen2VLBatchTensors`). */
export interface PackedBatch extends PackedText {
  /** [K, M, P] as [K·M·P] (M = merge² patches per merged token); empty without media. */
  pixels: Float32Array;
  /** [K, M, 2] */
  patchPos: Int32Array;
  /** [K, M]: one id per temporal slice of each grid, so attention stays within a slice. */
  segments: Int32Array;
  /** [K, 2] */
  scatter: BigInt64Array;
  /** K: merged vision tokens (features). */
  numFeatures: number;
}

const patchDimOf = (cfg: Qwen2VLConfig): number => {
  const v = cfg.vision;
  return v.inChannels * v.temporalPatchSize * v.patchSize * v.patchSize;
};

/**
 * Index of each row's last real token: L-1 when every row ends with a token (left padding or
 * none), else Σmask-1 (right padding), as VLM2Vec's pooling does.
 *
 * @example lastTokenIndex(BigInt64Array.from([1n, 1n, 0n, 1n, 1n, 1n]), 2, 3) // [1, 2]
 */
export function lastTokenIndex(mask: BigInt64Array, b: number, l: number): number[] {
  const allLast = Array.from({ length: b }, (_, r) => mask[r * l + l - 1] === 1n).every(Boolean);
  return Array.from({ length: b }, (_, r) => {
    if (allLast) return l - 1;
    let n = 0;
    for (let j = 0; j < l; j++) n += Number(mask[r * l + j]);
    if (n === 0) throw new Vlm2VecError('qwen2_vl', `batch row ${r} has no tokens (attention mask all 0)`);
    return n - 1;
  });
}

/**
 * (row, last token) pairs [B, 2], the gather index of the pooling.
 *
 * @example lastTokenPairs(BigInt64Array.from([1n, 1n, 0n, 1n, 1n, 1n]), 2, 3) // [0n, 1n, 1n, 2n]
 */
export function lastTokenPairs(mask: BigInt64Array, b: number, l: number): BigInt64Array {
  return BigInt64Array.from(lastTokenIndex(mask, b, l).flatMap((j, r) => [BigInt(r), BigInt(j)]));
}

/** Per-row media counts, when given, cover every row and add up to the grids. */
export function checkPerRow(batch: Qwen2VLBatch): void {
  for (const [perRow, grids, what] of [[batch.imagesPerRow, batch.imageGrids, 'imagesPerRow'], [batch.videosPerRow, batch.videoGrids, 'videosPerRow']] as const) {
    if (perRow === undefined) continue;
    const total = perRow.reduce((a, n) => a + n, 0);
    if (perRow.length !== batch.shape[0] || perRow.some((n) => !Number.isInteger(n) || n < 0) || total !== (grids?.length ?? 0)) {
      throw new Vlm2VecError('qwen2_vl', `${what} [${perRow.join(', ')}] must give a count ≥ 0 for each of the ${batch.shape[0]} rows, adding up to the ${grids?.length ?? 0} grid(s)`);
    }
  }
}

/**
 * Splits the batch back into per-row ids and grids for {@link ropeIndex}: by the per-row counts
 * when given, else grids follow the rows' placeholder runs.
 *
 * @example ropeRows(batch, cfg)[1] // { ids: [...row 1's real tokens], imageGrids: [[1, 4, 6]], videoGrids: [] }
 */
export function ropeRows(batch: Qwen2VLBatch, cfg: Qwen2VLConfig): RopeIndexRow[] {
  const [b, l] = batch.shape;
  checkPerRow(batch);
  const m = cfg.vision.spatialMergeSize ** 2;
  const img = [...(batch.imageGrids ?? [])];
  const vid = [...(batch.videoGrids ?? [])];
  const rows: RopeIndexRow[] = [];
  for (let r = 0; r < b; r++) {
    const ids: number[] = [];
    for (let j = 0; j < l; j++) if (batch.attentionMask[r * l + j] === 1n) ids.push(Number(batch.inputIds[r * l + j]));
    const take = (grids: GridThw[], token: number, perRow: readonly number[] | undefined): GridThw[] => {
      if (perRow) return grids.splice(0, perRow[r]!);
      let n = ids.filter((x) => x === token).length;
      const mine: GridThw[] = [];
      while (n > 0 && grids.length > 0) {
        const g = grids.shift()!;
        mine.push(g);
        n -= (g[0] * g[1] * g[2]) / m;
      }
      return mine;
    };
    rows.push({ ids, imageGrids: take(img, cfg.imageTokenId, batch.imagesPerRow), videoGrids: take(vid, cfg.videoTokenId, batch.videosPerRow) });
  }
  return rows;
}

/**
 * The language model's inputs: ids and mask checked against the shape, positions [3, B, L]
 * (given 3-D, given 1-D and repeated on the t/h/w axes, or derived by ropeIndex) and the
 * last-token pairs.
 *
 * @example const { positions, last } = packText({ inputIds, attentionMask, shape: [2, 9] }, cfg);
 */
export function packText(batch: Qwen2VLBatch, cfg: Qwen2VLConfig): PackedText {
  const [b, l] = batch.shape;
  const { inputIds, attentionMask } = batch;
  if (inputIds.length !== b * l || attentionMask.length !== b * l) {
    throw new Vlm2VecError('qwen2_vl', `input_ids (${inputIds.length}) / attention_mask (${attentionMask.length}) do not match the batch shape [${b}, ${l}]`);
  }
  let positions = batch.positionIds ?? ropeIndex(ropeRows(batch, cfg), attentionMask, [b, l], cfg, cfg.vision.spatialMergeSize);
  if (positions.length === b * l) {
    // 1-D positions [B, L]: the same ids on the t, h and w axes (M-RoPE reduces to 1-D rope).
    const p3 = new BigInt64Array(3 * b * l);
    for (let a = 0; a < 3; a++) p3.set(positions, a * b * l);
    positions = p3;
  }
  if (positions.length !== 3 * b * l) throw new Vlm2VecError('qwen2_vl', `position_ids has ${positions.length} values, expected [3, ${b}, ${l}]`);
  return { ids: inputIds, mask: attentionMask, positions, last: lastTokenPairs(attentionMask, b, l), shape: [b, l] };
}

/** Whether the batch carries any image or video (without, placeholders are ordinary tokens). */
export function hasMedia(batch: Qwen2VLBatch): boolean {
  return (batch.imageGrids?.length ?? 0) > 0 || (batch.videoGrids?.length ?? 0) > 0;
}

/**
 * The vision inputs: image then video patches (checked against their grids) and the scatter
 * index. masked_scatter order: all image placeholders row-major, then all video placeholders;
 * with per-row counts only over the rows that have images (videos), as VLM2Vec's forward does.
 *
 * @example const { pixels, grids, scatter } = packVision(batch, cfg); // scatter [K, 2]
 */
export function packVision(batch: Qwen2VLBatch, cfg: Qwen2VLConfig): PackedVision {
  const imageGrids = batch.imageGrids ?? [];
  const videoGrids = batch.videoGrids ?? [];
  const patchDim = patchDimOf(cfg);
  const m = cfg.vision.spatialMergeSize ** 2;
  const count = (gs: readonly GridThw[]) => gs.reduce((a, [t, h, w]) => a + t * h * w, 0);
  const nImg = count(imageGrids);
  const nVid = count(videoGrids);
  const check = (data: Float32Array | undefined, n: number, what: string): Float32Array => {
    const got = data?.length ?? 0;
    if (got !== n * patchDim) {
      throw new Vlm2VecError('qwen2_vl', `${what} has ${got / patchDim} patch rows but its grids need ${n} (rows of ${patchDim} values)`);
    }
    return data ?? new Float32Array(0);
  };
  const pi = check(batch.pixelValues, nImg, 'pixel_values');
  const pv = check(batch.pixelValuesVideos, nVid, 'pixel_values_videos');
  const pixels = pv.length === 0 ? pi : pi.length === 0 ? pv : concatFloat32([pi, pv]);
  const [b, l] = batch.shape;
  checkPerRow(batch);
  const scatter: bigint[] = [];
  for (const [token, need, what, perRow] of [
    [cfg.imageTokenId, nImg / m, 'image', batch.imagesPerRow], [cfg.videoTokenId, nVid / m, 'video', batch.videosPerRow],
  ] as const) {
    const tok = BigInt(token);
    let found = 0;
    for (let r = 0; r < b; r++) {
      if (perRow && perRow[r] === 0) continue;
      for (let j = 0; j < l; j++) {
        if (batch.inputIds[r * l + j] === tok && batch.attentionMask[r * l + j] === 1n) {
          scatter.push(BigInt(r), BigInt(j));
          found++;
        }
      }
    }
    if (found !== need) {
      throw new Vlm2VecError('qwen2_vl', `the batch has ${found} ${what} placeholder tokens but its ${what} grids give ${need} features`);
    }
  }
  return { pixels, grids: [...imageGrids, ...videoGrids], scatter: BigInt64Array.from(scatter) };
}

/**
 * The whole batch for the pure forward: {@link packText}, and with media {@link packVision} plus
 * the per-patch (row, col) and segment ids of every grid at once (one segment per temporal slice
 * of each grid, so the one vision-tower call attends within slices as the per-slice runtime does).
 *
 * @example const out = qwen2VLForward(params, cfg, batchTensors(packBatch(batch, cfg), cfg));
 */
export function packBatch(batch: Qwen2VLBatch, cfg: Qwen2VLConfig): PackedBatch {
  const text = packText(batch, cfg);
  if (!hasMedia(batch)) {
    return { ...text, pixels: new Float32Array(0), patchPos: new Int32Array(0), segments: new Int32Array(0), scatter: new BigInt64Array(0), numFeatures: 0 };
  }
  const v = packVision(batch, cfg);
  const idx = visionIndexInputs(v.grids, cfg.vision.spatialMergeSize);
  return { ...text, pixels: v.pixels, patchPos: idx.positionIds, segments: idx.segmentIds, scatter: v.scatter, numFeatures: v.scatter.length / 2 };
}

/**
 * The packed arrays as the forward's tensors (shapes in forward.ts's file comment).
 *
 * @example const t = batchTensors(packBatch(batch, cfg), cfg); t.pixels.shape // [K, 4, P]
 */
export function batchTensors(p: PackedBatch, cfg: Qwen2VLConfig): Qwen2VLBatchTensors {
  const [b, l] = p.shape;
  const k = p.numFeatures;
  const mm = cfg.vision.spatialMergeSize ** 2;
  return {
    ids: fromArray(p.ids, [b, l], 'int64'),
    mask: fromArray(p.mask, [b, l], 'int64'),
    positions: fromArray(p.positions, [3, b, l], 'int64'),
    last: fromArray(p.last, [b, 2], 'int64'),
    scatter: fromArray(p.scatter, [k, 2], 'int64'),
    pixels: fromArray(p.pixels, [k, mm, patchDimOf(cfg)], 'float32'),
    patchPos: fromArray(p.patchPos, [k, mm, 2], 'int32'),
    segments: fromArray(p.segments, [k, mm], 'int32'),
  };
}
