// Leaf nodes: constants (data held in JS) and graph inputs (jit placeholders). They are created
// directly (see ops/create.ts) and lowered by the compiler as graph inputs or initializers.
import { Vlm2VecError } from '../../errors.ts';
import { leafError } from './_helpers.ts';
import type { PrimitiveDef } from './types.ts';

const lowerLeaf = (): never => {
  throw new Vlm2VecError('compile', 'leaf nodes are lowered by the compiler, not by a rule');
};
export const constant: PrimitiveDef<'constant'> = { infer: () => leafError('constant'), lower: lowerLeaf, vjp: null };
export const input: PrimitiveDef<'input'> = { infer: () => leafError('input'), lower: lowerLeaf, vjp: null };
