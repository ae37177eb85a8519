// The `vlm2vec` command: a thin layer of argument parsing over the programmatic API.
// Each sub-command lives in its own file and only parses options and calls library functions.

import { Command } from 'commander';
import { Vlm2VecError } from '../errors.ts';
import { registerLeaderboard } from './leaderboard.ts';
import { registerReport } from './report.ts';
import { registerEval } from './eval.ts';
import { registerData } from './data.ts';

export function buildProgram(): Command {
  const program = new Command('vlm2vec')
    .description('Universal multimodal embeddings (VLM2Vec) and the MMEB / MMEB-V2 benchmark')
    .showHelpAfterError();
  registerEval(program);
  registerReport(program);
  registerLeaderboard(program);
  registerData(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    // Our own errors already name the file/field/task; print them without a stack trace.
    if (err instanceof Vlm2VecError) {
      process.stderr.write(`vlm2vec: ${err.message}\n`);
      process.exitCode = 1;
      return;
    }
    throw err;
  }
}
