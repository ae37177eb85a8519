// Shared by the end-to-end tests: run the real `vlm2vec` command (bin/vlm2vec.js, spawned with
// this Node) and a private copy of the MMEB fixture data (the visdoc loaders write page images
// under DATA/visdoc-tasks/, so tests never use test/fixtures in place).

import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = join(ROOT, 'bin', 'vlm2vec.js');

/** What a CLI run ended with. */
export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Run `vlm2vec ARGS…` from the repo root and collect its output; `onSpawn` gets the child
 * (e.g. to kill it mid-run).
 *
 * @example
 * const r = await runCli(['leaderboard']); // r.code === 0
 */
export function runCli(args: readonly string[], onSpawn?: (c: ChildProcess) => void): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    onSpawn?.(child);
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Copy test/fixtures/mmeb/data to `dir` (a complete `--data DIR`) and return `dir`. */
export function copyFixtureData(dir: string): string {
  cpSync(join(ROOT, 'test', 'fixtures', 'mmeb', 'data'), dir, { recursive: true });
  return dir;
}
