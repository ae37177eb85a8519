// Shared building blocks for primitive definitions (shape rules and lowerings that many
// elementwise primitives have in common). Each primitive still lives in its own file.

import { Vlm2VecError } from '../../errors.ts';
import type { DType } from '../dtype.ts';
import { isFloat } from '../dtype.ts';
import { broadcastShapes, fmtShape } from '../shape.ts';
import type { Shape } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import type { NodeOf, PrimitiveDef, PrimitiveName } from './types.ts';

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

type Kind = 'float' | 'numeric' | 'bool' | 'any';
function checkKind(op: string, d: DType, kind: Kind): void {
  const ok = kind === 'any' || (kind === 'float' && isFloat(d)) || (kind === 'numeric' && d !== 'bool') || (kind === 'bool' && d === 'bool');
  if (!ok) throw new Vlm2VecError(op, `expects ${kind === 'numeric' ? 'a numeric' : `a ${kind}`} dtype, got ${d}`);
}

/** Elementwise binary primitive with broadcasting. */
export function binaryDef<P extends PrimitiveName>(
  op: string,
  onnxOp: string,
  kind: Kind,
  out: 'same' | 'bool',
  vjp: ((node: NodeOf<P>, g: Tensor) => readonly (Tensor | null)[]) | null,
): PrimitiveDef<P> {
  return {
    infer(inputs) {
      arity(op, inputs, 2);
      const d = sameDType(op, inputs);
      checkKind(op, d, kind);
      return { shape: broadcastShapes(op, inputs[0]!.shape, inputs[1]!.shape), dtype: out === 'bool' ? 'bool' : d };
    },
    lower: (ctx, ins) => ctx.emit(onnxOp, ins),
    vjp,
  };
}

/** Elementwise unary primitive. */
export function unaryDef<P extends PrimitiveName>(
  op: string,
  onnxOp: string | ((ctx: Parameters<PrimitiveDef<P>['lower']>[0], x: string) => string),
  kind: Kind,
  vjp: ((node: NodeOf<P>, g: Tensor) => readonly (Tensor | null)[]) | null,
): PrimitiveDef<P> {
  return {
    infer(inputs) {
      arity(op, inputs, 1);
      checkKind(op, inputs[0]!.dtype, kind);
      return { shape: inputs[0]!.shape, dtype: inputs[0]!.dtype };
    },
    lower: (ctx, ins) => (typeof onnxOp === 'string' ? ctx.emit(onnxOp, ins) : onnxOp(ctx, ins[0]!)),
    vjp,
  };
}

/** Shape rule for ops that never take inputs (their lowering ignores `ins`). */
export function noInputs(op: string, inputs: readonly Tensor[]): void {
  if (inputs.length !== 0) throw new Vlm2VecError(op, `takes no tensor inputs, got ${inputs.length}`);
}

export function leafError(op: string): never {
  throw new Vlm2VecError(op, 'leaf nodes are created directly, not through makeNode');
}

export type { Shape };
