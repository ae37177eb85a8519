// Node construction: the one place a graph node is made, running its primitive's shape rule
// (so shape and dtype errors raise when the op is called), and the one place a primitive's
// definition is looked up by name (the compiler's lowering, the autodiff driver's VJP).

import { PRIMITIVES } from '../primitives/index.ts';
import type { PrimAttrs, PrimitiveDef, PrimitiveName } from '../primitives/types.ts';
import { Tensor } from '../tensor.ts';

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
