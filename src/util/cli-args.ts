// Parsers for numeric command-line option values, shared by the sub-commands so every command
// rejects `--batch-size 0` or `--concurrency abc` with the same one-line message.

import { InvalidArgumentError, Option, type Command } from 'commander';

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

/**
 * After an option or argument error, print one line pointing to the command's help instead
 * of the whole help text (60 lines would push the error itself off the screen). The command's
 * full path is used, so a sub-sub-command says e.g. `vlm2vec data pull --help`. Call it once
 * the command is attached to its parent.
 *
 * @example
 * pointToHelp(program.command('report')); // error lines end with "(run 'vlm2vec report --help' for the options)"
 */
export function pointToHelp(cmd: Command): Command {
  const path: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) path.unshift(c.name());
  return cmd.showHelpAfterError(`(run '${path.join(' ')} --help' for the options)`);
}

/**
 * Option parser for repeatable, comma-separable lists (`--tasks a,b --tasks c`). Register it
 * without a default value (commander would print `(default: [])` in the help) and read an
 * absent option as `[]`.
 *
 * @example
 * program.option('--tasks <spec>', 'tasks', collectList); // o.tasks: string[] | undefined
 */
export function collectList(value: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), ...value.split(',').map((s) => s.trim()).filter(Boolean)];
}

/**
 * {@link collectList} for `--tasks`: a value naming nothing (e.g. an unset shell variable) is an
 * error rather than silently meaning "the whole benchmark".
 */
export function collectTasks(value: string, prev: string[] | undefined): string[] {
  const next = collectList(value, prev);
  if (next.length === (prev?.length ?? 0)) throw new InvalidArgumentError(`--tasks '${value}' names no task; omit --tasks to run the whole benchmark`);
  return next;
}

/**
 * Declares `flags` (e.g. '--output <file>') as a hidden alias of the option stored as `target`:
 * an old spelling keeps working, but the help shows one name per option across commands.
 *
 * @example hiddenAlias(program.command('embed').requiredOption('-o, --out <file>', 'output'), '--output <file>', 'out');
 */
export function hiddenAlias(cmd: Command, flags: string, target: string): Command {
  const opt = new Option(flags).hideHelp();
  cmd.addOption(opt);
  cmd.on(`option:${opt.name()}`, (value: unknown) => cmd.setOptionValueWithSource(target, value, 'cli'));
  return cmd;
}
