// `vlm2vec data pull`, `data check` and `data pull-v1`: thin argument parsing over
// src/mmeb/data/pull.ts and src/mmeb/legacy-v1/pull.ts.

import type { Command } from 'commander';
import { Vlm2VecError } from '../errors.ts';
import { isPublishedBenchmark, selectTasks } from '../mmeb/tasks/registry.ts';
import { checkData, checkDataDeep, extractCommands, planPull, pullData, type CheckRow, type PullEvent } from '../mmeb/data/pull.ts';
import type { TaskDef } from '../mmeb/tasks/types.ts';
import { STDIO, type CliOutput } from './io.ts';
import { collectList, collectTasks, pointToHelp, positiveInt } from '../util/cli-args.ts';
import { ProgressBar } from './progress.ts';
import { checkOutputDir } from '../util/fs.ts';

interface DataCliOptions {
  benchmark: string;
  // Absent when --tasks is not given (the whole benchmark).
  tasks?: string[];
  data: string;
  media?: boolean;
  extract?: boolean;
  dryRun?: boolean;
  revision?: string;
  hubUrl?: string;
  /** Seconds, like `eval --timeout`. */
  timeout: number;
  deep?: boolean;
  /** `--train CONFIG.yaml`: a training dataset_config instead of benchmark tasks. */
  train?: string;
  dataBasedir?: string;
}

interface PullV1CliOptions {
  data: string;
  subsets?: string[];
  images?: boolean;
  extract?: boolean;
  imageDir?: string;
  revision?: string;
  hubUrl?: string;
  timeout: number;
}

function tasksOf(o: DataCliOptions): TaskDef[] {
  if (!isPublishedBenchmark(o.benchmark)) throw new Vlm2VecError('data', `unknown benchmark '${o.benchmark}': expected mmeb-v2 or mmeb-v1`);
  return selectTasks(o.benchmark, o.tasks ?? []);
}

function printEvent(out: (s: string) => void, e: PullEvent): void {
  if (e.type === 'repo') out(`${e.repo}: ${e.files} file(s)`);
  else if (e.type === 'file') out(`  ${e.skipped ? 'have' : 'got '} ${e.path} (${(e.size / 1e6).toFixed(1)} MB)`);
  else out(`extracting ${e.archive} into ${e.into}`);
}

/** The hub options of the download sub-commands. */
function hubOptions(cmd: Command): Command {
  return cmd
    .option('--revision <rev>', 'hub revision (branch, tag or commit) of every repo')
    .option('--hub-url <url>', 'hub endpoint (default $HF_ENDPOINT or https://huggingface.co)')
    .option('--timeout <seconds>', 'timeout of each hub request (seconds, like eval --timeout)', positiveInt('--timeout'), 20);
}

/** The options every data sub-command shares: where the data is and which tasks. */
function taskOptions(cmd: Command): Command {
  return cmd
    .requiredOption('-d, --data <dir>', 'data directory (the --data of `vlm2vec eval`)')
    .option('-b, --benchmark <name>', 'mmeb-v2 or mmeb-v1', 'mmeb-v2')
    .option('-t, --tasks <spec>', 'task names, modalities, modality/META groups or globs (repeatable, comma-separated; default: the whole benchmark)', collectTasks);
}

