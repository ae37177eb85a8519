// lessEqual: comparison -> bool (ONNX LessOrEqual). Not differentiable.
import { binaryDef } from './_helpers.ts';
export const lessEqual = binaryDef<'lessEqual'>('lessEqual', 'LessOrEqual', 'numeric', 'bool', null);
