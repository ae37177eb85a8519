// The elementwise primitives as one table, each on a line or three: its shape rule (arity,
// operand kind, output dtype; numpy broadcasting for binary ones), its ONNX lowering (one op)
// and its VJP, side by side. They are all alike, so one screen shows every gradient rule at once
// (as tinygrad's pm_gradient and JAX's lax.py, where a unary primitive and its rules sit on
// adjacent lines); substantial primitives (matmul, slice, gather, reductions, ...) keep a file each.
//
// VJP rules take (n = the output node, n.inputs its operands; g = the output's cotangent; the
// public ops) and are written with those ops, so they can be differentiated again. They may
// return broadcast-shaped cotangents: the autodiff driver sums them down, once. `null` as the
// rule means not differentiable (comparisons, logic); `[null]` means a zero gradient.

import { Vlm2VecError } from '../../errors.ts';
import type { DType } from '../dtype.ts';
import { isFloat } from '../dtype.ts';
import { broadcastShapes } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { arity, sameDType } from './_helpers.ts';
import type { LowerCtx, PrimitiveDef, PrimitiveName, VjpOps } from './types.ts';

/** Operand dtypes a primitive accepts. */
type Kind = 'float' | 'numeric' | 'bool' | 'any';
type Vjp = ((n: Tensor, g: Tensor, ops: VjpOps) => readonly (Tensor | null)[]) | null;
type Lowering = string | ((ctx: LowerCtx, x: string) => string);
interface Entry { arity: 1 | 2; kind: Kind; out: 'same' | 'bool'; onnx: Lowering; vjp: Vjp }

const unary = (onnx: Lowering, kind: Kind, vjp: Vjp): Entry => ({ arity: 1, kind, out: 'same', onnx, vjp });
const binary = (onnx: string, kind: Kind, vjp: Vjp): Entry => ({ arity: 2, kind, out: 'same', onnx, vjp });
/** Comparisons give bool and have no gradient. */
const compare = (onnx: string, kind: Kind = 'numeric'): Entry => ({ arity: 2, kind, out: 'bool', onnx, vjp: null });

/** max/min as PyTorch: all of g to the winning operand, half each on ties. */
const minMaxVjp = (wins: 'greater' | 'less'): Vjp => (n, g, o) => {
  const [a, b] = [n.inputs[0]!, n.inputs[1]!];
  const tie = o.mul(o.cast(o.equal(a, b), g.dtype), 0.5);
  return [o.mul(g, o.add(o.cast(o[wins](a, b), g.dtype), tie)), o.mul(g, o.add(o.cast(o[wins](b, a), g.dtype), tie))];
};

