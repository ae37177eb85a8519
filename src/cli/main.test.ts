// The top-level CLI answers --help, --version and unknown commands from main.ts's static table,
// without loading the sub-command modules (ONNX Runtime, sharp: seconds of start-up); the table
// says what the real modules register.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Command, Help } from 'commander';
import { COMMANDS } from './main.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');

// Runs main(argv) in a child process and lists, on exit, the native libraries it has loaded
// (process.report's sharedObjects: ONNX Runtime's and sharp's addons show up there once imported).
const PROBE = `
const { main } = await import(${JSON.stringify(MAIN)});
process.on('exit', () => {
  const libs = process.report.getReport().sharedObjects.filter((s) => /onnxruntime|sharp|vips|napi-rs/.test(s));
  process.stdout.write('\\nNATIVE ' + JSON.stringify(libs) + '\\n');
});
await main(['node', 'vlm2vec', ...process.argv.slice(1)]);
`;

function run(...args: string[]): { status: number | null; stdout: string; stderr: string; native: string[] } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', PROBE, '--', ...args], { cwd: ROOT, encoding: 'utf8' });
  const m = /\nNATIVE (\[.*\])\n$/.exec(r.stdout);
  assert.ok(m, `no native-module line in the output of ${args.join(' ')}:\n${r.stdout}\n${r.stderr}`);
  return { status: r.status, stdout: r.stdout.slice(0, m.index), stderr: r.stderr, native: JSON.parse(m[1]!) as string[] };
}

test('top-level --help and no arguments list every command without loading ONNX Runtime or sharp', () => {
  for (const args of [['--help'], ['-h'], ['help'], []]) {
    const r = run(...args);
    const out = r.stdout + r.stderr;
    assert.deepEqual(r.native, [], `${args.join(' ') || '(no arguments)'} loaded native modules`);
    assert.match(out, /Usage: vlm2vec \[options\] \[command\]/);
    for (const [name, e] of Object.entries(COMMANDS)) {
      assert.ok(out.includes(e.term), `${name}: term '${e.term}' missing`);
      assert.ok(out.replace(/\s+/g, ' ').includes(e.description), `${name}: description missing`);
    }
  }
});

test('an unknown command gets a did-you-mean and exit code 1, without loading the sub-commands', () => {
  const r = run('evall');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /unknown command 'evall'\n\(Did you mean eval\?\)/);
  assert.deepEqual(r.native, []);
  assert.match(run('leaderbord').stderr, /Did you mean leaderboard\?/);
});

test('--version and -V print the version of package.json', () => {
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  for (const flag of ['--version', '-V']) {
    const r = run(flag);
    assert.equal(r.status, 0);
    assert.equal(r.stdout, `${version}\n`);
    assert.deepEqual(r.native, []);
  }
});

test("a sub-command's own options win after its name: leaderboard --version is the score version", () => {
  const r = run('leaderboard', '--version', 'v2.0.0');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /published scores v2\.0\.0/);
});

test('help <command> prints the full help of that command (its module is loaded)', () => {
  const r = run('help', 'embed');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Usage: vlm2vec embed \[options\]/);
  assert.match(r.stdout, /--model <[^>]+>/, 'the options of embed');
});

test("the static table matches the name, help term and description each module registers", async () => {
  const help = new Help();
  for (const [name, entry] of Object.entries(COMMANDS)) {
    const program = new Command('vlm2vec');
    (await entry.load())(program);
    assert.deepEqual(program.commands.map((c) => c.name()), [name], `${name}: the module registers exactly that command`);
    const cmd = program.commands[0]!;
    assert.equal(entry.term, help.subcommandTerm(cmd), `${name}: term`);
    assert.equal(entry.description, cmd.description(), `${name}: description`);
  }
});
