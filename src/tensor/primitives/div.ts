// div: a / b. VJP: (g / b, -g a / b^2) written as -(g / b) * out to reuse the quotient.
import { div as d, mul, neg } from '../ops/index.ts';
import { binaryDef } from './_helpers.ts';
export const div = binaryDef<'div'>('div', 'Div', 'numeric', 'same', (n, g) => {
  const gb = d(g, n.inputs[1]!);
  return [gb, neg(mul(gb, n))];
});
