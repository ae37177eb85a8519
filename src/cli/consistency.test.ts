// Every sub-command speaks the same CLI: one name per option role (-m, --model; -o, --out),
// examples in its --help, and usage errors as one line plus a pointer to that command's help.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Command } from 'commander';
import { buildProgram } from './main.ts';

// train is the exception to -m / -o: it takes the reference's train.py flags (--model_name,
// --output_dir) so the reference's scripts run unchanged (src/cli/train.ts); its help still has examples.
const COMMANDS = ['eval', 'eval-v1', 'embed', 'export', 'report', 'leaderboard', 'data', 'train'] as const;

/** Each leaf command of `name` (data → pull, check, pull-v1), with output captured. */
async function leaves(name: string): Promise<{ cmd: Command; path: string; out: () => string }[]> {
  const program = await buildProgram(name);
  const top = program.commands.find((c) => c.name() === name)!;
  const cmds = top.commands.length > 0 ? top.commands : [top];
  return cmds.map((cmd) => {
    let text = '';
    for (let c: Command | null = cmd; c; c = c.parent) {
      c.exitOverride().configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
    }
    const path = cmd === top ? name : `${name} ${cmd.name()}`;
    return { cmd, path, out: () => { const t = text; text = ''; return t; } };
  });
}

test('every sub-command has examples in its --help, -m for a model and -o for its output', async () => {
  const seen: string[] = [];
  for (const name of COMMANDS) {
    for (const { cmd, path, out } of await leaves(name)) {
      seen.push(path);
      cmd.outputHelp();
      const help = out();
      assert.match(help, /\nExamples?:\n(\s+#.*\n)*\s+\$ vlm2vec /, `${path} --help has examples`);
      const flags = cmd.options.filter((o) => !o.hidden).map((o) => o.flags);
      if (flags.some((f) => /--model\b/.test(f))) assert.ok(flags.some((f) => f.startsWith('-m, --model ')), `${path}: -m, --model`);
      for (const f of flags) assert.doesNotMatch(f, /--(output|out-dir)\b/, `${path}: output options are -o, --out (and --out-file)`);
      if (['eval', 'eval-v1', 'embed', 'export', 'report'].includes(path)) assert.ok(flags.some((f) => f.startsWith('-o, --out ')), `${path}: -o, --out`);
    }
  }
  assert.deepEqual(seen, ['eval', 'eval-v1', 'embed', 'export', 'report', 'leaderboard', 'data pull', 'data check', 'data pull-v1', 'train']);
});

test('usage errors are one line and a pointer to the command\'s help, never the whole help', async () => {
  const cases: [string, string[], RegExp][] = [
    ['embed', ['-m', 'm', '-i', 'i', '-o', 'o', '--bogus'], /^error: unknown option '--bogus'\n/],
    ['export', ['-o', 'x'], /^error: required option '-m, --model <dir\|hub-id>' not specified\n/],
    // An empty value is not 0 bytes: every integer option shares util/cli-args' parsers.
    ['export', ['-m', 'm', '-o', 'o', '--external-data-threshold', ''], /^error: option '--external-data-threshold <bytes>' argument '' is invalid\. --external-data-threshold must be an integer ≥ 0, got ''\n/],
    ['eval', ['-m', 'http://h', '-d', 'd', '-o', 'o', '--batch-size', '0'], /^error: option '--batch-size <n>' argument '0' is invalid\. --batch-size must be a positive integer, got '0'\n/],
    ['report', ['r', '--format'], /^error: option '-f, --format <format>' argument missing\n/],
    ['leaderboard', ['--bogus'], /^error: unknown option '--bogus'\n/],
    ['data', ['pull', '--tasks', 'x'], /^error: required option '-d, --data <dir>' not specified\n/],
  ];
  for (const [name, args, re] of cases) {
    const program = await buildProgram(name);
    let text = '';
    const all: Command[] = [program, ...program.commands, ...program.commands.flatMap((c) => c.commands)];
    for (const c of all) c.exitOverride().configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
    await program.parseAsync(['node', 'vlm2vec', name, ...args]).catch(() => undefined);
    const path = name === 'data' ? `data ${args[0]}` : name;
    assert.match(text, re, `${name} ${args.join(' ')}`);
    assert.ok(text.endsWith(`\n(run 'vlm2vec ${path} --help' for the options)\n`), `${name}: ${text}`);
    assert.equal(text.split('\n').length, 3, `${name}: two lines, got ${JSON.stringify(text)}`);
  }
});
