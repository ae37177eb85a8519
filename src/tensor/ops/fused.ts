// Fused ONNX kernels with their composition kept as the reference and gradient source.

import { Vlm2VecError } from '../../errors.ts';
import type { OnnxAttr } from '../primitives/types.ts';
import { shapeEq, fmtShape } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { makeNode } from '../ir/node.ts';

export type { OnnxAttr };

export interface FusedSpec {
  /** ONNX operator, e.g. 'RMSNormalization' (opset 23) or 'QuickGelu' (domain 'com.microsoft'). */
  opType: string;
  /** '' (default) for ai.onnx; 'com.microsoft' for ORT contrib ops (imported at version 1). */
  domain?: string;
  /** ONNX attributes, e.g. { epsilon: { kind: 'float', value: 1e-6 } }. */
  attrs?: Record<string, OnnxAttr>;
  /** ONNX inputs in order; null leaves an optional input empty. */
  inputs: readonly (Tensor | null)[];
  /** The same computation from primitives, over the non-null inputs in order. */
  reference: (...xs: Tensor[]) => Tensor;
}

/**
 * A fused ORT kernel whose value and gradient are defined by a composition (the reference).
 * The fused op is what runs; the reference is what autodiff differentiates.
 * @example
 * const y = fusedOp({ opType: 'RMSNormalization', attrs: { epsilon: { kind: 'float', value: 1e-6 }, axis: { kind: 'int', value: -1 } },
 *   inputs: [x, w], reference: (x, w) => rmsNormComposed(x, w) });
 */
export function fusedOp(spec: FusedSpec): Tensor {
  const xs = spec.inputs.filter((t): t is Tensor => t !== null);
  let k = 0;
  const slots = spec.inputs.map((t) => (t === null ? null : k++));
  const reference = spec.reference(...xs);
  if (!reference || typeof reference !== 'object' || !('shape' in reference)) {
    throw new Vlm2VecError('fused', `${spec.opType}: reference must return one Tensor`);
  }
  const node = makeNode('fused', xs, { opType: spec.opType, domain: spec.domain ?? '', onnxAttrs: spec.attrs ?? {}, slots, reference });
  if (!shapeEq(node.shape, reference.shape)) throw new Vlm2VecError('fused', `${spec.opType}: internal shape mismatch ${fmtShape(node.shape)}`);
  return node;
}
