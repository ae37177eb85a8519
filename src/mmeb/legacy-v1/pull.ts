// `vlm2vec data pull-v1`: the legacy V1 harness's data — TIGER-Lab/MMEB-eval's subset folders
// and its images.zip — downloaded into DATA/TIGER-Lab/MMEB-eval/ (the layout eval-v1 reads), and
// images.zip unpacked without an `unzip` binary. Reruns keep finished downloads and files.

import { join } from 'node:path';
import { extractZip } from '../../io/archive/zip-extract.ts';
import { hubEndpoint, pullRepo, type RepoPullOptions } from '../data/pull.ts';
import { V1_REPO } from './load.ts';
import { V1_SUBSETS } from './run.ts';

/** The image archive of TIGER-Lab/MMEB-eval (docs/mmeb.md §11). */
export const V1_IMAGES_ZIP = 'images.zip';

export interface PullV1Options extends RepoPullOptions {
  dataDir: string;
  /** Subsets (configs) to fetch (default: the 36 MMEB datasets). */
  subsets?: readonly string[];
  /** Also download images.zip (large). */
  images?: boolean;
  /** Unpack images.zip into `imageDir` after downloading. */
  extract?: boolean;
  /** Where images.zip is unpacked (default DATA/MMEB-eval-images). */
  imageDir?: string;
  hubUrl?: string;
  onUnzip?: (done: number, total: number) => void;
}

export interface PullV1Result {
  repoDir: string;
  files: number;
  /** The folder to pass as eval-v1's --image-dir, when images.zip was unpacked. */
  imageDir?: string;
}

/** Hub globs of the files eval-v1 needs for `subsets` (and images.zip when asked). */
export function v1Include(subsets: readonly string[], images: boolean): string[] {
  return ['README.md', ...subsets.map((s) => `${s}/**/*.parquet`), ...(images ? [V1_IMAGES_ZIP] : [])];
}

/**
 * Downloads what eval-v1 needs into `DATA/TIGER-Lab/MMEB-eval/` and optionally unpacks the
 * images. When every file of images.zip sits under one top folder, the returned `imageDir` is
 * that folder (the paths in the parquet files are relative to it).
 *
 * @example await pullV1Data({ dataDir: './mmeb-data', subsets: ['ImageNet-1K'], images: true, extract: true });
 */
export async function pullV1Data(opts: PullV1Options): Promise<PullV1Result> {
  const hubUrl = hubEndpoint(opts.hubUrl);
  const repoDir = join(opts.dataDir, ...V1_REPO.split('/'));
  const images = opts.images === true || opts.extract === true;
  // eval-v1 checks the data folders before it embeds anything: the check for a hand-copied repo.
  const files = await pullRepo(V1_REPO, v1Include(opts.subsets ?? V1_SUBSETS, images), repoDir, { ...opts, checkCommand: 'vlm2vec eval-v1' }, hubUrl);
  if (!opts.extract) return { repoDir, files };
  const zip = join(repoDir, V1_IMAGES_ZIP);
  const into = opts.imageDir ?? join(opts.dataDir, 'MMEB-eval-images');
  const { names } = await extractZip(zip, into, { onEntry: (e) => opts.onUnzip?.(e.index + 1, e.count) });
  const top = singleTopFolder(names);
  return { repoDir, files, imageDir: top === undefined ? into : join(into, top) };
}

/** The one top-level folder every file name lies under, if there is one. */
function singleTopFolder(names: readonly string[]): string | undefined {
  const tops = new Set(names.map((n) => (n.includes('/') ? n.slice(0, n.indexOf('/')) : '')));
  const [only] = tops;
  return tops.size === 1 && only !== '' ? only : undefined;
}
