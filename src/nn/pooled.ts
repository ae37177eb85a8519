// Last-token pooling reads one position per row of the last decoder layer's output, and nothing
// else reads that layer. So the last layer needs K and V at every position but its query,
// attention, o_proj, residual, norm and MLP only at the pooled token of each row: the models'
// decoder layers take a `pooled` [B, 2] (row, token) for it and return [B, 1, D]. These helpers
// keep that variant exactly equal to "full layer, then gather", masks and LoRA dropout included.

import type { Dim, Tensor } from '../tensor/index.ts';
import { arange, gatherND, lessEqual, logicalAnd, reshape, sliceAxis, sub, unsqueeze } from '../tensor/index.ts';
import { attention, paddingMask } from './attention.ts';
import type { LoraDropout } from './dropout.ts';

/**
 * Rows [B, 1, ...] of x [B, T, ...] at the pooled positions `last` [B, 2] (row, token), kept as a
 * length-1 sequence so the rest of a decoder layer runs on them unchanged.
 *
 * @example pooledRows(x, last) // [B, T, D] -> [B, 1, D]
 */
export function pooledRows(x: Tensor, last: Tensor): Tensor {
  return unsqueeze(gatherND(x, last), 1);
}

/**
 * Key mask [B, 1, 1, T] of one query per row at the pooled token `last[:, 1]`: that query's row of
 * the causal + key-padding mask, and with `window` only the keys fewer than `window` positions
 * back (pos − j < window). Built from the position itself, so it is exact whatever the padding
 * side (not "the last token sees everything").
 *
 * @example pooledQueryMask(attentionMask, last) // [B, T] int64, [B, 2] -> bool [B, 1, 1, T]
 */
export function pooledQueryMask(attentionMask: Tensor, last: Tensor, window?: number): Tensor {
  const pos = reshape(sliceAxis(last, 1, 1, 2), [-1, 1, 1, 1]); // [B, 1, 1, 1]
  const keys = arange(attentionMask.shape[1]!, { dtype: last.dtype }); // [T]
  const mask = logicalAnd(paddingMask(attentionMask), lessEqual(keys, pos)); // [B, 1, 1, T]
  return window === undefined ? mask : logicalAnd(mask, lessEqual(sub(pos, keys), window - 1));
}

/**
 * Attention of one query per row, q [B, H, 1, D], against k, v [B, Hkv, T, D] under `mask`
 * [B, 1, 1, T] (pooledQueryMask): the H/Hkv query heads sharing a KV head are run as that head's
 * queries ([B, Hkv, H/Hkv, D], plain attention, no grouped broadcast). Same values; a real GEMM
 * instead of batched 1-row products, whose rounding moved with the batch size (a one-row chunk's
 * LoRA gradients then differed from the whole batch's by ~6e-6 relative instead of ~2e-7).
 *
 * @example pooledAttention(q, k, v, pooledQueryMask(attentionMask, last)) // [B, H, 1, D]
 */
export function pooledAttention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor): Tensor {
  const [b, h, , d] = q.shape as [Dim, number, Dim, number];
  const hkv = k.shape[1] as number;
  return reshape(attention(reshape(q, [b, hkv, h / hkv, d]), k, v, { mask }), [b, h, 1, d]);
}

/**
 * A layer's parameter tree whose LoRA dropouts, asked for a pooled input's mask [B, 1, ...], give
 * the rows at `last` of the mask of the full input [B, T, ...]: masks are keyed by (row, token)
 * (nn/dropout.ts), so the pooled rows are dropped exactly as in the full layer. Inputs that keep
 * all T positions (k/v projections) get their own masks unchanged.
 */
export function withPooledDropout<P>(params: P, last: Tensor, seqLen: Dim): P {
  const wrap = (d: LoraDropout): LoraDropout => ({
    p: d.p,
    keepMask: (shape) => (shape[1] === seqLen ? d.keepMask(shape) : pooledRows(d.keepMask([shape[0]!, seqLen as number, ...shape.slice(2)]), last)),
  });
  const walk = (x: unknown): unknown => {
    if (typeof x !== 'object' || x === null || Object.getPrototypeOf(x) !== Object.prototype) return x; // tensors, arrays of tensors stay
    return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, k === 'lora_dropout' && v !== undefined ? wrap(v as LoraDropout) : walk(v)]));
  };
  return walk(params) as P;
}

/**
 * Runs a decoder's `layers` over h [B, T, D]. Without `last`, every layer in full: [B, T, D] out.
 * With `last` [B, 2], the last layer pooled (`layer(l, x, true)` returns [B, 1, D]) and the pooled
 * rows [B, D] out; with no layers at all, the embeddings' rows at `last`.
 *
 * @example const h = runDecoderLayers(p.layers, embeds, last, (l, x, pooled) => decoderLayer(l, x, pooled ? q : undefined));
 */
export function runDecoderLayers<L>(layers: readonly L[], h: Tensor, last: Tensor | undefined, layer: (l: L, x: Tensor, pooled: boolean) => Tensor): Tensor {
  const n = layers.length;
  const out = layers.reduce((x, l, i) => layer(l, x, last !== undefined && i === n - 1), h);
  if (last === undefined) return out;
  return n === 0 ? gatherND(out, last) : reshape(out, [out.shape[0]!, out.shape[2]!]); // [B, D]
}
