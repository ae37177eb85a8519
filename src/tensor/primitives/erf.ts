// erf. VJP: g 2/sqrt(pi) exp(-x^2).
import { exp, mul, neg } from '../ops/index.ts';
import { unaryDef } from './_helpers.ts';
export const erf = unaryDef<'erf'>('erf', 'Erf', 'float', (n, g) => {
  const x = n.inputs[0]!;
  return [mul(g, mul(exp(neg(mul(x, x))), 2 / Math.sqrt(Math.PI)))];
});
