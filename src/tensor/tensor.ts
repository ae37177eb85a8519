// The lazy Tensor: a node of the graph IR. Ops build nodes synchronously; only `data()` (and
// `realize`) cross the async boundary by compiling the pending graph into a cached ORT session.

import { Vlm2VecError } from '../errors.ts';
import type { DType, TypedArray } from './dtype.ts';
import { typedToNumbers } from './dtype.ts';
import type { Dim, Shape } from './shape.ts';
import { fmtShape } from './shape.ts';
import type { PrimAttrs, PrimitiveDef, PrimitiveName } from './primitives/types.ts';
import { PRIMITIVES } from './primitives/index.ts';
import * as ops from './ops/index.ts';
import type { Scalar, SliceSpec } from './ops/index.ts';
import { realize } from './runtime/eager.ts';

let nextId = 0;

/**
 * A lazy n-dimensional array. Construct with `tensor(...)`, `zeros(...)`, etc.; combine with ops;
 * read with `await t.data()`.
 *
 * @example
 * const y = tensor([[1, 2], [3, 4]]).matmul(tensor([[1], [1]])); // [2,1], nothing computed yet
 * await y.data(); // Float32Array [3, 7]
 */
export class Tensor {
  /** Unique id (creation order); used for stable graph dumps. */
  readonly id: number;
  /** Concrete value, once realized (or from construction for constants). */
  value: TypedArray | undefined;

  constructor(
    readonly prim: PrimitiveName,
    readonly inputs: readonly Tensor[],
    readonly attrs: PrimAttrs[PrimitiveName],
    readonly shape: Shape,
    readonly dtype: DType,
  ) {
    this.id = nextId++;
  }

  get rank(): number {
    return this.shape.length;
  }

  /** Realizes this tensor (compiling and running its pending graph) and returns its elements. */
  async data(): Promise<TypedArray> {
    if (this.value === undefined) await realize([this]);
    return this.value!;
  }

  /** The elements as JS numbers (int64 via Number, float16 decoded, bool as 0/1). */
  async toArray(): Promise<number[]> {
    return typedToNumbers(this.dtype, await this.data());
  }

  /** The single element of a one-element tensor. */
  async item(): Promise<number> {
    const a = await this.toArray();
    if (a.length !== 1) throw new Vlm2VecError('tensor', `item() needs one element, tensor has shape ${fmtShape(this.shape)}`);
    return a[0]!;
  }

  toString(): string {
    return `Tensor(${this.prim}, ${this.dtype}${fmtShape(this.shape)})`;
  }

  add(o: Tensor | Scalar): Tensor { return ops.add(this, o); }
  sub(o: Tensor | Scalar): Tensor { return ops.sub(this, o); }
  mul(o: Tensor | Scalar): Tensor { return ops.mul(this, o); }
  div(o: Tensor | Scalar): Tensor { return ops.div(this, o); }
  pow(o: Tensor | Scalar): Tensor { return ops.pow(this, o); }
  neg(): Tensor { return ops.neg(this); }
  exp(): Tensor { return ops.exp(this); }
  log(): Tensor { return ops.log(this); }
  sqrt(): Tensor { return ops.sqrt(this); }
  rsqrt(): Tensor { return ops.rsqrt(this); }
  tanh(): Tensor { return ops.tanh(this); }
  sigmoid(): Tensor { return ops.sigmoid(this); }
  abs(): Tensor { return ops.abs(this); }
  square(): Tensor { return ops.square(this); }
  matmul(o: Tensor): Tensor { return ops.matmul(this, o); }
  cast(dtype: DType): Tensor { return ops.cast(this, dtype); }
  reshape(shape: readonly Dim[]): Tensor { return ops.reshape(this, shape); }
  permute(perm: readonly number[]): Tensor { return ops.permute(this, perm); }
  transpose(a = -2, b = -1): Tensor { return ops.transpose(this, a, b); }
  expand(shape: readonly Dim[]): Tensor { return ops.expand(this, shape); }
  unsqueeze(axis: number): Tensor { return ops.unsqueeze(this, axis); }
  squeeze(axis: number): Tensor { return ops.squeeze(this, axis); }
  slice(spec: SliceSpec): Tensor { return ops.slice(this, spec); }
  gather(indices: Tensor, axis = 0): Tensor { return ops.gather(this, indices, axis); }
  sum(axes?: number | readonly number[], keepdims = false): Tensor { return ops.sum(this, axes, keepdims); }
  mean(axes?: number | readonly number[], keepdims = false): Tensor { return ops.mean(this, axes, keepdims); }
  max(axes?: number | readonly number[], keepdims = false): Tensor { return ops.max(this, axes, keepdims); }
  softmax(axis = -1): Tensor { return ops.softmax(this, axis); }
}

/** The definition of a primitive, widened for generic use (attrs are checked at node creation). */
export function defOf(p: PrimitiveName): PrimitiveDef<PrimitiveName> {
  // The registry is a mapped type; indexing it with a union loses the P<->attrs link, which is
  // re-established by construction: a node's attrs always come from makeNode<P>.
  return PRIMITIVES[p] as unknown as PrimitiveDef<PrimitiveName>;
}

/** Creates a graph node for primitive `prim`, running its shape rule (errors raise here). */
export function makeNode<P extends PrimitiveName>(prim: P, inputs: readonly Tensor[], attrs: PrimAttrs[P]): Tensor {
  const { shape, dtype } = (PRIMITIVES[prim] as PrimitiveDef<P>).infer(inputs, attrs);
  const t = new Tensor(prim, inputs, attrs, shape, dtype);
  for (const d of shape) {
    if (typeof d === 'string' && d.startsWith('_u') && !origins.has(d)) origins.set(d, new WeakRef(t));
  }
  return t;
}

// The node that introduced each fresh symbol (see shape.ts freshDim). A gradient graph may need
// the size '_u2' of a forward tensor it does not otherwise use; the compiler lowers the origin.
const origins = new Map<string, WeakRef<Tensor>>();

/** The tensor whose shape rule introduced fresh symbol `s`, if it is still alive. */
export function symbolOrigin(s: string): Tensor | undefined {
  return origins.get(s)?.deref();
}

/** True for tensors whose value is available without running a graph (constants, realized). */
export function isConcrete(t: Tensor): boolean {
  return t.value !== undefined;
}
