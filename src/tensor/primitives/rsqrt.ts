// rsqrt: 1 / sqrt(x), lowered as Reciprocal(Sqrt) (ONNX has no Rsqrt). VJP: -g out^3 / 2.
import { mul } from '../ops/index.ts';
import { unaryDef } from './_helpers.ts';
export const rsqrt = unaryDef<'rsqrt'>('rsqrt', (ctx, x) => ctx.emit('Reciprocal', [ctx.emit('Sqrt', [x])]), 'float', (n, g) => [
  mul(g, mul(mul(n, mul(n, n)), -0.5)),
]);
