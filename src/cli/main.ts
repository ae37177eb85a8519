// The `vlm2vec` command: a thin layer of argument parsing over the programmatic API.
// Each sub-command lives in its own file and only parses options and calls library functions.
// Sub-command modules are imported on demand: loading all of them (ONNX Runtime, sharp, vega…)
// costs about a second of start-up that a single command does not need.

import { Command } from 'commander';
import { Vlm2VecError } from '../errors.ts';

type Registrar = (program: Command) => void;

/** Sub-command name → loader of the module that registers it. */
const COMMANDS: Record<string, () => Promise<Registrar>> = {
  eval: async () => (await import('./eval.ts')).registerEval,
  'eval-v1': async () => (await import('./eval-v1.ts')).registerEvalV1,
  report: async () => (await import('./report.ts')).registerReport,
  leaderboard: async () => (await import('./leaderboard.ts')).registerLeaderboard,
  data: async () => (await import('./data.ts')).registerData,
  embed: async () => (await import('./embed.ts')).registerEmbed,
  export: async () => (await import('./export.ts')).registerExport,
};

/** Builds the program with the sub-commands named in `only` (all when empty). */
export async function buildProgram(only: readonly string[] = []): Promise<Command> {
  const program = new Command('vlm2vec')
    .description('Universal multimodal embeddings (VLM2Vec) and the MMEB / MMEB-V2 benchmark')
    .showHelpAfterError();
  const names = only.length > 0 ? only : Object.keys(COMMANDS);
  for (const name of names) {
    const load = COMMANDS[name];
    if (load) (await load())(program);
  }
  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    const sub = argv[2];
    const program = await buildProgram(sub !== undefined && sub in COMMANDS ? [sub] : []);
    await program.parseAsync(argv);
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
