// greaterEqual: comparison -> bool (ONNX GreaterOrEqual). Not differentiable.
import { binaryDef } from './_helpers.ts';
export const greaterEqual = binaryDef<'greaterEqual'>('greaterEqual', 'GreaterOrEqual', 'numeric', 'bool', null);
