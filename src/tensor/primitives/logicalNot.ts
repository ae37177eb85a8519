// logicalNot: boolean negation (ONNX Not). Not differentiable.
import { unaryDef } from './_helpers.ts';
export const logicalNot = unaryDef<'logicalNot'>('logicalNot', 'Not', 'bool', null);
