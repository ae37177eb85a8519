// The lazy Tensor: a node of the graph IR (primitive, inputs, attributes, shape, dtype). This
// file holds the node's data only, so that everything else can import it without a cycle: nodes
// are built by ir/node.ts (which runs the primitive's shape rule), and the methods that call ops
// or the runtime (`t.add(u)`, `await t.data()`) are attached in one place, methods.ts.

import type { DType, TypedArray } from './dtype.ts';
import type { Shape } from './shape.ts';
import { fmtShape } from './shape.ts';
import type { PrimAttrs, PrimitiveName } from './primitives/types.ts';

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

  toString(): string {
    return `Tensor(${this.prim}, ${this.dtype}${fmtShape(this.shape)})`;
  }
}

/** True for tensors whose value is available without running a graph (constants, realized). */
export function isConcrete(t: Tensor): boolean {
  return t.value !== undefined;
}
