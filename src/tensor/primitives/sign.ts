// sign: -1, 0, 1. Piecewise constant: zero gradient (returns null so nothing is built).
import { unaryDef } from './_helpers.ts';
export const sign = unaryDef<'sign'>('sign', 'Sign', 'numeric', (_n, _g) => [null]);