const TABLE = {
  // Binary arithmetic (same dtype both sides).
  add: binary('Add', 'numeric', (_n, g) => [g, g]),
  sub: binary('Sub', 'numeric', (_n, g, o) => [g, o.neg(g)]),
  mul: binary('Mul', 'numeric', (n, g, o) => [o.mul(g, n.inputs[1]!), o.mul(g, n.inputs[0]!)]),
  // (g / b, -g a / b²), written as -(g / b)·out to reuse the quotient.
  div: binary('Div', 'numeric', (n, g, o) => {
    const gb = o.div(g, n.inputs[1]!);
    return [gb, o.neg(o.mul(gb, n))];
  }),
  // da = g b a^(b-1); db = g out log(a), zeroed where a == 0 as PyTorch does (log(0) = -inf
  // would turn 0·-inf into NaN).
  pow: binary('Pow', 'float', (n, g, o) => {
    const [a, b] = [n.inputs[0]!, n.inputs[1]!];
    return [o.mul(g, o.mul(b, o.pow(a, o.sub(b, 1)))), o.where(o.equal(a, 0), 0, o.mul(g, o.mul(n, o.log(a))))];
  }),
  maximum: binary('Max', 'numeric', minMaxVjp('greater')),
  minimum: binary('Min', 'numeric', minMaxVjp('less')),

  // Comparisons and logic → bool, not differentiable.
  equal: compare('Equal', 'any'),
  less: compare('Less'),
  lessEqual: compare('LessOrEqual'),
  greater: compare('Greater'),
  greaterEqual: compare('GreaterOrEqual'),
  logicalAnd: binary('And', 'bool', null),
  logicalOr: binary('Or', 'bool', null),
  logicalNot: unary('Not', 'bool', null),

  // Unary math.
  neg: unary('Neg', 'numeric', (_n, g, o) => [o.neg(g)]),
  exp: unary('Exp', 'float', (n, g, o) => [o.mul(g, n)]),
  log: unary('Log', 'float', (n, g, o) => [o.div(g, n.inputs[0]!)]),
  sqrt: unary('Sqrt', 'float', (n, g, o) => [o.div(g, o.mul(n, 2))]),
  // ONNX has no Rsqrt. VJP: -g out³ / 2.
  rsqrt: unary((ctx, x) => ctx.emit('Reciprocal', [ctx.emit('Sqrt', [x])]), 'float', (n, g, o) => [o.mul(g, o.mul(o.mul(n, o.mul(n, n)), -0.5))]),
  tanh: unary('Tanh', 'float', (n, g, o) => [o.mul(g, o.sub(1, o.mul(n, n)))]),
  sigmoid: unary('Sigmoid', 'float', (n, g, o) => [o.mul(g, o.mul(n, o.sub(1, n)))]),
  // g · 2/√π · exp(-x²).
  erf: unary('Erf', 'float', (n, g, o) => {
    const x = n.inputs[0]!;
    return [o.mul(g, o.mul(o.exp(o.neg(o.mul(x, x))), 2 / Math.sqrt(Math.PI)))];
  }),
  // g sign(x): 0 at 0, as PyTorch.
  abs: unary('Abs', 'numeric', (n, g, o) => [o.mul(g, o.sign(n.inputs[0]!))]),
  // Piecewise constant: a zero gradient, returned as null so nothing is built.
  sign: unary('Sign', 'numeric', () => [null]),
  sin: unary('Sin', 'float', (n, g, o) => [o.mul(g, o.cos(n.inputs[0]!))]),
  cos: unary('Cos', 'float', (n, g, o) => [o.neg(o.mul(g, o.sin(n.inputs[0]!)))]),
  // Identity forward, no gradient.
  stopGradient: unary('Identity', 'any', () => [null]),
} satisfies Partial<Record<PrimitiveName, Entry>>;

export type ElementwiseName = keyof typeof TABLE;

function checkKind(op: string, d: DType, kind: Kind): void {
  const ok = kind === 'any' || (kind === 'float' && isFloat(d)) || (kind === 'numeric' && d !== 'bool') || (kind === 'bool' && d === 'bool');
  if (!ok) throw new Vlm2VecError(op, `expects ${kind === 'numeric' ? 'a numeric' : `a ${kind}`} dtype, got ${d}`);
}

function define(op: string, e: Entry): PrimitiveDef<PrimitiveName> {
  const { onnx } = e;
  return {
    infer(inputs) {
      arity(op, inputs, e.arity);
      const d = e.arity === 2 ? sameDType(op, inputs) : inputs[0]!.dtype;
      checkKind(op, d, e.kind);
      const shape = e.arity === 2 ? broadcastShapes(op, inputs[0]!.shape, inputs[1]!.shape) : inputs[0]!.shape;
      return { shape, dtype: e.out === 'bool' ? 'bool' : d };
    },
    lower: (ctx, ins) => (typeof onnx === 'string' ? ctx.emit(onnx, ins) : onnx(ctx, ins[0]!)),
    vjp: e.vjp,
  };
}

/** The elementwise part of the primitive registry (primitives/index.ts spreads it in). */
export const ELEMENTWISE = Object.fromEntries(
  Object.entries(TABLE).map(([name, e]: [string, Entry]) => [name, define(name, e)]),
) as { [P in ElementwiseName]: PrimitiveDef<P> };
