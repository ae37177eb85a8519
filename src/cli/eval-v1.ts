// `vlm2vec eval-v1`: the legacy V1 MMEB harness (TIGER-Lab/MMEB-eval, argmax accuracy; docs/mmeb.md §11).
// Parses options, builds the embedder, calls runEvalV1 (src/mmeb/legacy-v1/run.ts), shows
// progress on stderr and the accuracies on stdout.

import { Option, type Command } from 'commander';
import { checkV1Folders, runEvalV1, V1_STYLES, type EvalV1Event, type V1Style } from '../mmeb/legacy-v1/run.ts';
import { V1_GROUPS, writeV1Summary } from '../mmeb/legacy-v1/summary.ts';
import { ProgressBar, type ProgressStream } from './progress.ts';
import { Vlm2VecError } from '../errors.ts';
import { addEmbedderOptions, checkModelOptions, cliPromptStyle, openCliEmbedder, resumableOnInterrupt, type EmbedderCliOptions } from './embedder-cli.ts';
import { collectList, pointToHelp } from '../util/cli-args.ts';
import { checkOutputDir } from '../util/fs.ts';

interface EvalV1CliOptions extends EmbedderCliOptions {
  data: string;
  imageDir: string;
  out: string;
  // Absent when --subsets is not given.
  subsets?: string[];
  imageResolution?: string;
  normalize?: boolean;
  /** Absent until resolved: the local model's own style. */
  style: V1Style | undefined;
}

/** Where the command writes (tests pass their own streams). */
export interface EvalV1Io {
  stdout: ProgressStream;
  stderr: ProgressStream;
}

const EXAMPLES = `
Examples:
  # The 36 datasets, as the V1 paper's runs: images at 1344x1344, cosine scores
  $ vlm2vec eval-v1 --model TIGER-Lab/VLM2Vec-Qwen2VL-2B --data ~/mmeb-data --image-dir ~/mmeb-data/eval_images \\
      --out runs/v1-2b --image-resolution high --normalize --threads 8

  # Two subsets through an embedding server (original images, dot-product scores)
  $ vlm2vec eval-v1 --model http://gpu1:8000/v1 --data ~/MMEB-eval --image-dir ~/eval_images \\
      --out runs/v1-remote --subsets ImageNet-1K,MSCOCO_t2i

Data: --data holds TIGER-Lab/MMEB-eval/ (or is that repo folder itself: one folder per subset,
<Subset>/test-*.parquet); --image-dir is where its images.zip was unzipped.
\`vlm2vec data pull-v1 --data DIR --extract\` fetches both and prints the --image-dir to use.

Resuming: run the same command again. Finished subsets (an existing <subset>_score.json) are
skipped and every embedding already computed is read from the cache, so a crash or kill -9 costs
only the batches in flight. OUT/eval-v1-settings.json records the model, --style,
--image-resolution and --normalize; a run with other ones is refused (use another --out).

Output: OUT/<subset>_score.json ({"acc", "num_correct", "num_pred"}) and OUT/<subset>_pred.txt
(the predicted (text, image path) per row), as the reference's v1 eval.py writes them, and
OUT/summary-v1.json: the V1 paper's means ×100 (Classification, VQA, Retrieval, Grounding, IND,
OOD, Overall over datasets) of every finished subset; groups missing datasets are marked partial.
`;

/**
 * Register `vlm2vec eval-v1` on the program.
 *
 * @example
 * registerEvalV1(program); // then: vlm2vec eval-v1 --model … --data … --image-dir … --out …
 */
export function registerEvalV1(program: Command, io: EvalV1Io = { stdout: process.stdout, stderr: process.stderr }): void {
  const cmd = pointToHelp(program.command('eval-v1'))
    .description('Evaluate an embedding model with the legacy MMEB (V1) harness: TIGER-Lab/MMEB-eval, argmax accuracy per subset')
    .requiredOption('-m, --model <url|dir|hub-id>', 'embedding endpoint base URL(s) (repeat or comma-separate), or one local model: ' +
      'a model folder, a hub id (owner/name[@rev]) or a PEFT adapter folder', collectList)
    .requiredOption('-d, --data <dir>', 'folder holding TIGER-Lab/MMEB-eval/ (or that repo folder itself)')
    .requiredOption('--image-dir <dir>', 'folder where MMEB-eval\'s images.zip was unzipped (the reference\'s --image_dir)')
    .requiredOption('-o, --out <dir>', 'output folder for the result files (created; reused to resume)')
    .option('-s, --subsets <names>', 'subsets (configs) to evaluate; repeat or comma-separate (default: the 36 MMEB datasets)', collectList)
    .option('--image-resolution <res>', 'resize images first: high (1344x1344), mid (672x672), low (128x128); any other value ' +
      'resizes to 1344x1344 only images with a side > 1344; default: original images (ignored for --style phi3_v)')
    .option('--normalize', 'score by cosine similarity (the reference\'s --normalize); default: dot product')
    .addOption(new Option('--style <style>', 'backbone whose image token replaces <|image_1|> (default: a local model\'s own, ' +
      'from its config.json; qwen2_vl for endpoints)').choices([...V1_STYLES]));
  addEmbedderOptions(cmd)
    .addHelpText('after', EXAMPLES)
    .action(async (o: EvalV1CliOptions) => {
      await evalV1Command(o, io);
    });
}

