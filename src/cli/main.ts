// The `vlm2vec` command: a thin layer of argument parsing over the programmatic API.
// Each sub-command lives in its own file and only parses options and calls library functions.
// Sub-command modules are imported on demand: loading them (ONNX Runtime, sharp, vega…) costs
// seconds of start-up, so the top-level help, `--version` and the unknown-command message come
// from the static table below and import none of them (main.test.ts keeps the table in step
// with the modules and checks that no native module gets loaded).

import { readFileSync } from 'node:fs';
import { Command, Help } from 'commander';
import { Vlm2VecError } from '../errors.ts';

type Registrar = (program: Command) => void;

interface CommandEntry {
  /** The left column of the top-level help, as commander prints it for the real command. */
  term: string;
  description: string;
  load: () => Promise<Registrar>;
}

/** Sub-command name → its top-level help line and the loader of the module that registers it. */
export const COMMANDS: Readonly<Record<string, CommandEntry>> = {
  demo: {
    term: 'demo [options]',
    description: 'Index, search and benchmark offline with the bundled small model and data: the quick start',
    load: async () => (await import('./demo.ts')).registerDemo,
  },
  eval: {
    term: 'eval [options]',
    description: 'Evaluate an embedding model on MMEB-V2 or MMEB (V1) and write reference-format result files',
    load: async () => (await import('./eval.ts')).registerEval,
  },
  'eval-v1': {
    term: 'eval-v1 [options]',
    description: 'Evaluate an embedding model with the legacy MMEB (V1) harness: TIGER-Lab/MMEB-eval, argmax accuracy per subset',
    load: async () => (await import('./eval-v1.ts')).registerEvalV1,
  },
  report: {
    term: 'report [options] <result...>',
    description: 'Aggregate result folders or published score JSONs into per-group scores (0–100)',
    load: async () => (await import('./report.ts')).registerReport,
  },
  leaderboard: {
    term: 'leaderboard [options]',
    description: 'Print the published MMEB scores of the reference baselines per meta-task and modality',
    load: async () => (await import('./leaderboard.ts')).registerLeaderboard,
  },
  data: {
    term: 'data',
    description: 'Download and check the MMEB data (HF dataset repos + MMEB-V2 media)',
    load: async () => (await import('./data.ts')).registerData,
  },
  embed: {
    term: 'embed [options]',
    description: 'Embed JSONL items ({instruction?, text?, image?, video?} per line) with a local VLM2Vec / Qwen2-VL model',
    load: async () => (await import('./embed.ts')).registerEmbed,
  },
  export: {
    term: 'export [options]',
    description: 'Export a local Qwen2-VL / VLM2Vec model (adapter merged) as ONNX for plain onnxruntime',
    load: async () => (await import('./export.ts')).registerExport,
  },
  serve: {
    term: 'serve [options]',
    description: 'Serve a local VLM2Vec model over HTTP: OpenAI-compatible multimodal /v1/embeddings with dynamic batching',
    load: async () => (await import('./serve.ts')).registerServe,
  },
  index: {
    term: 'index [options]',
    description: 'Embed the images, PDF pages, videos and texts of a folder into a LanceDB vector index (incremental)',
    load: async () => (await import('./index-cmd.ts')).registerIndex,
  },
  search: {
    term: 'search [options] [query]',
    description: 'Search a vlm2vec index (made by vlm2vec index) with a text or an image',
    load: async () => (await import('./search.ts')).registerSearch,
  },
  train: {
    term: 'train',
    description: "Train a VLM2Vec embedder (contrastive InfoNCE, GradCache, DoRA/LoRA) with the reference's train.py flags",
    load: async () => (await import('./train.ts')).registerTrain,
  },
};

/** The package version, from package.json two levels up (src/cli/ in a clone, dist/cli/ when installed). */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return String(pkg.version);
}

/**
 * Builds the program. With a sub-command name, that command's module is loaded and registered
 * (full options and help); without one, every sub-command is a placeholder carrying only its
 * table entry, enough for the top-level help and commander's did-you-mean.
 */
export async function buildProgram(sub?: string): Promise<Command> {
  const program = new Command('vlm2vec')
    .description('Universal multimodal embeddings (VLM2Vec) and the MMEB / MMEB-V2 benchmark')
    .version(packageVersion(), '-V, --version', 'print the vlm2vec version')
    // Options after a sub-command name are that command's (leaderboard has its own --version).
    .enablePositionalOptions()
    // A usage error is one line plus this pointer; sub-commands point to their own help (pointToHelp).
    .showHelpAfterError("(run 'vlm2vec --help' for the commands)");
  const entry = sub !== undefined && Object.hasOwn(COMMANDS, sub) ? COMMANDS[sub] : undefined;
  if (entry) {
    (await entry.load())(program);
    return program;
  }
  for (const [name, { description }] of Object.entries(COMMANDS)) program.command(name).description(description);
  const terms = new Map(Object.entries(COMMANDS).map(([name, e]) => [name, e.term]));
  program.configureHelp({ subcommandTerm: (cmd) => terms.get(cmd.name()) ?? new Help().subcommandTerm(cmd) });
  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    // `vlm2vec help <command>` prints that command's help, so it needs that command's module.
    const sub = argv[2] === 'help' ? argv[3] : argv[2];
    const program = await buildProgram(sub);
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
