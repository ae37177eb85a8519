// pow: a ** b (float). VJP: da = g b a^(b-1); db = g out log(a), zeroed where a == 0 as PyTorch
// does (there log(a) = -inf would turn 0 * -inf into NaN).
import { equal, log, mul, pow as p, sub, where } from '../ops/index.ts';
import { binaryDef } from './_helpers.ts';
export const pow = binaryDef<'pow'>('pow', 'Pow', 'float', 'same', (n, g) => {
  const [a, b] = [n.inputs[0]!, n.inputs[1]!];
  const da = mul(g, mul(b, p(a, sub(b, 1))));
  const db = where(equal(a, 0), 0, mul(g, mul(n, log(a))));
  return [da, db];
});
