// logicalAnd: boolean logic (ONNX And). Not differentiable.
import { binaryDef } from './_helpers.ts';
export const logicalAnd = binaryDef<'logicalAnd'>('logicalAnd', 'And', 'bool', 'same', null);
