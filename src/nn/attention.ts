// Scaled dot-product attention as a composition, with the three masks the models need:
// causal (text decoder), padding (left- or right-padded batches) and block-diagonal segments
// (the ViT attends within each image / temporal slice only). Masks are bool tensors, true =
// may attend, broadcastable to [B, H, Tq, Tk].
//
// Masked scores (always float32) become float32's most negative finite value, not -inf, as
// transformers' eager path does: a fully masked row (a pad query under causal + padding) then
// gives a uniform average instead of NaN, and NaN can never leak into gradients.
//
// The composition is the reference. Inference graphs may ask for ORT's fused kernels instead
// (`withAttentionKernel('fused', ...)` around the traced function, or `kernel: 'fused'`); the
// composition stays attached to the fused node (fusedOp) as its shape and gradient source, so a
// fused graph still differentiates. Unmasked attention with as many KV heads as query heads
// (the CLIP towers, one Qwen2-VL image slice) runs as com.microsoft MultiHeadAttention, whose CPU
// kernel is a tiled flash attention that never holds a full [Tq, Tk] score matrix; masked or
// grouped-query attention runs as opset-23 Attention with the mask as an additive float bias of
// the same most-negative value (docs/onnxruntime.md, "Fused kernels", has the measurements).

import { Vlm2VecError } from '../errors.ts';
import type { Dim, Tensor } from '../tensor/index.ts';
import {
  arange, cast, countTrue, dimEq, equal, expand, fmtShape, fromArray, fusedOp, lessEqual, logicalAnd, matmul, mul, reshape,
  sliceAxis, softmax, transpose, unsqueeze, where,
} from '../tensor/index.ts';

/** 'composed': primitives only (the reference; training). 'fused': ORT's attention kernels. */
export type AttentionKernel = 'composed' | 'fused';

/** What the models' inference graphs use unless told otherwise (measured: docs/onnxruntime.md). */
export const DEFAULT_ATTENTION_KERNEL: AttentionKernel = 'fused';

let scopedKernel: AttentionKernel = 'composed';

/**
 * Runs `fn` (typically a function being traced by jit) with {@link attention} emitting `kernel`
 * unless a call names its own; restores the previous choice afterwards.
 *
 * @example jit((x) => withAttentionKernel('fused', () => visionTower(p, cfg, x, ...)))
 */
export function withAttentionKernel<T>(kernel: AttentionKernel, fn: () => T): T {
  const prev = scopedKernel;
  scopedKernel = kernel;
  try {
    return fn();
  } finally {
    scopedKernel = prev;
  }
}

/** Most negative finite float32: scores are always float32 when masked. */
const MOST_NEGATIVE_F32 = -3.4028234663852886e38;

/**
 * Causal mask [T, T]: query i may attend key j iff j <= i. T may be symbolic.
 *
 * @example causalMask(x.shape[1]!) // bool [T, T]
 */
export function causalMask(t: Dim): Tensor {
  const idx = arange(t); // [T]
  return lessEqual(unsqueeze(idx, 0), unsqueeze(idx, 1)); // [T(query), T(key)]
}

/**
 * Key-padding mask [B, 1, 1, T] from an HF attention_mask [B, T] (1 = real token, 0 = pad).
 *
 * @example paddingMask(attentionMask) // int64 [B, T] -> bool [B, 1, 1, T]
 */
export function paddingMask(attentionMask: Tensor): Tensor {
  if (attentionMask.rank !== 2) {
    throw new Vlm2VecError('attention', `attention_mask must be [B, T], got ${fmtShape(attentionMask.shape)}`);
  }
  const real = attentionMask.dtype === 'bool' ? attentionMask : equal(attentionMask, 1); // [B, T]
  return unsqueeze(unsqueeze(real, 1), 1);
}

/**
 * Block-diagonal mask [N, N] from segment boundaries `cuSeqlens` = [0, n1, n1+n2, ..., N]
 * (a JS array or an int tensor [S+1]); tokens attend only within their own segment.
 *
 * @example segmentMask([0, 16, 24]) // bool [24, 24], two diagonal blocks
 */
export function segmentMask(cuSeqlens: readonly number[] | Tensor, n?: Dim): Tensor {
  const ids = segmentIds(cuSeqlens, n); // [N]
  return equal(unsqueeze(ids, 1), unsqueeze(ids, 0)); // [N, N]
}

