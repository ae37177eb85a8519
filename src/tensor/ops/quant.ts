// Quantized weight matrices (inference only; rules and layouts in primitives/quant.ts and
// docs/quantization.md). A quantized weight is an ordinary float32 [N, K] tensor — a `dequantize`
// node over packed integer constants — so parameter trees, shapes and any other use keep working;
// `linear` (src/nn/linear.ts) recognizes it and multiplies from the packed form instead, and
// `embedding` gathers rows of a quantized table from the packed form.

import { Vlm2VecError } from '../../errors.ts';
import type { QuantAttrs } from '../primitives/types.ts';
import { fmtShape } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { makeNode } from '../ir/node.ts';

export type { QuantAttrs };

/**
 * The float32 [N, K] matrix that quantized constants stand for. int8: `[q int8 [K, N], scale
 * float32 [N]]` (W[n,k] = q[k,n]·scale[n]); q4: `[packed uint8 [N, blocks, bs/2], scales float32
 * [N, blocks], zero points uint8 [N, ⌈blocks/2⌉]]` (MatMulNBits' layout, low nibble first).
 *
 * @example const w = dequantize([q, s], { scheme: 'int8', n: 8, k: 16, blockSize: 0, accuracyLevel: 0 }); // float32 [8, 16]
 */
export function dequantize(quantized: readonly Tensor[], attrs: QuantAttrs): Tensor {
  return makeNode('dequantize', quantized, { ...attrs });
}

/** Whether `w` is a quantized weight (a {@link dequantize} node), so x·Wᵀ can run from the packed form. */
export function isQuantized(w: Tensor): boolean {
  return w.prim === 'dequantize';
}

/**
 * x·Wᵀ for a quantized weight `w` (a {@link dequantize} node), computed from the packed
 * constants: int8 quantizes each row of x to uint8 and runs MatMulInteger (rows never affect
 * each other); 4-bit runs com.microsoft MatMulNBits with `w`'s accuracy level. No gradient:
 * differentiating through it throws.
 *
 * @example const y = quantMatMul(x, w); // x [B, T, K] → [B, T, N]
 */
export function quantMatMul(x: Tensor, w: Tensor): Tensor {
  if (w.prim !== 'dequantize') throw new Vlm2VecError('quantMatMul', `w must be a quantized weight (a dequantize node), found ${w.prim} ${fmtShape(w.shape)}`);
  return makeNode('quantMatMul', [x, ...w.inputs], { ...(w.attrs as QuantAttrs) });
}

/**
 * Rows `ids` of a quantized table `table` (a {@link dequantize} node, [N, K]): the packed rows are
 * gathered first and only they are dequantized, equal bit for bit to gather(table, ids, 0). No
 * gradient: differentiating through it throws.
 *
 * @example const h = quantGather(embedTokens, ids); // ids [B, T] int64 → float32 [B, T, K]
 */
export function quantGather(table: Tensor, ids: Tensor): Tensor {
  if (table.prim !== 'dequantize') throw new Vlm2VecError('quantGather', `table must be a quantized weight (a dequantize node), found ${table.prim} ${fmtShape(table.shape)}`);
  return makeNode('quantGather', [ids, ...table.inputs], { ...(table.attrs as QuantAttrs) });
}