/** `data pull --train CONFIG`: src/train/data/pull.ts. */
async function pullTrain(o: DataCliOptions, out: (s: string) => void): Promise<void> {
  if (o.tasks !== undefined) throw new Vlm2VecError('data', '--train and --tasks do not go together: --train fetches what the dataset_config needs');
  const { planTrainPull, pullTrainData } = await import('../train/data/pull.ts');
  const { readDatasetConfig } = await import('../train/data/config.ts');
  const basedir = o.dataBasedir ?? o.data;
  if (o.dryRun) {
    const plan = planTrainPull(readDatasetConfig(o.train!, { dataBasedir: basedir }), o.data);
    for (const r of plan.repos) out(`${r.repo} (${r.include.join(', ')}) → ${r.dir}/ for ${r.sources.join(', ')}`);
    for (const a of plan.archives) out(`media ${a.repo}: ${a.glob} (${a.kind}) → unpacked into ${a.into} for ${a.source}`);
    return;
  }
  checkOutputDir(o.data, { what: 'data folder (--data)', area: 'data' });
  let unzip: { zip: string; bar: ProgressBar } | undefined;
  // One byte bar per repo: the image zips and frame archives run to gigabytes each.
  let bytes: ProgressBar | undefined;
  const res = await pullTrainData({
    config: o.train!, dataDir: o.data, dataBasedir: basedir, media: o.media ?? false, extract: o.extract ?? false, apiTimeoutMs: o.timeout * 1000,
    onEvent: (e) => {
      if (e.type === 'repo') bytes = new ProgressBar(`downloading ${e.repo}`, { stream: process.stderr, unit: 'bytes' });
      printEvent(out, e);
    },
    onBytes: (p) => bytes?.update(p.bytesDone, p.bytesTotal),
    onUnzip: (zip, done, total) => {
      if (unzip?.zip !== zip) unzip = { zip, bar: new ProgressBar(`unzipping ${zip}`, { stream: process.stderr }) };
      unzip.bar.update(done, total);
    },
    ...(o.revision ? { revision: o.revision } : {}), ...(o.hubUrl ? { hubUrl: o.hubUrl } : {}),
    ...(process.env['HF_TOKEN'] ? { accessToken: process.env['HF_TOKEN'] } : {}),
  });
  out(`done: ${res.files} file(s); ${res.parsed.map((p) => `${p.name} ${p.examples.length} examples`).join(', ')}`);
  if (!o.extract && res.plan.archives.length > 0) {
    out(`note: images and frames are ${o.media ? 'downloaded but not unpacked; add --extract' : 'not downloaded; add --media --extract (large)'}: ${[...new Set(res.plan.archives.map((a) => a.glob))].join(', ')}`);
  }
}

