// `vlm2vec leaderboard`: the published models' scores per meta-task and modality, from the
// built-in table (src/mmeb/report/published-data.json; no files or network needed).

import type { Command } from 'commander';
import { intAtLeast, pointToHelp } from '../util/cli-args.ts';
import { Vlm2VecError } from '../errors.ts';
import { isPublishedBenchmark } from '../mmeb/tasks/registry.ts';
import { isPublishedVersion, PUBLISHED_VERSIONS, DEFAULT_PUBLISHED_VERSION, leaderboard } from '../mmeb/report/published.ts';
import { summaryDocument } from '../mmeb/score/aggregate.ts';
import { leaderboardText } from '../mmeb/report/index.ts';
import { STDIO, type CliOutput } from './io.ts';

interface Options {
  benchmark: string;
  version: string;
  json?: boolean;
  width?: number;
}

/** Narrowest --width accepted: the model column cut to 10 characters beside one score column. */
const MIN_WIDTH = 30;

/** The terminal's width when stdout is one, else 100 (pipes, files, CI logs). */
function defaultWidth(): number {
  return process.stdout.isTTY && process.stdout.columns ? Math.max(MIN_WIDTH, process.stdout.columns) : 100;
}

export function registerLeaderboard(program: Command, io: CliOutput = STDIO): void {
  pointToHelp(program.command('leaderboard'))
    .description('Print the published MMEB scores of the reference baselines per meta-task and modality')
    .option('-b, --benchmark <name>', 'mmeb-v2 or mmeb-v1', 'mmeb-v2')
    .option('-v, --version <version>', `published score version: ${PUBLISHED_VERSIONS.join('|')} (v2.1.0 = v2.1)`, DEFAULT_PUBLISHED_VERSION)
    .option('--json', 'print JSON instead of a table')
    .option('-w, --width <columns>', 'fit the table to this many characters (default: the terminal width, 100 when not a terminal); narrower tables are stacked in panels', intAtLeast('--width', MIN_WIDTH))
    .addHelpText('after', `
Versions are the folders of the reference's experiments/public/all_scores/: v2.0.0 (initial
release), v2.0.1 (all 78 tasks re-run, MomentSeeker deduplicated to 1602 queries) and v2.1
(v2.0.1 with ViDoSeek-page / MMLongBench-page re-scored on the fixed data; ViDoSeek-doc and
MMLongBench-doc are absent, so its visdoc groups show as partial, 22/24 tasks).

Examples:
  $ vlm2vec leaderboard
  $ vlm2vec leaderboard --benchmark mmeb-v1 --version v2.0.0
  $ vlm2vec leaderboard --width 200          # one wide table
  $ vlm2vec leaderboard --json > published.json
`)
    .action((o: Options) => {
      const version = o.version === 'v2.1.0' ? 'v2.1' : o.version;
      if (!isPublishedBenchmark(o.benchmark)) throw new Vlm2VecError('leaderboard', `--benchmark '${o.benchmark}': expected mmeb-v2 or mmeb-v1`);
      if (!isPublishedVersion(version)) {
        throw new Vlm2VecError('leaderboard', `--version '${o.version}': expected one of ${PUBLISHED_VERSIONS.join(', ')}`);
      }
      if (o.json) {
        const rows = leaderboard(o.benchmark, version).map((s) => ({ ...summaryDocument(s), tasks: undefined }));
        io.out(`${JSON.stringify({ benchmark: o.benchmark, version, models: rows }, null, 2)}\n`);
        return;
      }
      io.out(leaderboardText(o.benchmark, version, { width: o.width ?? defaultWidth() }));
    });
}
