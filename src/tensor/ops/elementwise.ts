// Elementwise ops (numpy broadcasting) and their common compositions.

import { Vlm2VecError } from '../../errors.ts';
import type { DType } from '../dtype.ts';
import { isFloat } from '../dtype.ts';
import type { PrimitiveName } from '../primitives/types.ts';
import { Tensor } from '../tensor.ts';
import { makeNode } from '../ir/node.ts';
import type { Scalar } from './create.ts';
import { scalar } from './create.ts';

type Operand = Tensor | Scalar;

/** Turns JS scalars into rank-0 constants of the other operand's dtype. */
function lift2(op: string, a: Operand, b: Operand): [Tensor, Tensor] {
  if (a instanceof Tensor && b instanceof Tensor) return [a, b];
  if (a instanceof Tensor) return [a, scalar(b as Scalar, a.dtype)];
  if (b instanceof Tensor) return [scalar(a as Scalar, b.dtype), b];
  throw new Vlm2VecError(op, 'needs at least one tensor operand (both were JS scalars)');
}

function bin(p: PrimitiveName & ('add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum' | 'equal' | 'less' | 'lessEqual' | 'greater' | 'greaterEqual' | 'logicalAnd' | 'logicalOr'), a: Operand, b: Operand): Tensor {
  const [x, y] = lift2(p, a, b);
  return makeNode(p, [x, y], {});
}

/** a + b @example add(x, 1) */
export const add = (a: Operand, b: Operand): Tensor => bin('add', a, b);
/** a - b */
export const sub = (a: Operand, b: Operand): Tensor => bin('sub', a, b);
/** a * b */
export const mul = (a: Operand, b: Operand): Tensor => bin('mul', a, b);
/** a / b (integer division truncates, as in ONNX) */
export const div = (a: Operand, b: Operand): Tensor => bin('div', a, b);
/** a ** b (float) */
export const pow = (a: Operand, b: Operand): Tensor => bin('pow', a, b);
/** Elementwise max; the gradient splits evenly on ties (as PyTorch). */
export const maximum = (a: Operand, b: Operand): Tensor => bin('maximum', a, b);
/** Elementwise min; the gradient splits evenly on ties (as PyTorch). */
export const minimum = (a: Operand, b: Operand): Tensor => bin('minimum', a, b);
/** a == b -> bool */
export const equal = (a: Operand, b: Operand): Tensor => bin('equal', a, b);
/** a != b -> bool */
export const notEqual = (a: Operand, b: Operand): Tensor => logicalNot(equal(a, b));
/** a < b -> bool */
export const less = (a: Operand, b: Operand): Tensor => bin('less', a, b);
/** a <= b -> bool */
export const lessEqual = (a: Operand, b: Operand): Tensor => bin('lessEqual', a, b);
/** a > b -> bool */
export const greater = (a: Operand, b: Operand): Tensor => bin('greater', a, b);
/** a >= b -> bool */
export const greaterEqual = (a: Operand, b: Operand): Tensor => bin('greaterEqual', a, b);
/** a && b (bool) */
export const logicalAnd = (a: Operand, b: Operand): Tensor => bin('logicalAnd', a, b);
/** a || b (bool) */
export const logicalOr = (a: Operand, b: Operand): Tensor => bin('logicalOr', a, b);
/** !a (bool) */
export const logicalNot = (a: Tensor): Tensor => makeNode('logicalNot', [a], {});

export const neg = (x: Tensor): Tensor => makeNode('neg', [x], {});
export const exp = (x: Tensor): Tensor => makeNode('exp', [x], {});
export const log = (x: Tensor): Tensor => makeNode('log', [x], {});
export const sqrt = (x: Tensor): Tensor => makeNode('sqrt', [x], {});
/** 1 / sqrt(x) */
export const rsqrt = (x: Tensor): Tensor => makeNode('rsqrt', [x], {});
export const tanh = (x: Tensor): Tensor => makeNode('tanh', [x], {});
export const sigmoid = (x: Tensor): Tensor => makeNode('sigmoid', [x], {});
export const erf = (x: Tensor): Tensor => makeNode('erf', [x], {});
export const abs = (x: Tensor): Tensor => makeNode('abs', [x], {});
/** -1, 0 or 1 (zero gradient) */
export const sign = (x: Tensor): Tensor => makeNode('sign', [x], {});
export const sin = (x: Tensor): Tensor => makeNode('sin', [x], {});
export const cos = (x: Tensor): Tensor => makeNode('cos', [x], {});

/**
 * cond ? a : b with broadcasting over all three (cond is bool; two JS scalars give float32).
 * @example where(mask, scores, -1e9)
 */
export function where(cond: Tensor, a: Operand, b: Operand): Tensor {
  // Two JS scalars: float32, the common case of building a mask of scores.
  const [x, y] = a instanceof Tensor || b instanceof Tensor ? lift2('where', a, b) : [scalar(a, 'float32'), scalar(b, 'float32')];
  return makeNode('where', [cond, x, y], {});
}

/** Converts the element type (float->int truncates toward zero, as ONNX Cast). @example cast(mask, 'float32') */
export function cast(x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return x;
  return makeNode('cast', [x], { dtype });
}

/** Identity in the forward pass; blocks gradients. @example sub(x, stopGradient(max(x, -1, true))) */
export function stopGradient(x: Tensor): Tensor {
  return makeNode('stopGradient', [x], {});
}

/** x * x */
export const square = (x: Tensor): Tensor => mul(x, x);
/** 1 / x */
export const reciprocal = (x: Tensor): Tensor => div(scalar(1, x.dtype), x);
/** max(x, 0) */
export const relu = (x: Tensor): Tensor => maximum(x, 0);
/** x * sigmoid(x) (SiLU / swish) */
export const silu = (x: Tensor): Tensor => mul(x, sigmoid(x));
/** Exact GELU: 0.5 x (1 + erf(x / sqrt 2)) (torch.nn.functional.gelu default). */
export const gelu = (x: Tensor): Tensor => mul(mul(x, 0.5), add(erf(mul(x, Math.SQRT1_2)), 1));
/** GELU, tanh approximation (gelu_pytorch_tanh). */
export function geluTanh(x: Tensor): Tensor {
  const inner = mul(add(x, mul(pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
  return mul(mul(x, 0.5), add(tanh(inner), 1));
}
/** x * sigmoid(1.702 x) (CLIP's QuickGELU). */
export const quickGelu = (x: Tensor): Tensor => mul(x, sigmoid(mul(x, 1.702)));
/** Clamps into [lo, hi] (either bound optional). */
export function clamp(x: Tensor, lo?: number, hi?: number): Tensor {
  let y = x;
  if (lo !== undefined) y = maximum(y, lo);
  if (hi !== undefined) y = minimum(y, hi);
  return y;
}

export function requireFloat(op: string, x: Tensor): void {
  if (!isFloat(x.dtype)) throw new Vlm2VecError(op, `expects a float tensor, got ${x.dtype}`);
}
