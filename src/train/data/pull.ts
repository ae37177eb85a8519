// `vlm2vec data pull --train CONFIG.yaml`: what a dataset_config needs from the hub, in the
// layout `vlm2vec train` reads (the reference's experiments/public/data/download_data.sh, without
// git clones of whole repos):
//
// - `mmeb` sources: TIGER-Lab/MMEB-train's card and the subset's `<Subset>/<split>-*.parquet` into
//   DATA/TIGER-Lab/MMEB-train/; with media, `images_zip/<Subset>.zip` beside them, unpacked under
//   the source's `image_dir` so that the rows' `images/<Subset>/Train/…` paths resolve (zips that
//   hold `<Subset>/…` go into `image_dir/images/`, as download_data.sh's unzip_file.py puts them).
// - `vidore`, `visrag`: the dataset repo's card and `<split>-*.parquet` files (page images are in
//   the parquet) into DATA/<org>/<repo>/.
// - `llavahound_caption` / `llavahound_qa`: ShareGPTVideo/train_video_and_instruction, whose root
//   is where `dataset_path` (…/video_instruction/train/sft/<file>.jsonl) says: that annotation file;
//   with media, the frame archives `<video_frame_basedir>/*.tar.gz`, unpacked in that folder.
//
// Downloads resume file by file (src/io/hub.ts); unzipping skips files already there; a tar
// archive unpacked once is marked done. After pulling, the config is parsed as `vlm2vec train`
// will parse it (images and frames checked when media were fetched), so what is missing is named now.

import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, join, relative, sep } from 'node:path';
import { Vlm2VecError } from '../../errors.ts';
import { extractZip } from '../../io/archive/zip-extract.ts';
import { readZipDirectory } from '../../io/archive/torch-zip.ts';
import { hubEndpoint, pullRepo, untar, type PullEvent, type RepoPullOptions } from '../../mmeb/data/pull.ts';
import { readDatasetConfig, type DataSourceConfig } from './config.ts';
import { checkParsersImplemented, loadTrainSources } from './load.ts';
import type { ParsedSource } from './types.ts';

/** The LLaVA-Hound repo of the video sources (download_data.sh clones it). */
export const LLAVA_HOUND_REPO = 'ShareGPTVideo/train_video_and_instruction';

/** One hub repo to fetch files of. */
export interface TrainRepoPlan {
  repo: string;
  /** Local folder of the repo's root. */
  dir: string;
  /** Globs of the files needed (annotations; archives are in `archives`). */
  include: string[];
  sources: string[];
}

/** One media archive of a repo and where it is unpacked. */
export interface TrainArchivePlan {
  repo: string;
  /** Glob of the archive path(s) in the repo. */
  glob: string;
  kind: 'zip' | 'tar';
  /** For a zip, `image_dir`; for tar archives, the frame folder they unpack in. */
  into: string;
  source: string;
}

export interface TrainPullPlan {
  repos: TrainRepoPlan[];
  archives: TrainArchivePlan[];
}

/**
 * What a dataset_config's sources need (sources as read with `dataBasedir`, so `image_dir`,
 * `dataset_path` and `video_frame_basedir` are already under it).
 *
 * @example planTrainPull(readDatasetConfig('mix.yaml', { dataBasedir: 'data' }), 'data').repos[0] // { repo: 'TIGER-Lab/MMEB-train', include: ['README.md', 'ImageNet_1K/original-*.parquet', …], … }
 */
export function planTrainPull(sources: readonly DataSourceConfig[], dataDir: string): TrainPullPlan {
  const repos = new Map<string, TrainRepoPlan>();
  const archives: TrainArchivePlan[] = [];
  const repo = (id: string, dir: string, src: string): TrainRepoPlan => {
    const r = repos.get(`${id}\0${dir}`) ?? { repo: id, dir, include: ['README.md'], sources: [] };
    repos.set(`${id}\0${dir}`, r);
    if (!r.sources.includes(src)) r.sources.push(src);
    return r;
  };
  const add = (r: TrainRepoPlan, glob: string): void => {
    if (!r.include.includes(glob)) r.include.push(glob);
  };
  const at = (s: DataSourceConfig): string => `source '${s.name}' of ${s.file}`;
  for (const s of sources) {
    const need = (key: 'dataset_name' | 'subset_name' | 'image_dir' | 'dataset_path' | 'video_frame_basedir'): string => {
      const v = s[key];
      if (v === undefined) throw new Vlm2VecError('train-data', `${at(s)}: key '${key}' is required to know what to download`);
      return v;
    };
    switch (s.dataset_parser) {
      case 'mmeb': {
        const name = need('dataset_name');
        const subset = need('subset_name');
        const r = repo(name, join(dataDir, ...name.split('/')), s.name);
        add(r, `${subset}/${s.dataset_split ?? 'original'}-*.parquet`);
        archives.push({ repo: name, glob: `images_zip/${subset}.zip`, kind: 'zip', into: need('image_dir'), source: s.name });
        break;
      }
      case 'vidore':
      case 'visrag': {
        if (s.dataset_name === undefined && s.dataset_path !== undefined) break; // a local parquet file
        const name = need('dataset_name');
        add(repo(name, join(dataDir, ...name.split('/')), s.name), `**/${s.dataset_split ?? 'train'}-*.parquet`);
        break;
      }
      case 'llavahound_caption':
      case 'llavahound_qa': {
        const path = need('dataset_path');
        const cut = path.split(sep).join('/').lastIndexOf('/video_instruction/');
        if (cut < 0) {
          throw new Vlm2VecError('train-data', `${at(s)}: dataset_path ${path} is not inside a copy of ${LLAVA_HOUND_REPO} (…/video_instruction/train/sft/<file>.jsonl), so its root is unknown`);
        }
        const root = path.slice(0, cut);
        const r = repo(LLAVA_HOUND_REPO, root, s.name);
        add(r, relative(root, path).split(sep).join('/'));
        const frames = need('video_frame_basedir');
        const rel = relative(root, frames).split(sep).join('/');
        if (rel.startsWith('..') || rel === '') {
          throw new Vlm2VecError('train-data', `${at(s)}: video_frame_basedir ${frames} is not a folder of ${LLAVA_HOUND_REPO} at ${root} (e.g. ${root}/train_300k)`);
        }
        if (!archives.some((a) => a.glob === `${rel}/*.tar.gz` && a.into === frames)) archives.push({ repo: LLAVA_HOUND_REPO, glob: `${rel}/*.tar.gz`, kind: 'tar', into: frames, source: s.name });
        break;
      }
      default:
        // checkParsersImplemented refused the rest before planning.
        throw new Vlm2VecError('train-data', `${at(s)}: no download plan for dataset_parser ${s.dataset_parser}`);
    }
  }
  return { repos: [...repos.values()], archives };
}

