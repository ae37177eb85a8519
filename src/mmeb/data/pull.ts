// `vlm2vec data pull` / `data check` as a library: which hub repos and MMEB-V2 media archives the
// selected tasks need, downloading them (src/io/hub.ts, i.e. @huggingface/hub) into the `--data DIR` layout
// (`DATA/<org>/<repo>/…` for annotations; the TIGER-Lab/MMEB-V2 archives at DATA's root, as
// `download_data.sh` clones that repo there), optional extraction with `tar`, and a fast, clear
// failure when the hub cannot be reached.

import { spawn } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, readdirSync, renameSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { downloadRepo, type DownloadProgress } from '../../io/hub.ts';
import { Vlm2VecError, errorDetail } from '../../errors.ts';
import { ignoreWarnings } from '../../util/warn.ts';
import { EXTRACTING_PARSERS, rawVideoRoot } from '../load/context.ts';
import type { TaskDef } from '../tasks/types.ts';
import { findDataFiles, globToRegExp } from './discover.ts';
import { readRows } from './read.ts';

/** The repo holding the MMEB-V2 media archives (image files, video frames). */
export const MEDIA_REPO = 'TIGER-Lab/MMEB-V2';

/** One annotation repo to download, with the globs of the files needed. */
export interface RepoPlan {
  repo: string;
  include: string[];
  tasks: string[];
}

/** What the loaders read from an annotation repo: the card and the data files. Video or image
 *  archives some repos also carry (e.g. lmms-lab/YouCook2) are not needed: frames come from
 *  the MMEB-V2 media archives. */
export const ANNOTATION_GLOBS: readonly string[] = ['README.md', '**/*.parquet', '**/*.jsonl', '**/*.json'];

/** One media archive of TIGER-Lab/MMEB-V2 (several parts are concatenated before `tar`). */
export interface MediaArchive {
  id: 'image' | 'video_cls' | 'video_ret' | 'video_mret' | 'video_qa';
  /** Paths inside the MMEB-V2 repo, downloaded to the same path under DATA. */
  files: string[];
  /** Folder (relative to DATA) that `tar -x` runs into. */
  extractTo: string;
  tasks: string[];
}

export interface PullPlan {
  repos: RepoPlan[];
  media: MediaArchive[];
}

const ARCHIVES: Record<MediaArchive['id'], Omit<MediaArchive, 'tasks' | 'id'>> = {
  image: { files: ['image-tasks/mmeb_v1.tar.gz'], extractTo: 'image-tasks' },
  video_cls: { files: ['video-tasks/frames/video_cls.tar.gz'], extractTo: 'video-tasks/frames/video_cls' },
  video_ret: { files: ['video-tasks/frames/video_ret.tar.gz'], extractTo: 'video-tasks/frames/video_ret' },
  video_mret: { files: ['video-tasks/frames/video_mret.tar.gz'], extractTo: 'video-tasks/frames' },
  video_qa: { files: [0, 1, 2, 3, 4].map((i) => `video-tasks/frames/video_qa.tar.gz-0${i}`), extractTo: 'video-tasks/frames' },
};

function archiveOf(t: TaskDef): MediaArchive['id'] | undefined {
  if (t.modality === 'image') return 'image';
  if (t.modality !== 'video') return undefined; // visdoc pages live in the corpus parquet
  return ({ CLS: 'video_cls', RET: 'video_ret', MRET: 'video_mret', QA: 'video_qa' } as const)[t.meta as 'CLS' | 'RET' | 'MRET' | 'QA'];
}

/**
 * What to download for a task list: each annotation repo once (only the selected configs of
 * `ziyjiang/MMEB_Test_Instruct`), and each needed media archive once.
 *
 * @example
 * const plan = planPull([getTask('MSCOCO_t2i'), getTask('K700')]);
 * plan.repos.map((r) => r.repo); // ['ziyjiang/MMEB_Test_Instruct', 'VLM2Vec/Kinetics-700']
 * plan.media.map((m) => m.id);   // ['image', 'video_cls']
 */
export function planPull(tasks: readonly TaskDef[]): PullPlan {
  const repos = new Map<string, RepoPlan>();
  const media = new Map<MediaArchive['id'], MediaArchive>();
  for (const t of tasks) {
    const r = repos.get(t.source.repo) ?? { repo: t.source.repo, include: [...ANNOTATION_GLOBS], tasks: [] };
    r.tasks.push(t.name);
    // The image repo holds all 36+ configs; fetch only those asked for (plus the card).
    if (t.source.repo === 'ziyjiang/MMEB_Test_Instruct' && t.source.configs) {
      const prev = r.include.filter((g) => g === 'README.md' || !ANNOTATION_GLOBS.includes(g));
      r.include = [...new Set([...prev, ...t.source.configs.flatMap((c) => [`${c}/**/*.parquet`, `${c}/**/*.jsonl`])])];
    }
    repos.set(t.source.repo, r);
    const a = archiveOf(t);
    if (a) {
      const m = media.get(a) ?? { id: a, ...ARCHIVES[a], tasks: [] };
      m.tasks.push(t.name);
      media.set(a, m);
    }
  }
  return { repos: [...repos.values()], media: [...media.values()] };
}