async function evalV1Command(o: EvalV1CliOptions, io: EvalV1Io): Promise<void> {
  const style = (await cliPromptStyle(o, o.style)) as V1Style;
  checkModelOptions('eval-v1', o, style);
  // The folders are checked before any endpoint is contacted or model loaded.
  checkOutputDir(o.out, { what: 'output folder (--out)', area: 'eval-v1' });
  if (o.cache && o.cacheDir !== undefined) checkOutputDir(o.cacheDir, { what: 'cache folder (--cache-dir)', area: 'eval-v1' });
  checkV1Folders({ dataDir: o.data, imageDir: o.imageDir, outDir: o.out });
  const err = io.stderr;
  const created = await openCliEmbedder('eval-v1', o, style, err);
  const embedder = created.embedder;

  let bar: { key: string; bar: ProgressBar } | undefined;
  const progress = (key: string, label: string, done: number, total: number): void => {
    if (bar?.key !== key) bar = { key, bar: new ProgressBar(label, { stream: err }) };
    bar.bar.update(done, total);
  };
  const onProgress = (e: EvalV1Event): void => {
    switch (e.type) {
      case 'start': err.write(`${e.subsets.length} subset(s): ${e.subsets.join(', ')}\n`); break;
      case 'subset-skip': err.write(`[${e.index + 1}/${e.count}] ${e.subset}: already finished (${e.scoreFile}), skipped\n`); break;
      case 'subset-start': err.write(`[${e.index + 1}/${e.count}] ${e.subset}\n`); break;
      case 'loaded': err.write(`  ${e.rows} rows, ${e.queries} unique queries, ${e.targets} unique candidates\n`); break;
      case 'images': progress(`${e.subset}/images`, '  images    ', e.done, e.total); break;
      case 'approximate':
        err.write(`  note: ${e.files.length} image(s) resized approximately (Pillow mode differs), e.g. ${e.files[0]}\n`);
        break;
      case 'embed': progress(`${e.subset}/${e.role}`, e.role === 'query' ? '  queries   ' : '  candidates', e.done, e.total); break;
      case 'subset-done':
        err.write(`  acc ${e.score.acc.toFixed(4)} (${e.score.num_correct}/${e.score.num_pred}; ${e.embedded} embedded, ` +
          `${e.cached} from cache, ${e.seconds.toFixed(1)}s)\n`);
        break;
      case 'subset-failed': err.write(`  FAILED: ${e.error}\n`); break;
    }
  };

  const results = await resumableOnInterrupt(err, 'subsets', () => runEvalV1({
    embedder, dataDir: o.data, imageDir: o.imageDir, outDir: o.out, subsets: o.subsets,
    style: style, imageResolution: o.imageResolution, normalize: o.normalize ?? false,
    cacheDir: o.cache ? o.cacheDir : null, batchSize: o.batchSize,
    // One model in this process: concurrent batches would only contend for the same cores.
    concurrency: created.kind === 'local' ? 1 : o.concurrency,
    onProgress,
  }));

  // Every finished subset of OUT (earlier runs' too) goes into the summary, partial groups flagged.
  const { summary, file } = await writeV1Summary(o.out, embedder.id, results.map((r) => r.subset));
  const fmt = (v: number): string => v.toFixed(2).padStart(6);
  const lines = results.filter((r) => r.score).map((r) => `  ${r.subset.padEnd(20)} ${fmt(r.score!.acc * 100)}`);
  const groups = V1_GROUPS.filter((g) => summary.scores[g] !== undefined).map((g) => {
    const p = summary.partial[g];
    return `  ${g.padEnd(20)} ${fmt(summary.scores[g]!)}${p ? `  (partial: ${p.n}/${p.expected} datasets)` : ''}`;
  });
  io.stdout.write(`Accuracy (×100) of ${embedder.id}:\n${[...lines, ...groups].join('\n')}\nsummary: ${file}\n`);
  const failed = results.filter((r) => r.status === 'failed');
  if (failed.length > 0) {
    const shown = failed.slice(0, 3).map((r) => `  ${r.subset}: ${r.error}`);
    if (failed.length > 3) shown.push(`  and ${failed.length - 3} more (errors above): ${failed.slice(3).map((r) => r.subset).join(', ')}`);
    throw new Vlm2VecError('eval-v1', `${failed.length} subset(s) failed:\n${shown.join('\n')}`);
  }
}
