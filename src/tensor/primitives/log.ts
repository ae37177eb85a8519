// log (natural). VJP: g / x.
import { div } from '../ops/index.ts';
import { unaryDef } from './_helpers.ts';
export const log = unaryDef<'log'>('log', 'Log', 'float', (n, g) => [div(g, n.inputs[0]!)]);
