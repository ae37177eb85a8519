// cos. VJP: -g sin(x).
import { mul, neg, sin } from '../ops/index.ts';
import { unaryDef } from './_helpers.ts';
export const cos = unaryDef<'cos'>('cos', 'Cos', 'float', (n, g) => [neg(mul(g, sin(n.inputs[0]!)))]);
