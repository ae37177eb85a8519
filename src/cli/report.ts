// `vlm2vec report RESULT…`: aggregate result folders (OUT/<modality>/<Task>_score.json) or
// published score JSONs into the summary groups; print a table, JSON, Markdown or HTML.

import { extname, join } from 'node:path';
import type { Command } from 'commander';
import { hiddenAlias, pointToHelp } from '../util/cli-args.ts';
import { Vlm2VecError } from '../errors.ts';
import { isPublishedBenchmark } from '../mmeb/tasks/registry.ts';
import { isPublishedVersion, PUBLISHED_VERSIONS, DEFAULT_PUBLISHED_VERSION } from '../mmeb/report/published.ts';
import { renderReport, type ReportFormat, type ReportOptions } from '../mmeb/report/index.ts';
import { checkOutputDir, checkOutputFile, isDirSync, writeFileAtomic } from '../util/fs.ts';
import { STDIO, type CliOutput } from './io.ts';

const FORMATS: readonly ReportFormat[] = ['table', 'json', 'md', 'html'];

const REPORT_EXAMPLES = `
Examples:
  # Summary table of a finished (or partial) eval run
  $ vlm2vec report runs/vlm2vec-2b

  # Two runs side by side, with report.md, report.html (charts) and summary.json in reports/
  $ vlm2vec report runs/a runs/b -o reports

  # Only the Markdown table, into one file
  $ vlm2vec report runs/a --format md --out-file runs/a/report.md

  # A training run's loss, lr and grad-norm curves and its periodic MMEB scores, beside the
  # eval of its final adapter (a folder with trainer_state.json or train_log.jsonl is a run)
  $ vlm2vec report runs/train-a/eval-final runs/train-a -o reports

  # A published score JSON as Markdown, V1 groups, beside two published baselines
  $ vlm2vec report VLM2Vec-V2.0-Qwen2VL-2B.json --benchmark mmeb-v1 --format md \\
      --baselines gme-Qwen2-VL-2B-Instruct,colpali-v1.3

Scores are the headline metric ×100 (hit@1 image/video, ndcg_linear@5 visdoc), unrounded in
json; a group missing tasks is marked "(n/N)" and listed under "partial".
`;

interface Options {
  format: string;
  benchmark: string;
  baselineVersion: string;
  baselines?: string;
  outFile?: string;
  out?: string;
}


export function registerReport(program: Command, io: CliOutput = STDIO): void {
  const cmd = pointToHelp(program.command('report'))
    .description('Aggregate result folders or published score JSONs into per-group scores (0–100)')
    .argument('<result...>', 'result folders (OUT with image/, video/, visdoc/), score JSON files, or `vlm2vec train` output folders (training curves)')
    .option('-f, --format <format>', `output format: ${FORMATS.join('|')}`, 'table')
    .option('-b, --benchmark <name>', 'mmeb-v2 or mmeb-v1 (which groups to compute)', 'mmeb-v2')
    .option('--baseline-version <version>', `published baselines shown in md/html: ${PUBLISHED_VERSIONS.join('|')}`, DEFAULT_PUBLISHED_VERSION)
    .option('--baselines <models>', 'comma-separated published models to show (md/html), or "none"')
    .option('-o, --out <dir>', 'write report.md, report.html and summary.json into this folder (and print the table)')
    .option('--out-file <file>', 'write the --format output to this file (atomically) instead of stdout');
  // The spellings before -o/--out meant the same across commands.
  hiddenAlias(hiddenAlias(cmd, '--out-dir <dir>', 'out'), '--output <file>', 'outFile')
    .addHelpText('after', REPORT_EXAMPLES)
    .action(async (results: string[], o: Options) => {
      const format = o.format as ReportFormat;
      if (!FORMATS.includes(format)) throw new Vlm2VecError('report', `--format '${o.format}': expected one of ${FORMATS.join(', ')}`);
      if (!isPublishedBenchmark(o.benchmark)) throw new Vlm2VecError('report', `--benchmark '${o.benchmark}': expected mmeb-v2 or mmeb-v1`);
      if (!isPublishedVersion(o.baselineVersion)) {
        throw new Vlm2VecError('report', `--baseline-version '${o.baselineVersion}': expected one of ${PUBLISHED_VERSIONS.join(', ')}`);
      }
      const opts: ReportOptions = { benchmark: o.benchmark, baselineVersion: o.baselineVersion };
      if (o.baselines !== undefined) opts.baselines = o.baselines === 'none' ? [] : o.baselines.split(',').map((s) => s.trim()).filter(Boolean);
      // -o used to name one file: a file name given to --out is most likely that habit.
      if (o.out && /^\.(md|html|json|txt)$/i.test(extname(o.out)) && !isDirSync(o.out)) {
        cmd.error(`error: -o/--out ${o.out} is the folder for report.md, report.html and summary.json; ` +
          `to write one file in --format, use --out-file ${o.out}`);
      }
      // Outputs are checked before any result is read.
      if (o.out) checkOutputDir(o.out, { what: 'output folder (--out)', area: 'report' });
      if (o.outFile) checkOutputFile(o.outFile, { what: 'output file (--out-file)', area: 'report' });
      if (o.out) {
        for (const [name, f] of [['report.md', 'md'], ['report.html', 'html'], ['summary.json', 'json']] as const) {
          const file = join(o.out, name);
          await writeFileAtomic(file, await renderReport(results, f, opts));
          io.err?.(`wrote ${file}\n`);
        }
      }
      const text = await renderReport(results, format, opts);
      if (o.outFile) {
        await writeFileAtomic(o.outFile, text);
        io.err?.(`wrote ${o.outFile}\n`);
      } else {
        io.out(text);
      }
    });
}