/** Segment index of every token: the number of inner boundaries at or before it. */
function segmentIds(cuSeqlens: readonly number[] | Tensor, n?: Dim): Tensor {
  if (Array.isArray(cuSeqlens)) {
    const cu = cuSeqlens as readonly number[];
    const total = cu[cu.length - 1];
    if (cu.length < 2 || cu[0] !== 0 || total === undefined || cu.some((v, i) => i > 0 && v <= cu[i - 1]!)) {
      throw new Vlm2VecError('attention', `cu_seqlens must start at 0 and increase strictly, got [${cu.join(', ')}]`);
    }
    if (n !== undefined && typeof n === 'number' && n !== total) {
      throw new Vlm2VecError('attention', `cu_seqlens ends at ${total} but the sequence has ${n} tokens`);
    }
    const ids = new Int32Array(total);
    for (let s = 1; s < cu.length; s++) ids.fill(s - 1, cu[s - 1]!, cu[s]!);
    return fromArray(ids, [total], 'int32');
  }
  const cu = cuSeqlens as Tensor;
  if (n === undefined) {
    throw new Vlm2VecError('attention', 'segmentMask with a cu_seqlens tensor needs the token count n');
  }
  const inner = sliceAxis(cu, 0, 1, -1); // [S-1] boundaries between segments
  const pos = arange(n, { dtype: cu.dtype }); // [N]
  return countTrue(lessEqual(unsqueeze(inner, 0), unsqueeze(pos, 1)), -1, false, 'int64'); // [N]
}

/** Lifts a mask broadcastable to [B, H, Tq, Tk] to the grouped layout [B, Hkv, rep, Tq, Tk]. */
function groupMask(mask: Tensor, hkv: number, rep: number): Tensor {
  if (mask.rank <= 2) return mask; // [Tq, Tk] broadcasts as is
  const m4 = mask.rank === 3 ? unsqueeze(mask, 0) : mask; // [B|1, H|1, Tq, Tk]
  if (m4.rank !== 4) {
    throw new Vlm2VecError('attention', `mask must broadcast to [B, H, Tq, Tk], got ${fmtShape(mask.shape)}`);
  }
  const [mb, mh, mq, mk] = m4.shape as [Dim, Dim, Dim, Dim];
  if (mh === 1) return unsqueeze(m4, 2); // [B|1, 1, 1, Tq, Tk]
  if (mh !== hkv * rep) {
    throw new Vlm2VecError('attention', `mask head axis is ${String(mh)}, expected 1 or ${hkv * rep}`);
  }
  return reshape(m4, [mb, hkv, rep, mq, mk]);
}

/** Options of {@link attention}. */
export interface AttentionOptions {
  /** bool, broadcastable to [B, H, Tq, Tk]; true = may attend. */
  mask?: Tensor | undefined;
  /** Adds the causal mask (needs Tq == Tk). */
  causal?: boolean | undefined;
  /** Defaults to 1/sqrt(D). */
  scale?: number | undefined;
  /** Overrides the kernel chosen by {@link withAttentionKernel} (default 'composed'). */
  kernel?: AttentionKernel | undefined;
}

/**
 * softmax(q kᵀ · scale + mask) v with grouped-query attention: q [B, H, Tq, D], k and v
 * [B, Hkv, Tk, D] with H a multiple of Hkv (query head h reads KV head floor(h / (H/Hkv)), as
 * transformers' repeat_kv). Scores and softmax run in float32. Returns [B, H, Tq, D].
 *
 * @example
 * const o = attention(q, k, v, { causal: true, mask: paddingMask(attentionMask) });
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  const kernel = opts.kernel ?? scopedKernel;
  if (kernel === 'fused' && q.dtype === 'float32' && k.dtype === 'float32' && v.dtype === 'float32') return attentionFused(q, k, v, opts);
  return attentionComposed(q, k, v, opts);
}

/** [B, H, T, D] -> [B, T, H·D] (MultiHeadAttention's 3-D layout). */
function toBsd(x: Tensor): Tensor {
  const [b, h, t, d] = x.shape as [Dim, Dim, Dim, number];
  return reshape(transpose(x, 1, 2), [b, t, typeof h === 'number' ? h * d : `${h}*${d}`]);
}

/** [B, T, H·D] -> [B, H, T, D]. */
function toBhtd(x: Tensor, h: number, d: number): Tensor {
  const [b, t] = x.shape as [Dim, Dim];
  return transpose(reshape(x, [b, t, h, d]), 1, 2);
}

/** The mask of `opts` (with the causal one folded in) as a bool tensor, or undefined. */
function combinedMask(tq: Dim, tk: Dim, opts: AttentionOptions): Tensor | undefined {
  let mask = opts.mask;
  if (opts.causal) {
    if (!dimEq(tq, tk)) throw new Vlm2VecError('attention', `causal attention needs Tq == Tk, got ${String(tq)} and ${String(tk)}`);
    const c = causalMask(tq); // [Tq, Tk]
    mask = mask === undefined ? c : logicalAnd(mask, c);
  }
  return mask;
}