/** The shell commands that unpack an archive (what `--extract` runs, shown otherwise). */
export function extractCommands(a: MediaArchive): string[] {
  const cds = `cd <DATA>`;
  if (a.files.length > 1) return [cds, `mkdir -p ${a.extractTo}`, `cat ${a.files.join(' ')} | tar -xz -C ${a.extractTo}`];
  const cmds = [cds, `mkdir -p ${a.extractTo}`, `tar -xzf ${a.files[0]} -C ${a.extractTo}`];
  if (a.id === 'image') cmds.push('mv image-tasks/MMEB/* image-tasks/ && rmdir image-tasks/MMEB');
  return cmds;
}

/** Progress events of {@link pullData}. */
export type PullEvent =
  | { type: 'repo'; repo: string; files: number }
  | { type: 'file'; repo: string; path: string; size: number; skipped: boolean }
  | { type: 'extract'; archive: string; into: string };

export interface PullOptions {
  dataDir: string;
  tasks: readonly TaskDef[];
  /** Also download the MMEB-V2 media archives (tens of GB for the full benchmark). */
  media?: boolean;
  /** Unpack the media archives with `tar` after downloading. */
  extract?: boolean;
  revision?: string;
  hubUrl?: string;
  accessToken?: string;
  /** Max wait for the response headers of each hub request, so an unreachable hub fails fast. Default 20 s. */
  apiTimeoutMs?: number;
  onEvent?: (e: PullEvent) => void;
}

/** The hub endpoint: `url`, else $HF_ENDPOINT, else huggingface.co (no trailing slash). */
export function hubEndpoint(url?: string): string {
  return (url ?? process.env['HF_ENDPOINT'] ?? 'https://huggingface.co').replace(/\/+$/, '');
}

/** The hub settings and progress callback a repo download reads. */
export type RepoPullOptions = Pick<PullOptions, 'revision' | 'accessToken' | 'apiTimeoutMs' | 'onEvent'> & {
  /** How to check a hand-copied folder, for the offline message (default: `vlm2vec data check`). */
  checkCommand?: string;
  /** Byte progress over the repo's files (for a progress bar on multi-GB archives). */
  onBytes?: (p: DownloadProgress) => void;
};

/**
 * Download one dataset repo's files matching `include` (globs) into `destRoot`; files already
 * there with the listed size are kept. Returns how many files the repo has there.
 */
