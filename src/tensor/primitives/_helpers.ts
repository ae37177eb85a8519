// Shared checks of the primitives' shape rules (the elementwise table builds its rules from them too).

import { Vlm2VecError } from '../../errors.ts';
import type { DType } from '../dtype.ts';
import { fmtShape } from '../shape.ts';
import type { Shape } from '../shape.ts';
import type { Tensor } from '../tensor.ts';

export function sameDType(op: string, inputs: readonly Tensor[]): DType {
  const d = inputs[0]!.dtype;
  for (const t of inputs) {
    if (t.dtype !== d) {
      throw new Vlm2VecError(op, `dtype mismatch: ${inputs.map((x) => `${x.dtype}${fmtShape(x.shape)}`).join(' and ')}`);
    }
  }
  return d;
}

export function arity(op: string, inputs: readonly Tensor[], n: number): void {
  if (inputs.length !== n) throw new Vlm2VecError(op, `expects ${n} inputs, got ${inputs.length}`);
}

/** Shape rule for ops that never take inputs (their lowering ignores `ins`). */
export function noInputs(op: string, inputs: readonly Tensor[]): void {
  if (inputs.length !== 0) throw new Vlm2VecError(op, `takes no tensor inputs, got ${inputs.length}`);
}

export function leafError(op: string): never {
  throw new Vlm2VecError(op, 'leaf nodes are created directly, not through makeNode');
}

export type { Shape };
