// The recipe of the model that ships in the package (assets/model; docs/open-data.md, "The shipped
// model"): a random Qwen2-VL of the size below (init-model.ts), trained from scratch by
// `vlm2vec train` with train.yaml's keys on data.yaml's subsets of the open data, then packed
// into a float16 HF folder (pack.ts).
//
// Usage: node --import tsx scripts/open-data/recipe/run.ts [--data DIR] [--out OUT] [--pack DIR]
//          [-- more train flags, which win over train.yaml's]
//   DIR: the open data (scripts/open-data/fetch.ts with its defaults); default
//        $VLM2VEC_CACHE/open-data, else ~/.cache/vlm2vec/open-data.
//   OUT: default runs/shipped-model: OUT/init (the random start), OUT/run (vlm2vec train's output:
//        train_log.jsonl, train_report.html, the trained float32 model).
//   --pack DIR: also write the float16 folder there (the package's is assets/model).
// Every step is seeded: two runs on the same data and machine log the same losses.

import { execFileSync } from 'node:child_process';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const HERE = import.meta.dirname;
const ROOT = join(HERE, '..', '..', '..');

/** The size of the model: init-model.ts's flags (docs/open-data.md explains the choice). */
export const MODEL_FLAGS = [
  '--hidden', '64', '--layers', '2', '--heads', '4', '--kv-heads', '2', '--intermediate', '256',
  '--vision-dim', '64', '--vision-depth', '2', '--vision-heads', '2', '--seed', '0',
];

/** The `vlm2vec train` command line of the recipe (flags in `extra` are added last and win). */
export function trainArgs(opts: { init: string; data: string; out: string; extra?: readonly string[] }): string[] {
  return [
    'train', '--config', join(HERE, 'train.yaml'), '--model_name', opts.init, '--dataset_config', join(HERE, 'data.yaml'),
    '--data_basedir', opts.data, '--output_dir', opts.out, ...(opts.extra ?? []),
  ];
}

function node(args: string[]): void {
  process.stderr.write(`$ node ${args.map((a) => (/\s/.test(a) ? `'${a}'` : a)).join(' ')}\n`);
  execFileSync(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
}

if (process.argv[1] === import.meta.filename) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { data: { type: 'string' }, out: { type: 'string', default: join('runs', 'shipped-model') }, pack: { type: 'string' } },
  });
  const data = values.data ?? join(process.env['VLM2VEC_CACHE'] ?? join(homedir(), '.cache', 'vlm2vec'), 'open-data');
  const init = join(values.out, 'init');
  const run = join(values.out, 'run');
  const t0 = performance.now();
  node(['--import', 'tsx', join(HERE, '..', 'init-model.ts'), '--out', init, ...MODEL_FLAGS]);
  node([join(ROOT, 'bin', 'vlm2vec.js'), ...trainArgs({ init, data, out: run, extra: positionals })]);
  if (values.pack) node(['--import', 'tsx', join(HERE, 'pack.ts'), '--from', run, '--to', values.pack]);
  process.stderr.write(`recipe done in ${((performance.now() - t0) / 60000).toFixed(1)} min: ${run}\n`);
}
