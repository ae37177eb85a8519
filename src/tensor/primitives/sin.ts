// sin. VJP: g cos(x).
import { cos, mul } from '../ops/index.ts';
import { unaryDef } from './_helpers.ts';
export const sin = unaryDef<'sin'>('sin', 'Sin', 'float', (n, g) => [mul(g, cos(n.inputs[0]!))]);
