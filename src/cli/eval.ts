// `vlm2vec eval`: parse options, build the embedder, call runEval, show progress on stderr and
// the summary on stdout. Everything else lives in src/mmeb/run/eval.ts (the library API).

import { Option, type Command } from 'commander';
import { prepareEval, runEval, type EvalEvent } from '../mmeb/run/eval.ts';
import { isBenchmarkName } from '../mmeb/tasks/registry.ts';
import { GROUPS } from '../mmeb/score/aggregate.ts';
import { ProgressBar } from './progress.ts';
import { Vlm2VecError } from '../errors.ts';
import { addEmbedderOptions, checkModelOptions, cliPromptStyle, openCliEmbedder, resumableOnInterrupt, type EmbedderCliOptions } from './embedder-cli.ts';
import { PROMPT_STYLES, type PromptStyle } from '../embed/prompt.ts';
import { collectList, collectTasks, pointToHelp } from '../util/cli-args.ts';
import { IMAGE_RESOLUTIONS, type ImageResolution } from '../mmeb/load/resize.ts';
import { checkOutputDir } from '../util/fs.ts';
import { warnToStderr } from '../util/warn.ts';

interface EvalCliOptions extends EmbedderCliOptions {
  // Absent when --tasks is not given.
  tasks?: string[];
  benchmark: string;
  data: string;
  out: string;
  /** Absent until resolved: the local model's own style. */
  style: PromptStyle | undefined;
  vidoreInstructions: 'nonempty' | 'empty';
  momentseeker: '1602' | '1800';
  pageData: 'fixed' | 'old';
  gradedNdcg: 'reference' | 'corrected';
  imageResolution?: ImageResolution;
}

const EXAMPLES = `
Examples:
  # A local model in this process: a folder, a hub id (downloaded once into the cache) or a PEFT
  # adapter folder (its adapter_config.json names the base model)
  $ vlm2vec eval --model TIGER-Lab/VLM2Vec-Qwen2VL-2B --benchmark mmeb-v1 --tasks v1/IND \\
      --data ~/mmeb-data --out runs/local-2b --threads 8
  $ vlm2vec eval --model ~/models/Qwen2-VL-2B-Instruct --adapter ~/ckpt/VLM2Vec-V2.0 \\
      --tasks image --data ~/mmeb-data --out runs/v2-local

  # Whole MMEB-V2 against two GPU servers speaking the vlm2vec protocol
  $ vlm2vec eval --model http://gpu1:8000/v1,http://gpu2:8000/v1 --benchmark mmeb-v2 \\
      --data ~/mmeb-data --out runs/vlm2vec-2b --concurrency 8

  # The visual-grounding group and the MSCOCO tasks through vLLM (its chat form carries no video)
  $ vlm2vec eval --model http://localhost:8000 --protocol vllm --model-name TIGER-Lab/VLM2Vec-Full \\
      --benchmark mmeb-v2 --tasks image/VG --tasks 'MSCOCO_*' --data ~/mmeb-data --out runs/vllm

Resuming: run the same command again. Finished tasks (an existing <Task>_score.json) are
skipped and every embedding already computed is read from the cache, so a crash or kill -9
costs only the batches that were in flight. OUT/eval-settings.json records the model, --style
and data versions (and --image-resolution) of the folder's results; a run with other ones is
refused (use another --out).
Changing --graded-ndcg re-scores the graded visdoc tasks from the cache.

Output: OUT/<modality>/<Task>_score.json and <Task>_pred.jsonl in the reference layout, and
OUT/summary.json (scores ×100 per group; groups missing tasks are listed under "partial").
`;

