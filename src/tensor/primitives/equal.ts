// equal: comparison -> bool (ONNX Equal). Not differentiable.
import { binaryDef } from './_helpers.ts';
export const equal = binaryDef<'equal'>('equal', 'Equal', 'any', 'bool', null);
