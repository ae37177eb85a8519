// exp. VJP: g * out.
import { mul } from '../ops/index.ts';
import { unaryDef } from './_helpers.ts';
export const exp = unaryDef<'exp'>('exp', 'Exp', 'float', (n, g) => [mul(g, n)]);
