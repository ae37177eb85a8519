// mul: a * b. VJP: (g b, g a).
import { mul as m } from '../ops/index.ts';
import { binaryDef } from './_helpers.ts';
export const mul = binaryDef<'mul'>('mul', 'Mul', 'numeric', 'same', (n, g) => [m(g, n.inputs[1]!), m(g, n.inputs[0]!)]);
