// tanh. VJP: g (1 - out^2).
import { mul, sub } from '../ops/index.ts';
import { unaryDef } from './_helpers.ts';
export const tanh = unaryDef<'tanh'>('tanh', 'Tanh', 'float', (n, g) => [mul(g, sub(1, mul(n, n)))]);
