// logicalOr: boolean logic (ONNX Or). Not differentiable.
import { binaryDef } from './_helpers.ts';
export const logicalOr = binaryDef<'logicalOr'>('logicalOr', 'Or', 'bool', 'same', null);