/** Register `vlm2vec eval` on the program. */
export function registerEval(program: Command): void {
  const cmd = pointToHelp(program.command('eval'))
    .description('Evaluate an embedding model on MMEB-V2 or MMEB (V1) and write reference-format result files')
    .requiredOption('-m, --model <url|dir|hub-id>', 'embedding endpoint base URL (http(s)://host:port[/v1]); repeat or comma-separate to spread ' +
      'the work over several servers (a dead one is dropped, the others carry on). Or one local model run in this process: a ' +
      'model folder, a hub id (owner/name[@rev], cached) or a PEFT adapter folder', collectList)
    .addOption(new Option('-b, --benchmark <name>', 'benchmark').choices(['mmeb-v2', 'mmeb-v1', 'mini']).default('mmeb-v2'))
    .option('-t, --tasks <spec>', 'tasks to run: names, modalities (image|video|visdoc), groups (video/MRET, v1/IND), ' +
      "globs ('ViDoRe_*'), or all; repeat or comma-separate (default: the whole benchmark)", collectTasks)
    .requiredOption('-d, --data <dir>', 'data folder: HF dataset repos as <dir>/<org>/<repo>/ plus image-tasks/, video-tasks/, visdoc-tasks/')
    .requiredOption('-o, --out <dir>', 'output folder for result files (created; reused to resume)')
    .addOption(new Option('--style <style>', 'prompt style of the backbone (image/video placeholder tokens in the text); ' +
      'default: a local model\'s own (its config.json), qwen2_vl for endpoints').choices([...PROMPT_STYLES]))
    .addOption(new Option('--vidore-instructions <which>', 'vidore parser instructions: nonempty (reference since 2025-11) or ' +
      'empty (the code of the v2.0.0/v2.0.1 score commits)').choices(['nonempty', 'empty']).default('nonempty'))
    .addOption(new Option('--momentseeker <version>', 'MomentSeeker data: 1602 (deduplicated, current) or 1800 (v2.0.0)')
      .choices(['1602', '1800']).default('1602'))
    .addOption(new Option('--page-data <which>', 'ViDoSeek/MMLongBench page tasks: fixed (*-page-fixed repos, current) or old')
      .choices(['fixed', 'old']).default('fixed'))
    .addOption(new Option('--graded-ndcg <mode>', 'graded nDCG: reference (reproduce the reference label-order quirk) or ' +
      'corrected (grade each document by its own qrel)').choices(['reference', 'corrected']).default('reference'))
    .addOption(new Option('--image-resolution <res>', "the reference's --resize_use_processor false --image_resolution: resize " +
      'the images and frames it resizes (all but video-QA frames) to high 1344², mid 672² or low 128² with Pillow\'s default ' +
      'filter, into OUT/.resized/ (the published VLM2Vec-V1-Qwen2VL scores used high; default: images as they are)')
      .choices([...IMAGE_RESOLUTIONS]));
  addEmbedderOptions(cmd)
    .addHelpText('after', EXAMPLES)
    .action(async (o: EvalCliOptions) => {
      await evalCommand(o);
    });
}

