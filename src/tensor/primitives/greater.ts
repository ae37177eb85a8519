// greater: comparison -> bool (ONNX Greater). Not differentiable.
import { binaryDef } from './_helpers.ts';
export const greater = binaryDef<'greater'>('greater', 'Greater', 'numeric', 'bool', null);
