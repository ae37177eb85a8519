// sub: a - b. VJP: (g, -g).
import { neg } from '../ops/index.ts';
import { binaryDef } from './_helpers.ts';
export const sub = binaryDef<'sub'>('sub', 'Sub', 'numeric', 'same', (_n, g) => [g, neg(g)]);
