// Phi-3-V's embedding math as pure functions of (params, config, batch tensors), the reference's
// modeling_phi3_v.py + image_embedding_phi3_v.py as VLM2Vec runs them (eager attention):
//
// Image embedding (Phi3ImageEmbedding.hd_feature_transform, order 'sub_glb'):
//   crops [N, 3, 336, 336] → CLIP hidden_states[layer_idx] without CLS [N, 576, C]
//   → 2×2 merge per crop [N, 144, 4C] (channel index (dy·2 + dx)·C + c)
//   → per image: the sub-crops tiled (rows·12) × (cols·12) with sub_GN after every row, glb_GN,
//     then the global view 12 × 12 with sub_GN after every row
//   → img_projection: Linear(4C, D), GELU (erf), Linear(D, D).
// The arrangement is a gather over [merged tokens; glb_GN; sub_GN] with indices the host computes
// (imageTokenOrder), so the graph has no per-image shapes.
//
// Language model (Phi3VModel, Phi3DecoderLayer): token embeddings with the image features written
// at the placeholder positions, L × (RMSNorm → fused qkv_proj → LongRoPE → GQA causal attention
// with key padding and the sliding window → o_proj, residual; RMSNorm → fused gate_up_proj →
// up · silu(gate) → down_proj, residual), final RMSNorm, each row's last real token.
// Positions are 0…T−1 for every row (right padding). LongRoPE takes the long factors when the
// padded batch is longer than original_max_position_embeddings, as the reference decides
// (max(position_ids) + 1), so in such a batch a short row gets other values than alone.
// The last layer runs its query side (q, attention, o_proj, MLP) for the pooled token of each row
// only: nothing reads the other positions' outputs (phi3DecoderLayer, `pooled`).

import { applyRope, attention, embedding, gelu, linear, paddingMask, pooledAttention, pooledQueryMask, pooledRows, rmsNorm, runDecoderLayers, silu, withPooledDropout, type Rotary } from '../../nn/index.ts';
import type { Dim, Tensor } from '../../tensor/index.ts';
import {
  add, arange, cast, concat, cos, dimSize, fromArray, gather, gatherND, greater, l2Normalize, lessEqual, logicalAnd, mul,
  permute, reshape, scatterND, sin, sliceAxis, sub, transpose, unsqueeze, where,
} from '../../tensor/index.ts';
import { clipVisionFeatures } from '../clip-vision/index.ts';
import type { Phi3TextConfig, Phi3VConfig } from './config.ts';
import type { Phi3DecoderLayerParams, Phi3VImageParams, Phi3VParams } from './weights.ts';

/** Pooled hidden states [B, D] and their unit vectors. */
export interface PooledTensors {
  hidden: Tensor;
  embedding: Tensor;
}

/** Crop grid of one image (image_sizes / 336). */
export interface CropGrid {
  rows: number;
  cols: number;
}

/**
 * Gather indices [K] into [merged tokens of all crops (N·144); glb_GN; sub_GN] giving each image's
 * feature sequence in the reference's 'sub_glb' order, images one after another. Crops are
 * numbered as the batch lays them out: per image the global view, then its crops row-major.
 *
 * @example imageTokenOrder([{ rows: 1, cols: 1 }]).length // 1·12·13 + 1 + 12·13 = 313
 */
export function imageTokenOrder(grids: readonly CropGrid[], tokensPerSide = 12): BigInt64Array {
  const s = tokensPerSide;
  const perCrop = s * s;
  const totalCrops = grids.reduce((a, g) => a + 1 + g.rows * g.cols, 0);
  const glb = BigInt(totalCrops * perCrop);
  const subGN = glb + 1n;
  const out: bigint[] = [];
  let base = 0; // crop index of this image's global view
  for (const { rows, cols } of grids) {
    for (let y = 0; y < rows * s; y++) {
      for (let x = 0; x < cols * s; x++) {
        const crop = base + 1 + Math.trunc(y / s) * cols + Math.trunc(x / s);
        out.push(BigInt(crop * perCrop + (y % s) * s + (x % s)));
      }
      out.push(subGN);
    }
    out.push(glb);
    for (let y = 0; y < s; y++) {
      for (let x = 0; x < s; x++) out.push(BigInt(base * perCrop + y * s + x));
      out.push(subGN);
    }
    base += 1 + rows * cols;
  }
  return BigInt64Array.from(out);
}

