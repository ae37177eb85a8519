// less: comparison -> bool (ONNX Less). Not differentiable.
import { binaryDef } from './_helpers.ts';
export const less = binaryDef<'less'>('less', 'Less', 'numeric', 'bool', null);
