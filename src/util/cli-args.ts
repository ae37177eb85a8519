// Parsers for numeric command-line option values, shared by the sub-commands so every command
// rejects `--batch-size 0` or `--concurrency abc` with the same one-line message.

import { InvalidArgumentError } from 'commander';

/**
 * A commander option parser accepting integers ≥ `min`; anything else is an
 * InvalidArgumentError naming the option and the value.
 *
 * @example
 * program.option('--batch-size <n>', 'items per request', intAtLeast('--batch-size', 1), 16);
 */
export function intAtLeast(name: string, min: number): (value: string) => number {
  const what = min === 1 ? 'a positive integer' : `an integer ≥ ${min}`;
  return (value: string): number => {
    // Number('') and Number(' ') are 0: an empty value must not pass as a number.
    const n = value.trim() === '' ? NaN : Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be ${what}, got '${value}'`);
    return n;
  };
}

/** {@link intAtLeast} with min 1. */
export const positiveInt = (name: string): ((value: string) => number) => intAtLeast(name, 1);

/** {@link intAtLeast} with min 0. */
export const nonNegativeInt = (name: string): ((value: string) => number) => intAtLeast(name, 0);
