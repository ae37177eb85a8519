// Checks of numeric options passed by library callers (the CLI parses its own through
// ./cli-args.ts first), so every module rejects a batch size of 0 or 2.5 with the same sentence.

import { Vlm2VecError } from '../errors.ts';

/**
 * Returns `value` if it is an integer ≥ 1; else throws `[area] NAME must be a positive integer, got VALUE`.
 *
 * @example
 * checkPositiveInt('embed', 'batchSize', 0); // throws "[embed] batchSize must be a positive integer, got 0"
 */
export function checkPositiveInt(area: string, name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new Vlm2VecError(area, `${name} must be a positive integer, got ${String(value)}`);
  return value;
}
