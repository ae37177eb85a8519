// sqrt. VJP: g / (2 out).
import { div, mul } from '../ops/index.ts';
import { unaryDef } from './_helpers.ts';
export const sqrt = unaryDef<'sqrt'>('sqrt', 'Sqrt', 'float', (n, g) => [div(g, mul(n, 2))]);
