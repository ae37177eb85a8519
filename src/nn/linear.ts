// Linear and embedding layers over HF-named parameter trees (`{ weight, bias? }`, PyTorch layout:
// weight [out, in]) so a checkpoint subtree such as `self_attn.q_proj` plugs in unchanged.

import { Vlm2VecError } from '../errors.ts';
import type { Tensor } from '../tensor/index.ts';
import { add, fmtShape, gather, matmul, transpose } from '../tensor/index.ts';

/** Parameters of `torch.nn.Linear`. */
export interface LinearParams {
  /** [out, in] */
  weight: Tensor;
  /** [out] (absent for bias-free projections such as o_proj) */
  bias?: Tensor | undefined;
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
  const y = matmul(x, transpose(p.weight)); // [..., out]
  return p.bias === undefined ? y : add(y, p.bias);
}

/**
 * Row lookup in an embedding table (torch.nn.functional.embedding); gradients scatter-add into
 * the rows that were read.
 *
 * @example
 * const h = embedding(params.model.embed_tokens, inputIds); // ids [B, T] int64 -> [B, T, 1536]
 */
export function embedding(p: EmbeddingParams, ids: Tensor): Tensor {
  return gather(p.weight, ids, 0); // [...ids.shape, D]
}