/**
 * Projected image features [K, D] of the crops of a batch (pixels [N, 3, 336, 336]) in the order
 * `order` [K] (imageTokenOrder) gives.
 *
 * @example const feats = imageFeatures(params.model.vision_embed_tokens, cfg, pixels, order);
 */
export function imageFeatures(p: Phi3VImageParams, cfg: Phi3VConfig, pixels: Tensor, order: Tensor): Tensor {
  const C = cfg.image.imageDimOut;
  const s = cfg.image.tokensPerSide;
  const n = pixels.shape[0] as Dim;
  const feats = clipVisionFeatures(p.img_processor.vision_model, cfg.vision, pixels, { layer: cfg.image.layerIdx, strategy: 'default' }); // [N, 4s², C]
  const merged = reshape(permute(reshape(feats, [n, s, 2, s, 2, C]), [0, 1, 3, 2, 4, 5]), [-1, 4 * C]); // [N·s², 4C]
  const table = concat([merged, reshape(p.glb_GN, [1, 4 * C]), reshape(p.sub_GN, [1, 4 * C])], 0); // [N·s² + 2, 4C]
  const picked = gather(table, order, 0); // [K, 4C]
  const proj = p.img_projection;
  return linear(proj['2'], gelu(linear(proj['0'], picked, 'img_projection.0')), 'img_projection.2'); // [K, D]
}

/** LongRoPE's inverse frequencies 1 / (factor · θ^(2k/d)) in float32, as the reference computes them. */
function invFreq(t: Phi3TextConfig, factors: readonly number[] | undefined): Float32Array {
  const d = t.headDim;
  const out = new Float32Array(d / 2);
  for (let k = 0; k < d / 2; k++) {
    const base = Math.fround(t.ropeTheta ** Math.fround((2 * k) / d));
    out[k] = Math.fround(1 / (factors === undefined ? base : Math.fround(Math.fround(factors[k]!) * base)));
  }
  return out;
}

/**
 * cos/sin tables [T, headDim] for positions 0…T−1, with LongRoPE's short or long factors chosen
 * by T (the padded length) and its attention factor applied.
 */
export function phi3Rotary(t: Phi3TextConfig, seqLen: Dim, lengthOf: Tensor): Rotary {
  const rs = t.ropeScaling;
  let inv = fromArray(invFreq(t, rs?.shortFactor), [t.headDim / 2]);
  if (rs) {
    const long = fromArray(invFreq(t, rs.longFactor), [t.headDim / 2]);
    inv = where(greater(dimSize(lengthOf, 1, 'int64'), t.originalMaxPositionEmbeddings), long, inv);
  }
  const ang = mul(unsqueeze(cast(arange(seqLen), 'float32'), -1), inv); // [T, d/2]
  const emb = concat([ang, ang], -1); // [T, d]
  const f = Math.fround(rs?.attentionFactor ?? 1);
  return f === 1 ? { cos: cos(emb), sin: sin(emb) } : { cos: mul(cos(emb), f), sin: mul(sin(emb), f) };
}

/**
 * The attention mask [B, 1, T, T] besides causality: key padding and, with a sliding window,
 * keys at most `window` positions back (transformers' 4-D causal mask with sliding_window).
 */
export function phi3AttentionMask(t: Phi3TextConfig, attentionMask: Tensor, seqLen: Dim): Tensor {
  const pad = paddingMask(attentionMask); // [B, 1, 1, T]
  if (t.slidingWindow === undefined) return pad;
  const idx = arange(seqLen); // [T]
  const near = lessEqual(sub(unsqueeze(idx, 1), unsqueeze(idx, 0)), t.slidingWindow); // [Tq, Tk]: i − j ≤ window
  return logicalAnd(pad, near); // [B, 1, T, T]
}

/** The query side of a pooled last layer: the pooled tokens [B, 2], their rope angles and key mask. */
export interface Phi3PooledQuery {
  last: Tensor;
  /** cos/sin [B, 1, 1, hd] at each row's pooled position. */
  rot: Rotary;
  /** [B, 1, 1, T] (pooledQueryMask). */
  mask: Tensor;
}

/**
 * One Phi3DecoderLayer (eager attention, no dropout at inference). With `pooled`, only the pooled
 * token of each row gets a query, attention, o_proj and MLP: [B, 1, D] out. K and V still cover
 * every position; the fused qkv_proj does too (its q columns for other rows are unused, a third
 * of it at Phi-3.5's widths; splitting the packed weight is not worth a second code path).
 */
