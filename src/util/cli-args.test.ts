import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command, InvalidArgumentError } from 'commander';
import { hiddenAlias, intAtLeast, nonNegativeInt, pointToHelp, positiveInt } from './cli-args.ts';

test('integer option parsers accept integers in range and name the option otherwise', () => {
  assert.equal(positiveInt('--batch-size')('16'), 16);
  assert.equal(nonNegativeInt('--retries')('0'), 0);
  assert.equal(intAtLeast('--k', 5)('5'), 5);
  for (const bad of ['0', '-1', '1.5', 'abc', '', ' ', '1e400', 'NaN']) {
    assert.throws(() => positiveInt('--batch-size')(bad),
      (e: Error) => e instanceof InvalidArgumentError && e.message === `--batch-size must be a positive integer, got '${bad}'`, bad);
  }
  assert.throws(() => nonNegativeInt('--retries')('-1'), /--retries must be an integer ≥ 0, got '-1'/);
  assert.throws(() => nonNegativeInt('--retries')(''), /--retries must be an integer ≥ 0, got ''/);
  assert.throws(() => intAtLeast('--k', 5)('4'), /--k must be an integer ≥ 5, got '4'/);
});

test('pointToHelp names the full command path; collectList/collectTasks accumulate comma lists', async () => {
  const { Command } = await import('commander');
  const { collectList, collectTasks, pointToHelp } = await import('./cli-args.ts');
  let err = '';
  const program = new Command('vlm2vec').exitOverride().configureOutput({ writeErr: (t) => { err += t; }, writeOut: () => {} });
  const sub = pointToHelp(program.command('report')).option('--k <n>', 'k', positiveInt('--k')).action(() => {});
  assert.equal(sub.name(), 'report');
  await assert.rejects(program.parseAsync(['node', 'vlm2vec', 'report', '--k', '0']));
  assert.equal(err, "error: option '--k <n>' argument '0' is invalid. --k must be a positive integer, got '0'\n(run 'vlm2vec report --help' for the options)\n");
  assert.deepEqual(collectList(' a, b,,c ', undefined), ['a', 'b', 'c']);
  assert.deepEqual(collectTasks('d', ['a']), ['a', 'd']);
  assert.throws(() => collectTasks(' , ', ['a']), (e: Error) => e instanceof InvalidArgumentError && /names no task/.test(e.message));
});

test('a hidden alias sets the primary option, satisfies a required one, and stays out of the help', async () => {
  const parse = async (args: string[]): Promise<{ out?: string; err: string }> => {
    let err = '';
    let got: { out?: string } = {};
    const program = new Command('vlm2vec').exitOverride().configureOutput({ writeErr: (s) => (err += s), writeOut: () => undefined });
    const cmd = pointToHelp(program.command('embed')).requiredOption('-o, --out <file>', 'output').action((o: { out: string }) => {
      got = o;
    });
    hiddenAlias(cmd, '--output <file>', 'out');
    await program.parseAsync(['node', 'vlm2vec', 'embed', ...args]).catch(() => undefined);
    assert.doesNotMatch(cmd.helpInformation(), /--output/);
    return { ...got, err };
  };
  assert.equal((await parse(['--output', 'a.jsonl'])).out, 'a.jsonl');
  assert.equal((await parse(['-o', 'b.jsonl'])).out, 'b.jsonl');
  // A usage error is one line and a pointer to the help, not the whole help text.
  assert.equal((await parse([])).err, "error: required option '-o, --out <file>' not specified\n(run 'vlm2vec embed --help' for the options)\n");
  assert.equal((await parse(['-o', 'x', '--bogus'])).err, "error: unknown option '--bogus'\n(run 'vlm2vec embed --help' for the options)\n");
});
