// maximum: elementwise max. VJP as PyTorch: all of g to the larger input, half each on ties.
import { add, cast, equal, greater, mul } from '../ops/index.ts';
import { binaryDef } from './_helpers.ts';
export const maximum = binaryDef<'maximum'>('maximum', 'Max', 'numeric', 'same', (n, g) => {
  const [a, b] = [n.inputs[0]!, n.inputs[1]!];
  const tie = mul(cast(equal(a, b), g.dtype), 0.5);
  return [mul(g, add(cast(greater(a, b), g.dtype), tie)), mul(g, add(cast(greater(b, a), g.dtype), tie))];
});