export function phi3DecoderLayer(layer: Phi3DecoderLayerParams, t: Phi3TextConfig, x: Tensor, rot: Rotary, mask: Tensor,
  pooled?: Phi3PooledQuery): Tensor {
  const [b, len] = x.shape as [Dim, Dim];
  const p = pooled === undefined ? layer : withPooledDropout(layer, pooled.last, len); // LoRA dropout masks of the full layer
  const hd = t.headDim;
  const nq = t.numAttentionHeads * hd;
  const nkv = t.numKeyValueHeads * hd;
  const tq: Dim = pooled === undefined ? len : 1;
  const at = (y: Tensor): Tensor => (pooled === undefined ? y : pooledRows(y, pooled.last)); // [B, tq, ...]
  const heads = (y: Tensor, n: number, l: Dim): Tensor => transpose(reshape(y, [b, l, n, hd]), 1, 2); // [B, n, l, hd]
  const qkv = linear(p.self_attn.qkv_proj, rmsNorm(p.input_layernorm, x, t.rmsNormEps), 'qkv_proj'); // [B, T, nq + 2nkv]
  const q = applyRope(heads(sliceAxis(at(qkv), -1, 0, nq), t.numAttentionHeads, tq), pooled?.rot ?? rot);
  const k = applyRope(heads(sliceAxis(qkv, -1, nq, nq + nkv), t.numKeyValueHeads, len), rot);
  const v = heads(sliceAxis(qkv, -1, nq + nkv, nq + 2 * nkv), t.numKeyValueHeads, len);
  const o = pooled === undefined ? attention(q, k, v, { causal: true, mask }) : pooledAttention(q, k, v, pooled.mask); // [B, H, tq, hd]
  const h = add(at(x), linear(p.self_attn.o_proj, reshape(transpose(o, 1, 2), [b, tq, nq]), 'o_proj'));
  const gu = linear(p.mlp.gate_up_proj, rmsNorm(p.post_attention_layernorm, h, t.rmsNormEps), 'gate_up_proj'); // [B, tq, 2I]
  const I = t.intermediateSize;
  const act = mul(sliceAxis(gu, -1, I, 2 * I), silu(sliceAxis(gu, -1, 0, I))); // up · silu(gate)
  return add(h, linear(p.mlp.down_proj, act, 'down_proj'));
}

/** Token embeddings [B, T, D] in float32; a float16 table casts only the gathered rows. */
function embedTokens(table: { weight: Tensor }, ids: Tensor): Tensor {
  return table.weight.dtype === 'float16' ? cast(gather(table.weight, ids, 0), 'float32') : embedding(table, ids);
}

/**
 * The language model over ids [B, T] (placeholders already 0) with image `features` [K, D]
 * written at `scatter` [K, 2], pooled at `last` [B, 2]: hidden [B, D] and its unit vector.
 */
export function textGraph(p: Phi3VParams['model'], cfg: Phi3VConfig, ids: Tensor, mask: Tensor, last: Tensor, scatter: Tensor,
  features: Tensor): PooledTensors {
  const t = cfg.text;
  const len = ids.shape[1] as Dim;
  const h = scatterND(embedTokens(p.embed_tokens, ids), scatter, features); // [B, T, D]
  const r = phi3Rotary(t, len, ids);
  const rot = { cos: unsqueeze(unsqueeze(r.cos, 0), 0), sin: unsqueeze(unsqueeze(r.sin, 0), 0) }; // [1, 1, T, hd]
  const m = phi3AttentionMask(t, mask, len);
  // The last layer's pooled queries: rope angles at each row's position (the table is [T, hd]),
  // and the causal + padding (+ window: i − j ≤ window) row of the mask at that position.
  const pos = reshape(sliceAxis(last, 1, 1, 2), [-1]); // [B]
  const at = (x: Tensor): Tensor => unsqueeze(unsqueeze(gather(x, pos, 0), 1), 1); // [B, 1, 1, hd]
  const pooled: Phi3PooledQuery = {
    last,
    rot: { cos: at(r.cos), sin: at(r.sin) },
    mask: pooledQueryMask(mask, last, t.slidingWindow === undefined ? undefined : t.slidingWindow + 1),
  };
  const rows = runDecoderLayers(p.layers, h, last, (layer, x, isPooled) => phi3DecoderLayer(layer, t, x, rot, m, isPooled ? pooled : undefined)); // [B, D]
  const hidden = rmsNorm(p.norm, rows, t.rmsNormEps); // [B, D]
  return { hidden, embedding: l2Normalize(hidden, -1, 1e-12) };
}
