// Tensor constructors: constants from JS data, filled tensors, ranges, seeded random tensors.

import { Vlm2VecError } from '../../errors.ts';
import type { DType, TypedArray } from '../dtype.ts';
import { DTYPES, dtypeOfTyped, holdsDType, typedFromNumbers } from '../dtype.ts';
import type { Dim, Shape } from '../shape.ts';
import { fmtShape, numel } from '../shape.ts';
import { Tensor } from '../tensor.ts';
import { makeNode } from '../ir/node.ts';
import { rng } from '../../util/random.ts';

/** A JS scalar accepted wherever a tensor operand is (it takes the other operand's dtype). */
export type Scalar = number | boolean;
/** Nested JS arrays of numbers/booleans. */
export type NestedArray = number | boolean | readonly NestedArray[];

function checkDType(d: string, op: string): DType {
  if (!(DTYPES as readonly string[]).includes(d)) throw new Vlm2VecError(op, `unknown dtype '${d}', expected one of ${DTYPES.join(', ')}`);
  return d as DType;
}

/** Wraps an existing typed array (not copied) as a constant tensor. */
export function fromArray(data: TypedArray | readonly number[], shape: readonly number[], dtype?: DType): Tensor {
  const d = dtype ?? (Array.isArray(data) ? 'float32' : dtypeOfTyped(data as TypedArray));
  checkDType(d, 'fromArray');
  const arr = Array.isArray(data) || !holdsDType(data as TypedArray, d) ? typedFromNumbers(d, data as ArrayLike<number>) : (data as TypedArray);
  if (numel(shape, 'fromArray') !== arr.length) {
    throw new Vlm2VecError('fromArray', `shape ${fmtShape(shape)} needs ${numel(shape)} elements, data has ${arr.length}`);
  }
  const t = new Tensor('constant', [], { data: arr }, [...shape], d);
  t.value = arr;
  return t;
}

/**
 * A constant tensor from nested JS arrays (shape inferred) or a scalar.
 * @example tensor([[1, 2], [3, 4]]) // float32 [2,2]
 * @example tensor([0, 5, 2], 'int64')
 */
export function tensor(data: NestedArray, dtype: DType = 'float32'): Tensor {
  const shape: number[] = [];
  let probe: NestedArray = data;
  while (Array.isArray(probe)) {
    shape.push(probe.length);
    probe = (probe as readonly NestedArray[])[0] ?? 0;
  }
  const flat: (number | boolean)[] = [];
  const walk = (x: NestedArray, depth: number): void => {
    if (Array.isArray(x)) {
      if (x.length !== shape[depth]) throw new Vlm2VecError('tensor', `ragged nested array at depth ${depth}: expected length ${shape[depth]}, found ${x.length}`);
      for (const y of x as readonly NestedArray[]) walk(y, depth + 1);
    } else {
      if (depth !== shape.length) throw new Vlm2VecError('tensor', `ragged nested array: scalar at depth ${depth}, expected ${shape.length}`);
      flat.push(x as number | boolean);
    }
  };
  walk(data, 0);
  return fromArray(typedFromNumbers(dtype, flat), shape, dtype);
}

/** A rank-0 constant. */
export function scalar(value: number | boolean, dtype: DType = 'float32'): Tensor {
  return fromArray(typedFromNumbers(dtype, [value]), [], dtype);
}

/** A tensor of `shape` filled with `value` (symbolic dims allowed; built lazily in the graph). */
export function full(shape: readonly Dim[], value: number | boolean, dtype: DType = 'float32'): Tensor {
  return makeNode('full', [], { shape: [...shape], value: Number(value), dtype });
}
export function zeros(shape: readonly Dim[], dtype: DType = 'float32'): Tensor {
  return full(shape, 0, dtype);
}
export function ones(shape: readonly Dim[], dtype: DType = 'float32'): Tensor {
  return full(shape, 1, dtype);
}
export function fullLike(t: Tensor, value: number | boolean, dtype: DType = t.dtype): Tensor {
  return full(t.shape, value, dtype);
}
export function zerosLike(t: Tensor, dtype: DType = t.dtype): Tensor {
  return full(t.shape, 0, dtype);
}
export function onesLike(t: Tensor, dtype: DType = t.dtype): Tensor {
  return full(t.shape, 1, dtype);
}

/**
 * Values start, start+step, ... below `end` (1-D). A symbolic `end` requires start 0 and step 1.
 * @example arange(4) // int64 [0,1,2,3]
 * @example arange('T', { dtype: 'float32' })
 */
export function arange(end: Dim, opts: { start?: number; step?: number; dtype?: DType } = {}): Tensor {
  return makeNode('arange', [], { start: opts.start ?? 0, end, step: opts.step ?? 1, dtype: opts.dtype ?? 'int64' });
}


/** Uniform [lo, hi) random constant from a seed. */
export function rand(shape: readonly number[], opts: { seed?: number; lo?: number; hi?: number; dtype?: DType } = {}): Tensor {
  const r = rng(opts.seed ?? 0);
  const lo = opts.lo ?? 0;
  const hi = opts.hi ?? 1;
  const n = numel(shape, 'rand');
  const vals = new Float64Array(n);
  for (let i = 0; i < n; i++) vals[i] = lo + (hi - lo) * r();
  return fromArray(typedFromNumbers(opts.dtype ?? 'float32', vals), shape, opts.dtype ?? 'float32');
}

/** Standard-normal random constant (times `std`) from a seed (Box-Muller). */
export function randn(shape: readonly number[], opts: { seed?: number; std?: number; dtype?: DType } = {}): Tensor {
  const r = rng(opts.seed ?? 0);
  const std = opts.std ?? 1;
  const n = numel(shape, 'randn');
  const vals = new Float64Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = 1 - r();
    const v = r();
    const m = Math.sqrt(-2 * Math.log(u)) * std;
    vals[i] = m * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) vals[i + 1] = m * Math.sin(2 * Math.PI * v);
  }
  return fromArray(typedFromNumbers(opts.dtype ?? 'float32', vals), shape, opts.dtype ?? 'float32');
}

/** A named graph input with a (possibly symbolic) shape; used by jit tracing. */
export function placeholder(name: string, shape: Shape, dtype: DType): Tensor {
  // Not via makeNode: an input has no shape rule, its shape is given.
  return new Tensor('input', [], { name }, [...shape], dtype);
}
