// sigmoid. VJP: g out (1 - out).
import { mul, sub } from '../ops/index.ts';
import { unaryDef } from './_helpers.ts';
export const sigmoid = unaryDef<'sigmoid'>('sigmoid', 'Sigmoid', 'float', (n, g) => [mul(g, mul(n, sub(1, n)))]);
