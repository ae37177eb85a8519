// Linear and embedding layers over HF-named parameter trees (`{ weight, bias? }`, PyTorch layout:
// weight [out, in]) so a checkpoint subtree such as `self_attn.q_proj` plugs in unchanged.

import { Vlm2VecError } from '../errors.ts';
import type { Tensor } from '../tensor/index.ts';
import { applyDropout, type LoraDropout } from './dropout.ts';
import { add, dimEq, div, fmtShape, gather, isQuantized, matmul, mul, quantGather, quantMatMul, sqrt, square, stopGradient, sub, sum, transpose } from '../tensor/index.ts';

/** Parameters of `torch.nn.Linear`, optionally with a LoRA adapter (PEFT's names and layouts). */
export interface LinearParams {
  /** [out, in] */
  weight: Tensor;
  /** [out] (absent for bias-free projections such as o_proj) */
  bias?: Tensor | undefined;
  /** LoRA down-projection, weight [r, in]. With `lora_B` and `lora_scaling`: y += s·(x Aᵀ) Bᵀ. */
  lora_A?: { weight: Tensor } | undefined;
  /** LoRA up-projection, weight [out, r]. */
  lora_B?: { weight: Tensor } | undefined;
  /** alpha / r (PEFT's `scaling`). */
  lora_scaling?: number | undefined;
  /** DoRA's magnitude m [out] (PEFT's `lora_magnitude_vector`): makes the layer DoRA. */
  lora_magnitude_vector?: { weight: Tensor } | undefined;
  /** LoRA dropout on the adapter's input (training forwards only; nn/dropout.ts). */
  lora_dropout?: LoraDropout | undefined;
}

/** Parameters of `torch.nn.Embedding`. */
export interface EmbeddingParams {
  /** [vocab, D] */
  weight: Tensor;
}

/**
 * y = x Wᵀ + b over the last axis (torch.nn.functional.linear).
 *
 * @example
 * const q = linear(params.self_attn.q_proj, x); // x [B, T, 1536] -> [B, T, 1536]
 */
export function linear(p: LinearParams, x: Tensor, name = 'linear'): Tensor {
  if (p.weight.rank !== 2) {
    throw new Vlm2VecError('nn', `${name}.weight: expected [out, in], found ${fmtShape(p.weight.shape)}`);
  }
  // A quantized weight (--dtype int8 / q4) multiplies from its packed form: docs/quantization.md.
  let y = isQuantized(p.weight) ? quantMatMul(x, p.weight) : matmul(x, transpose(p.weight)); // [..., out]
  if (p.lora_magnitude_vector !== undefined) {
    if (p.lora_A === undefined || p.lora_B === undefined) throw new Vlm2VecError('nn', `${name}: a DoRA magnitude needs lora_A and lora_B`);
    const scale = doraScale(p, name);
    if (!dropping(p)) {
      y = mul(add(y, loraDelta(p, x, name)), scale);
      return p.bias === undefined ? y : add(y, p.bias);
    }
    // peft's DoRA with dropout active (DoraLinearVariant.forward: base_result = None): the base
    // output keeps the undropped input, the DoRA terms use the dropped one x̃, whose base product
    // is computed again: y = x Wᵀ + b + (scale − 1)·(x̃ Wᵀ) + scale·s·(x̃ Aᵀ) Bᵀ.
    const xd = applyDropout(x, p.lora_dropout!);
    if (p.bias !== undefined) y = add(y, p.bias);
    const baseDropped = matmul(xd, transpose(p.weight));
    return add(y, add(mul(baseDropped, sub(scale, 1)), mul(loraDelta(p, xd, name), scale)));
  }
  if (p.bias !== undefined) y = add(y, p.bias);
  if (p.lora_A === undefined && p.lora_B === undefined) return y;
  return add(y, loraDelta(p, dropping(p) ? applyDropout(x, p.lora_dropout!) : x, name)); // lora_B(lora_A(dropout(x)))·s
}

const dropping = (p: LinearParams): boolean => p.lora_dropout !== undefined && p.lora_dropout.p > 0;

/**
 * DoRA's per-output scale m / ‖W + s·BA‖_row, the norm detached as PEFT's DoraLinearLayer
 * computes it (`weight_norm.detach()`): with it, y = scale ⊙ (x Wᵀ + s·(x Aᵀ) Bᵀ) + b, which is
 * PEFT's training forward base + (scale − 1)·base_no_bias + scale·s·lora at dropout 0.
 */
function doraScale(p: LinearParams, name: string): Tensor {
  const m = p.lora_magnitude_vector!.weight;
  if (m.rank !== 1 || !dimEq(m.shape[0]!, p.weight.shape[0]!)) {
    throw new Vlm2VecError('nn', `${name}: lora_magnitude_vector ${fmtShape(m.shape)} does not fit weight ${fmtShape(p.weight.shape)}`);
  }
  const merged = add(p.weight, mul(matmul(p.lora_B!.weight, p.lora_A!.weight), p.lora_scaling!)); // [out, in]
  return div(m, stopGradient(sqrt(sum(square(merged), 1)))); // [out]
}

/**
 * The adapter term s·(x Aᵀ) Bᵀ of a LoRA linear layer, computed through the rank-r bottleneck
 * (never as the [out, in] matrix B·A: that would cost a full-weight product per step). Frozen base
 * weights can then stay graph initializers, which ORT pre-packs, while A and B are trained.
 */
function loraDelta(p: LinearParams, x: Tensor, name: string): Tensor {
  const a = p.lora_A?.weight;
  const b = p.lora_B?.weight;
  const s = p.lora_scaling;
  if (a === undefined || b === undefined || typeof s !== 'number' || !Number.isFinite(s)) {
    throw new Vlm2VecError('nn', `${name}: a LoRA adapter needs lora_A.weight, lora_B.weight and a finite lora_scaling`);
  }
  const [out, inn] = p.weight.shape;
  if (a.rank !== 2 || b.rank !== 2 || !dimEq(a.shape[1]!, inn!) || !dimEq(b.shape[0]!, out!) || !dimEq(a.shape[0]!, b.shape[1]!)) {
    throw new Vlm2VecError(
      'nn',
      `${name}: LoRA shapes do not fit weight ${fmtShape(p.weight.shape)}: lora_A.weight ${fmtShape(a.shape)} ` +
        `(expected [r,${String(inn)}]), lora_B.weight ${fmtShape(b.shape)} (expected [${String(out)},r])`,
    );
  }
  return mul(matmul(matmul(x, transpose(a)), transpose(b)), s); // [..., out]
}

/**
 * Row lookup in an embedding table (torch.nn.functional.embedding); gradients scatter-add into
 * the rows that were read. A quantized table (--dtype int8 / q4) gathers its packed rows and
 * dequantizes only those (docs/quantization.md); it has no gradient.
 *
 * @example
 * const h = embedding(params.model.embed_tokens, inputIds); // ids [B, T] int64 -> [B, T, 1536]
 */
export function embedding(p: EmbeddingParams, ids: Tensor): Tensor {
  return isQuantized(p.weight) ? quantGather(p.weight, ids) : gather(p.weight, ids, 0); // [...ids.shape, D]
}
