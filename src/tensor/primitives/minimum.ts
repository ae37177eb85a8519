// minimum: elementwise min. VJP as PyTorch: all of g to the smaller input, half each on ties.
import { add, cast, equal, less, mul } from '../ops/index.ts';
import { binaryDef } from './_helpers.ts';
export const minimum = binaryDef<'minimum'>('minimum', 'Min', 'numeric', 'same', (n, g) => {
  const [a, b] = [n.inputs[0]!, n.inputs[1]!];
  const tie = mul(cast(equal(a, b), g.dtype), 0.5);
  return [mul(g, add(cast(less(a, b), g.dtype), tie)), mul(g, add(cast(less(b, a), g.dtype), tie))];
});