export interface PullTrainOptions extends RepoPullOptions {
  /** The dataset_config YAML. */
  config: string;
  /** Where dataset repos go (`DIR/<org>/<repo>`): train's `--data`. */
  dataDir: string;
  /** train's `--data_basedir` (image_dir, dataset_path and frames are under it); default `dataDir`. */
  dataBasedir?: string;
  /** Also fetch the image zips and frame archives (large). */
  media?: boolean;
  /** Unpack them (implies `media`). */
  extract?: boolean;
  hubUrl?: string;
  /** Progress of an unzip: entries done / total. */
  onUnzip?: (archive: string, done: number, total: number) => void;
}

export interface PullTrainResult {
  plan: TrainPullPlan;
  /** Files present (annotations and archives). */
  files: number;
  /** Archives unpacked (or found unpacked). */
  extracted: string[];
  /** The sources as `vlm2vec train` parses them now. */
  parsed: ParsedSource[];
}

/** Where a zip's files go so that `images/<Subset>/…` lands under image_dir. */
async function zipTarget(zip: string, imageDir: string): Promise<string> {
  const fh = await open(zip, 'r');
  try {
    const names = [...(await readZipDirectory(fh, zip, (await fh.stat()).size)).keys()].filter((n) => !n.endsWith('/'));
    return names.length > 0 && names.every((n) => n.startsWith('images/')) ? imageDir : join(imageDir, 'images');
  } finally {
    await fh.close();
  }
}

/**
 * Downloads (and with `extract`, unpacks) what a dataset_config needs; see the file header.
 *
 * @example await pullTrainData({ config: 'train_alltasks.yaml', dataDir: 'data', media: true, extract: true });
 */
export async function pullTrainData(opts: PullTrainOptions): Promise<PullTrainResult> {
  const basedir = opts.dataBasedir ?? opts.dataDir;
  const sources = readDatasetConfig(opts.config, { dataBasedir: basedir });
  checkParsersImplemented(sources);
  const plan = planTrainPull(sources, opts.dataDir);
  const hubUrl = hubEndpoint(opts.hubUrl);
  const media = opts.media === true || opts.extract === true;
  let files = 0;
  const check = { ...opts, checkCommand: `vlm2vec data pull --train ${opts.config}` };
  for (const r of plan.repos) {
    const mine = media ? plan.archives.filter((a) => a.repo === r.repo).map((a) => a.glob) : [];
    files += await pullRepo(r.repo, [...r.include, ...mine], r.dir, check, hubUrl);
  }
  const extracted: string[] = [];
  if (opts.extract) {
    for (const a of plan.archives) {
      const dir = plan.repos.find((r) => r.repo === a.repo && (a.kind === 'zip' || a.into.startsWith(r.dir)))!.dir;
      if (a.kind === 'zip') {
        const zip = join(dir, a.glob);
        if (!existsSync(zip)) throw new Vlm2VecError('data', `${a.repo} has no ${a.glob} (for source '${a.source}'): the hub listing did not include it`);
        const into = await zipTarget(zip, a.into);
        opts.onEvent?.({ type: 'extract', archive: zip, into });
        await extractZip(zip, into, { onEntry: (e) => opts.onUnzip?.(zip, e.index + 1, e.count) });
        extracted.push(zip);
      } else {
        const folder = join(dir, a.glob.slice(0, a.glob.lastIndexOf('/')));
        const tars = existsSync(folder) ? readdirSync(folder).filter((f) => f.endsWith('.tar.gz') && !f.startsWith('.')).sort() : [];
        if (tars.length === 0) throw new Vlm2VecError('data', `${a.repo}: no ${a.glob} archives under ${folder} (for source '${a.source}')`);
        for (const t of tars) {
          // A marker per archive: tar has no cheap "already unpacked" test, and frames are many.
          const done = join(a.into, `.vlm2vec-extracted-${basename(t)}.done`);
          const archive = join(folder, t);
          if (existsSync(done) && statSync(done).mtimeMs >= statSync(archive).mtimeMs) {
            extracted.push(archive);
            continue;
          }
          opts.onEvent?.({ type: 'extract', archive, into: a.into });
          await untar([archive], a.into);
          writeFileSync(done, `${t}\n`);
          extracted.push(archive);
        }
      }
    }
  }
  // As `vlm2vec train` will read it: the images and frames are checked once they are unpacked. (The
  // prompt style only picks the image token the texts get; any backbone's will do for a check.)
  const parsed = await loadTrainSources(sources, { dataDir: opts.dataDir, style: 'qwen2_vl', checkImages: opts.extract === true });
  return { plan, files, extracted, parsed };
}

export type { PullEvent };
