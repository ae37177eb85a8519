// abs. VJP: g sign(x) (0 at 0, as PyTorch).
import { mul, sign } from '../ops/index.ts';
import { unaryDef } from './_helpers.ts';
export const abs = unaryDef<'abs'>('abs', 'Abs', 'numeric', (n, g) => [mul(g, sign(n.inputs[0]!))]);
