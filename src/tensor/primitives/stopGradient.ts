// stopGradient: identity forward, no gradient.
import { unaryDef } from './_helpers.ts';
export const stopGradient = unaryDef<'stopGradient'>('stopGradient', 'Identity', 'any', (_n, _g) => [null]);