export function registerData(program: Command, io: CliOutput = STDIO): void {
  const out = (s: string): void => io.out(`${s}\n`);
  const data = pointToHelp(program.command('data')).description('Download and check the MMEB data (HF dataset repos + MMEB-V2 media)');

  hubOptions(taskOptions(pointToHelp(data.command('pull'))))
    .description('Download the dataset repos the selected tasks need into DATA/<org>/<repo>/ (and, with --media, the MMEB-V2 media archives)')
    .option('--media', 'also download the TIGER-Lab/MMEB-V2 media archives (images, video frames; large)')
    .option('--extract', 'unpack the media archives with tar after downloading')
    .option('--dry-run', 'print what would be downloaded and how to extract it, download nothing')
    .option('--train <config>', "fetch what a training dataset_config (`vlm2vec train --dataset_config`) needs instead of benchmark tasks; with --media the image zips / frame archives")
    .option('--data-basedir <dir>', 'with --train: the --data_basedir of `vlm2vec train` (image_dir, dataset_path, video_frame_basedir are under it; default --data)')
    .addHelpText('after', `
Examples:
  $ vlm2vec data pull --tasks visdoc --data ./mmeb-data
  $ vlm2vec data pull --train train_alltasks.yaml --media --extract --data ./train-data
      (then: vlm2vec train --dataset_config train_alltasks.yaml --data_basedir ./train-data …)
  $ vlm2vec data pull --tasks image,video/QA --media --extract --data ./mmeb-data
  $ vlm2vec data pull --benchmark mmeb-v1 --dry-run --data ./mmeb-data
Set HF_TOKEN for gated repos.`)
    .action(async (o: DataCliOptions) => {
      if (o.train !== undefined) return pullTrain(o, out);
      const tasks = tasksOf(o);
      const plan = planPull(tasks);
      if (!o.dryRun) checkOutputDir(o.data, { what: 'data folder (--data)', area: 'data' });
      if (o.dryRun) {
        out(`${tasks.length} task(s) need ${plan.repos.length} dataset repo(s):`);
        for (const r of plan.repos) out(`  ${r.repo} (${r.include.join(', ')}) → ${o.data}/${r.repo}/`);
        for (const a of plan.media) {
          out(`media ${a.id}: ${a.files.join(', ')} (TIGER-Lab/MMEB-V2) for ${a.tasks.length} task(s); extract with:`);
          for (const c of extractCommands(a)) out(`    ${c.replace('<DATA>', o.data)}`);
        }
        return;
      }
      const res = await pullData({
        dataDir: o.data, tasks, media: o.media ?? false, extract: o.extract ?? false, apiTimeoutMs: o.timeout * 1000, onEvent: (e) => printEvent(out, e),
        ...(o.revision ? { revision: o.revision } : {}), ...(o.hubUrl ? { hubUrl: o.hubUrl } : {}),
        ...(process.env['HF_TOKEN'] ? { accessToken: process.env['HF_TOKEN'] } : {}),
      });
      out(`done: ${res.files} file(s) present under ${o.data}`);
      if (o.media && !o.extract) {
        for (const a of res.plan.media) {
          out(`extract ${a.id} with:`);
          for (const c of extractCommands(a)) out(`    ${c.replace('<DATA>', o.data)}`);
        }
      } else if (!o.media && res.plan.media.length > 0) {
        out(`note: ${res.plan.media.map((a) => a.id).join(', ')} media are not downloaded; add --media --extract (large) or see --dry-run`);
      }
    });

  taskOptions(pointToHelp(data.command('check')))
    .description('List, per task, whether its annotation files and media folder are present under DATA')
    .option('--deep', 'load every task completely (all rows, images, frame folders, qrels); writes visdoc page images')
    .addHelpText('after', `
Examples:
  $ vlm2vec data check --data ./mmeb-data
  $ vlm2vec data check --tasks image/VG,visdoc --data ./mmeb-data --deep`)
    .action(async (o: DataCliOptions) => {
      const tasks = tasksOf(o);
      const w = Math.max(4, ...tasks.map((t) => t.name.length));
      const line = (r: CheckRow): void => out(`${r.task.padEnd(w)}  ${r.annotations.padEnd(11)}  ${r.media}${r.detail ? `  — ${r.detail}` : ''}`);
      out(`${'task'.padEnd(w)}  annotations  media`);
      const rows = o.deep ? await checkDataDeep(o.data, tasks, { onTask: line }) : await checkData(o.data, tasks);
      if (!o.deep) rows.forEach(line);
      // 'not checked' (an image task whose rows cannot name its folder) is not ready either.
      const missing = rows.filter((r) => r.annotations === 'missing' || r.media === 'missing' || r.media === 'not checked').length;
      out(`${rows.length - missing}/${rows.length} task(s) ready`);
      if (missing > 0) process.exitCode = 1;
    });

  hubOptions(pointToHelp(data.command('pull-v1')))
    .description('Download the legacy V1 harness data (TIGER-Lab/MMEB-eval) into DATA/TIGER-Lab/MMEB-eval/ for `vlm2vec eval-v1`')
    .requiredOption('-d, --data <dir>', 'data directory (the --data of `vlm2vec eval-v1`)')
    .option('-s, --subsets <names>', 'subsets to fetch; repeat or comma-separate (default: the 36 MMEB datasets)', collectList)
    .option('--images', 'also download images.zip (large)')
    .option('--extract', 'unpack images.zip (implies --images); no unzip binary needed, reruns resume')
    .option('--image-dir <dir>', 'where images.zip is unpacked (default: DATA/MMEB-eval-images)')
    .addHelpText('after', `
Example:
  $ vlm2vec data pull-v1 --data ./mmeb-data --extract
  $ vlm2vec eval-v1 --model TIGER-Lab/VLM2Vec-Qwen2VL-2B --data ./mmeb-data \\
      --image-dir <the folder printed above> --out runs/v1 --image-resolution high --normalize
Set HF_TOKEN for gated repos.`)
    .action(async (o: PullV1CliOptions) => {
      checkOutputDir(o.data, { what: 'data folder (--data)', area: 'data' });
      if (o.imageDir !== undefined) checkOutputDir(o.imageDir, { what: 'image folder (--image-dir)', area: 'data' });
      const { pullV1Data } = await import('../mmeb/legacy-v1/pull.ts');
      const bar = new ProgressBar('unzipping images.zip', { stream: process.stderr });
      const res = await pullV1Data({
        dataDir: o.data, images: o.images ?? false, extract: o.extract ?? false, apiTimeoutMs: o.timeout * 1000,
        onEvent: (e) => printEvent(out, e), onUnzip: (done, total) => bar.update(done, total),
        ...(o.subsets ? { subsets: o.subsets } : {}), ...(o.imageDir ? { imageDir: o.imageDir } : {}),
        ...(o.revision ? { revision: o.revision } : {}), ...(o.hubUrl ? { hubUrl: o.hubUrl } : {}),
        ...(process.env['HF_TOKEN'] ? { accessToken: process.env['HF_TOKEN'] } : {}),
      });
      out(`done: ${res.files} file(s) in ${res.repoDir}`);
      if (res.imageDir) out(`images unpacked: pass --image-dir ${res.imageDir} to vlm2vec eval-v1`);
      else if (o.images) out(`images.zip is in ${res.repoDir}; run again with --extract to unpack it`);
      else out('note: images.zip is not downloaded; add --extract (large) to fetch and unpack it');
    });
}
