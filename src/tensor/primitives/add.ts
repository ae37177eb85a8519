// add: a + b. VJP: g to both (the driver sums broadcast axes away).
import { binaryDef } from './_helpers.ts';
export const add = binaryDef<'add'>('add', 'Add', 'numeric', 'same', (_n, g) => [g, g]);