/** The same attention through one ORT kernel (see the file comment), the composition as reference. */
function attentionFused(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions): Tensor {
  checkShapes(q, k, v);
  const [, h, tq, d] = q.shape as [Dim, number, Dim, number];
  const hkv = k.shape[1] as number;
  const scale = opts.scale ?? 1 / Math.sqrt(d);
  const mask = combinedMask(tq, k.shape[2]!, opts);
  const plain = { scale, kernel: 'composed' as const };
  if (mask === undefined && h === hkv) {
    const out = fusedOp({
      opType: 'MultiHeadAttention', domain: 'com.microsoft',
      attrs: { num_heads: { kind: 'int', value: h }, scale: { kind: 'float', value: scale } },
      inputs: [toBsd(q), toBsd(k), toBsd(v)],
      reference: (q3, k3, v3) => toBsd(attentionComposed(toBhtd(q3, h, d), toBhtd(k3, h, d), toBhtd(v3, h, d), plain)),
    }); // [B, Tq, H·D]
    return toBhtd(out, h, d);
  }
  // The bias is 0 where attending and float32's most negative value elsewhere: scores plus it
  // round to that value, so masked and fully masked rows behave as in the composition.
  // ORT broadcasts the bias over batch and heads but wants its last two axes to be [Tq, Tk].
  let bias = mask === undefined ? null : where(mask, 0, MOST_NEGATIVE_F32); // broadcastable to [B, H, Tq, Tk]
  if (bias !== null && (bias.rank < 2 || !dimEq(bias.shape[bias.rank - 2]!, tq) || !dimEq(bias.shape[bias.rank - 1]!, k.shape[2]!))) {
    bias = expand(bias, [...bias.shape.slice(0, -2), tq, k.shape[2]!]);
  }
  return fusedOp({
    opType: 'Attention',
    attrs: { scale: { kind: 'float', value: scale } },
    inputs: [q, k, v, bias],
    reference: (q4, k4, v4) => attentionComposed(q4, k4, v4, { ...plain, mask }),
  });
}

function checkShapes(q: Tensor, k: Tensor, v: Tensor): void {
  if (q.rank !== 4 || k.rank !== 4 || v.rank !== 4) {
    throw new Vlm2VecError('attention', `q, k, v must be [B, H, T, D], got ${fmtShape(q.shape)}, ${fmtShape(k.shape)}, ${fmtShape(v.shape)}`);
  }
  const [b, h, tq, d] = q.shape as [Dim, Dim, Dim, Dim];
  const hkv = k.shape[1]!;
  if (typeof h !== 'number' || typeof hkv !== 'number' || h % hkv !== 0) {
    throw new Vlm2VecError('attention', `query heads (${String(h)}) must be a static multiple of KV heads (${String(hkv)})`);
  }
  if (typeof d !== 'number') throw new Vlm2VecError('attention', `head dim must be static, got ${fmtShape(q.shape)}`);
}

/** The composition (the reference of the fused kernels). */
function attentionComposed(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions): Tensor {
  checkShapes(q, k, v);
  const [b, h, tq, d] = q.shape as [Dim, number, Dim, number];
  const hkv = k.shape[1] as number;
  const rep = h / hkv;
  const scale = opts.scale ?? 1 / Math.sqrt(d);
  // GQA without materializing repeat_kv: group the query heads by KV head and let matmul
  // broadcast the KV tensors over the group axis (their gradients are summed back by autodiff).
  const q5 = reshape(q, [b, hkv, rep, tq, d]); // [B, Hkv, rep, Tq, D]
  const k5 = unsqueeze(k, 2); // [B, Hkv, 1, Tk, D]
  const v5 = unsqueeze(v, 2); // [B, Hkv, 1, Tk, D]
  let scores = mul(cast(matmul(q5, transpose(k5)), 'float32'), scale); // [B, Hkv, rep, Tq, Tk]
  let mask = opts.mask;
  if (opts.causal) {
    if (!dimEq(tq, k.shape[2]!)) {
      throw new Vlm2VecError('attention', `causal attention needs Tq == Tk, got ${String(tq)} and ${String(k.shape[2])}`);
    }
    const c = causalMask(tq); // [Tq, Tk]
    mask = mask === undefined ? c : logicalAnd(mask, c);
  }
  if (mask !== undefined) {
    scores = where(groupMask(mask, hkv, rep), scores, MOST_NEGATIVE_F32);
  }
  const probs = cast(softmax(scores, -1), v.dtype); // [B, Hkv, rep, Tq, Tk]
  const out = matmul(probs, v5); // [B, Hkv, rep, Tq, D]
  return reshape(out, [b, h, tq, d]);
}