export async function pullRepo(repo: string, include: readonly string[], destRoot: string, opts: RepoPullOptions, hubUrl: string): Promise<number> {
  const res = include.map(globToRegExp);
  let announced = false;
  try {
    const r = await downloadRepo({
      repo, repoType: 'dataset', destDir: destRoot, hubUrl, timeoutMs: opts.apiTimeoutMs ?? 20_000,
      include: (p) => res.some((re) => re.test(p)),
      ...(opts.revision ? { revision: opts.revision } : {}), ...(opts.accessToken ? { accessToken: opts.accessToken } : {}),
      onProgress: (p) => {
        if (!announced) { announced = true; opts.onEvent?.({ type: 'repo', repo, files: p.fileCount }); }
        opts.onBytes?.(p);
        // downloadRepo reports 0 bytes once for a file it keeps, then per chunk while fetching.
        if (p.fileBytes === 0 && p.fileTotal > 0) opts.onEvent?.({ type: 'file', repo, path: p.file, size: p.fileTotal, skipped: true });
        else if (p.fileBytes === p.fileTotal) opts.onEvent?.({ type: 'file', repo, path: p.file, size: p.fileTotal, skipped: false });
      },
    });
    return r.files.length;
  } catch (err) {
    const msg = errorDetail(err, 'hub');
    const offline = /cannot reach/.test(msg);
    throw new Vlm2VecError('data', `dataset ${repo}: ${msg}${offline
      ? ` To prepare DATA without network here, fetch the repos elsewhere (e.g. \`git clone ${hubUrl}/datasets/${repo}\`), copy them to <DATA>/<org>/<repo>/ and run \`${opts.checkCommand ?? 'vlm2vec data check'}\`.`
      : ''}`, { cause: err });
  }
}

/** Run `tar -xz` into `into`, feeding it the archive parts in order (like `cat parts | tar -xz`). */
export async function untar(parts: string[], into: string): Promise<void> {
  mkdirSync(into, { recursive: true });
  const tar = spawn('tar', ['-xz', '-C', into], { stdio: ['pipe', 'inherit', 'inherit'] });
  const done = new Promise<void>((resolve, reject) => {
    tar.on('error', (err) => reject(new Vlm2VecError('data', `cannot run tar to extract ${parts.join(', ')}: ${err.message}`, { cause: err })));
    tar.on('close', (code) => (code === 0 ? resolve() : reject(new Vlm2VecError('data', `tar failed (exit ${code}) extracting ${parts.join(' + ')} into ${into}`))));
  });
  // One pipeline over the concatenated parts. (A pipeline per part with `end: false` left its
  // error/close listeners on tar's stdin, one pair per part: MaxListenersExceededWarning.)
  async function* concatenated(): AsyncGenerator<Buffer> {
    for (const p of parts) yield* createReadStream(p);
  }
  const [fed, finished] = await Promise.allSettled([pipeline(Readable.from(concatenated()), tar.stdin), done]);
  // An unreadable part is the root cause; a broken pipe (EPIPE) only follows tar's own failure,
  // which explains it better.
  const feedError = fed.status === 'rejected' ? (fed.reason as NodeJS.ErrnoException) : undefined;
  if (feedError && feedError.code !== 'EPIPE') throw new Vlm2VecError('data', `cannot feed ${parts.join(' + ')} to tar: ${feedError.message}`, { cause: feedError });
  if (finished.status === 'rejected') throw finished.reason;
  if (feedError) throw new Vlm2VecError('data', `cannot feed ${parts.join(' + ')} to tar: ${feedError.message}`, { cause: feedError });
}

/** Summary of a pull. */
export interface PullResult {
  plan: PullPlan;
  files: number;
  extracted: string[];
}

/**
 * Download what the tasks need into `dataDir`. Fails fast with a clear {@link Vlm2VecError}
 * when the hub is unreachable.
 *
 * @example
 * await pullData({ dataDir: '/data/mmeb', tasks: selectTasks('mmeb-v2', ['visdoc']) });
 */
export async function pullData(opts: PullOptions): Promise<PullResult> {
  const hubUrl = hubEndpoint(opts.hubUrl);
  const plan = planPull(opts.tasks);
  let files = 0;
  for (const r of plan.repos) files += await pullRepo(r.repo, r.include, join(opts.dataDir, ...r.repo.split('/')), opts, hubUrl);
  const extracted: string[] = [];
  if (opts.media) {
    for (const a of plan.media) {
      files += await pullRepo(MEDIA_REPO, a.files, opts.dataDir, opts, hubUrl);
      if (!opts.extract) continue;
      const into = join(opts.dataDir, a.extractTo);
      opts.onEvent?.({ type: 'extract', archive: a.files.join(' + '), into });
      await untar(a.files.map((f) => join(opts.dataDir, f)), into);
      if (a.id === 'image') hoistMmebFolder(into);
      extracted.push(a.id);
    }
  }
  return { plan, files, extracted };
}

/** `mv image-tasks/MMEB/* image-tasks/ && rmdir image-tasks/MMEB` (download_data.sh). */
function hoistMmebFolder(root: string): void {
  const inner = join(root, 'MMEB');
  if (!existsSync(inner)) return;
  for (const name of readdirSync(inner)) {
    if (!existsSync(join(root, name))) renameSync(join(inner, name), join(root, name));
  }
  if (readdirSync(inner).length === 0) rmdirSync(inner);
}

/** One row of `vlm2vec data check`. */
export interface CheckRow {
  task: string;
  annotations: 'ok' | 'missing';
  /**
   * 'from videos': no frame folders, but the raw videos they are extracted from on first load.
   * 'not checked': an image task without annotations (they name its folder under image-tasks/).
   */
  media: 'ok' | 'missing' | 'from corpus' | 'from videos' | 'not checked';
  detail: string;
}

/**
 * What is present and missing under `dataDir` for each task: annotation files found the way the
 * loaders find them; the task's own media folder present (a video task's frame root; for an
 * image task, whose images share `image-tasks/`, the folder its first row's images are in).
 *
 * @example
 * const [row] = await checkData('./mmeb-data', [getTask('WebQA')]);
 * row.media; // 'missing' when image-tasks/WebQA/ is absent
 */
export async function checkData(dataDir: string, tasks: readonly TaskDef[]): Promise<CheckRow[]> {
  return Promise.all(tasks.map(async (t): Promise<CheckRow> => {
    let annotations: CheckRow['annotations'] = 'ok';
    let detail = '';
    const repoDir = join(dataDir, ...t.source.repo.split('/'));
    const configs = t.parser === 'vidore' || t.parser === 'visrag' ? ['queries', 'qrels', 'corpus'] : t.source.configs?.slice(0, 1) ?? [undefined];
    try {
      for (const config of configs) {
        findDataFiles({ repoDir, repo: t.source.repo, split: t.source.split, task: t.name, ...(config !== undefined ? { config } : {}) });
      }
    } catch (err) {
      annotations = 'missing';
      detail = errorDetail(err, 'data');
    }
    const root = join(dataDir, t.mediaRoot);
    if (t.modality === 'image') {
      if (annotations === 'missing') return { task: t.name, annotations, media: 'not checked', detail };
      return { task: t.name, annotations, ...(await checkImageFolders(repoDir, t, root)) };
    }
    const videos = rawVideoRoot(root);
    let media: CheckRow['media'] = t.modality === 'visdoc' ? 'from corpus' : existsSync(root) ? 'ok' : 'missing';
    if (media === 'missing' && videos !== root && EXTRACTING_PARSERS.has(t.parser) && existsSync(videos)) {
      media = 'from videos';
      if (detail === '') detail = `frames are extracted from the videos in ${videos} on first load (ffmpeg, as the reference does)`;
    }
    if (media === 'missing' && detail === '') detail = `media folder ${root} not found (vlm2vec data pull --media --extract)`;
    return { task: t.name, annotations, media, detail };
  }));
}

/**
 * The folders under `image-tasks/` (or `image-tasks/MMEB/`, as the image loader accepts) that
 * the images of the task's first row are in: the task's own folder(s), e.g. `WebQA/`.
 */
async function checkImageFolders(repoDir: string, t: TaskDef, root: string): Promise<Pick<CheckRow, 'media' | 'detail'>> {
  const config = t.source.configs?.[0];
  const files = findDataFiles({ repoDir, repo: t.source.repo, split: t.source.split, task: t.name, ...(config !== undefined ? { config } : {}) });
  let row: Record<string, unknown> | undefined;
  try {
    row = (await readRows(files, { limit: 1 }))[0]?.data;
  } catch (err) {
    return { media: 'not checked', detail: `${errorDetail(err, 'data')} (its image folder is named there)` };
  }
  if (row === undefined) return { media: 'not checked', detail: `${files.join(', ')} has no rows (its image folder is named there)` };
  const paths = [row['qry_img_path'], ...(Array.isArray(row['tgt_img_path']) ? row['tgt_img_path'] : [])]
    .filter((p): p is string => typeof p === 'string' && p.trim() !== '');
  // The folder of each path (its first segment), or the file itself when it has none.
  const wanted = [...new Set(paths.map((p) => p.split('/')[0]!))];
  if (wanted.length === 0) return { media: 'not checked', detail: `the first row of ${files[0]} names no image` };
  const absent = wanted.filter((f) => !existsSync(join(root, f)) && !existsSync(join(root, 'MMEB', f)));
  if (absent.length === 0) return { media: 'ok', detail: '' };
  return {
    media: 'missing',
    detail: `image folder ${absent.map((f) => join(root, f)).join(', ')} not found (vlm2vec data pull --media --extract; --deep checks every image)`,
  };
}

/**
 * `data check --deep`: load every task completely (rows, images, frame folders, qrels), so a
 * broken download shows up before a long evaluation rather than in the middle of it.
 * Visdoc page images are materialized as a side effect (as the first eval would).
 */
export async function checkDataDeep(
  dataDir: string, tasks: readonly TaskDef[], opts: { cacheDir?: string; onTask?: (row: CheckRow) => void } = {},
): Promise<CheckRow[]> {
  const { loadTask } = await import('../load/index.ts');
  const rows: CheckRow[] = [];
  for (const t of tasks) {
    let row: CheckRow;
    try {
      const l = await loadTask(t, { dataDir, onWarning: ignoreWarnings, ...(opts.cacheDir ? { cacheDir: opts.cacheDir } : {}) });
      row = { task: t.name, annotations: 'ok', media: t.modality === 'visdoc' ? 'from corpus' : 'ok', detail: `${l.queries.length} queries, ${l.corpus.length} corpus items` };
    } catch (err) {
      // `[data]` errors come from annotation files/rows; the others from media (images, frames).
      const shallow = (await checkData(dataDir, [t]))[0]!;
      row = err instanceof Vlm2VecError && err.area === 'data'
        ? { task: t.name, annotations: 'missing', media: shallow.media, detail: errorDetail(err) }
        : { task: t.name, annotations: 'ok', media: 'missing', detail: errorDetail(err) };
    }
    rows.push(row);
    opts.onTask?.(row);
  }
  return rows;
}