async function evalCommand(o: EvalCliOptions): Promise<void> {
  const benchmark = o.benchmark;
  if (!isBenchmarkName(benchmark)) throw new Vlm2VecError('eval', `unknown benchmark '${benchmark}'`);
  const style = (await cliPromptStyle(o, o.style)) as PromptStyle;
  checkModelOptions('eval', o, style);
  // The reference's processor keeps VLM2Vec's pixel bounds (3136 / 1,003,520) after its
  // --image_resolution resize, so a 1344² image is shrunk again to 980²; other bounds change that.
  if (o.imageResolution !== undefined && ((o.minPixels ?? 3136) !== 3136 || (o.maxPixels ?? 1003520) !== 1003520)) {
    warnToStderr('--image-resolution reproduces the reference only with its processor bounds ' +
      '(--min-pixels 3136 --max-pixels 1003520, the defaults); the ones given change what the model sees');
  }
  const registry = { vidoreInstructions: o.vidoreInstructions, momentSeeker: o.momentseeker, pageData: o.pageData };
  // Task names, --data, --out and --cache-dir are checked before any endpoint is contacted or model loaded.
  checkOutputDir(o.out, { what: 'output folder (--out)', area: 'eval' });
  if (o.cache && o.cacheDir !== undefined) checkOutputDir(o.cacheDir, { what: 'cache folder (--cache-dir)', area: 'eval' });
  prepareEval({ benchmark, tasks: o.tasks ?? [], dataDir: o.data, outDir: o.out, registry });
  const err = process.stderr;
  const created = await openCliEmbedder('eval', o, style, err);
  const embedder = created.embedder;

  let bar: { key: string; bar: ProgressBar } | undefined;
  const onProgress = (e: EvalEvent): void => {
    switch (e.type) {
      case 'start':
        err.write(`${e.tasks.length} task(s): ${e.tasks.join(', ')}\n`);
        break;
      case 'task-skip':
        err.write(`[${e.index + 1}/${e.count}] ${e.task}: already finished (${e.scoreFile}), skipped\n`);
        break;
      case 'task-start':
        err.write(`[${e.index + 1}/${e.count}] ${e.task}\n`);
        break;
      case 'loaded':
        err.write(`  ${e.queries} queries, ${e.candidates} candidates\n`);
        break;
      case 'resize': {
        const key = `${e.task}/resize`;
        if (bar?.key !== key) bar = { key, bar: new ProgressBar('  resizing  ') };
        bar.bar.update(e.done, e.total);
        break;
      }
      case 'embed': {
        const key = `${e.task}/${e.role}`;
        if (bar?.key !== key) bar = { key, bar: new ProgressBar(`  ${e.role === 'query' ? 'queries   ' : 'candidates'}`) };
        bar.bar.update(e.done, e.total);
        break;
      }
      case 'ranking':
        break;
      case 'task-done':
        err.write(`  hit@1 ${e.scores['hit@1'].toFixed(4)}  ndcg_linear@5 ${e.scores['ndcg_linear@5'].toFixed(4)}  ` +
          `(${e.embedded} embedded, ${e.cached} from cache, ${e.seconds.toFixed(1)}s)\n`);
        break;
      case 'task-failed':
        err.write(`  FAILED: ${e.error}\n`);
        break;
    }
  };

  const result = await resumableOnInterrupt(err, 'tasks', () => runEval({
    embedder,
    benchmark,
    tasks: o.tasks ?? [],
    dataDir: o.data,
    outDir: o.out,
    cacheDir: o.cache ? (o.cacheDir ?? undefined) : null,
    batchSize: o.batchSize,
    // One model in this process: concurrent batches would only contend for the same cores.
    concurrency: created.kind === 'local' ? 1 : o.concurrency,
    style: style,
    registry,
    gradedNdcg: o.gradedNdcg,
    imageResolution: o.imageResolution,
    onProgress,
  }));

  const s = result.summary;
  const lines = GROUPS.filter((g) => s.scores[g] !== undefined).map((g) => {
    const p = s.partial[g];
    return `  ${g.padEnd(14)} ${s.scores[g]!.toFixed(2).padStart(6)}${p ? `  (partial: ${p.n}/${p.expected} tasks)` : ''}`;
  });
  process.stdout.write(`Scores (×100) of ${s.model}:\n${lines.join('\n')}\nsummary: ${result.summaryFile}\n`);
  const failed = result.tasks.filter((t) => t.status === 'failed');
  if (failed.length > 0) {
    // Every error was printed as it happened; repeat a few in full, then only the names (a whole
    // benchmark over partly downloaded data would otherwise print dozens of them twice).
    const shown = failed.slice(0, 3).map((t) => `  ${t.task.name}: ${t.error}`);
    if (failed.length > 3) shown.push(`  and ${failed.length - 3} more (errors above): ${failed.slice(3).map((t) => t.task.name).join(', ')}`);
    throw new Vlm2VecError('eval', `${failed.length} task(s) failed:\n${shown.join('\n')}`);
  }
}
