// neg: -x. VJP: -g.
import { neg as n } from '../ops/index.ts';
import { unaryDef } from './_helpers.ts';
export const neg = unaryDef<'neg'>('neg', 'Neg', 'numeric', (_n, g) => [n(g)]);
