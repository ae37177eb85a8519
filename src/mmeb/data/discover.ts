// Find the data files of (repo, config, split) in a downloaded Hugging Face dataset repo, the way
// the `datasets` library resolves them: the dataset card's `configs:` YAML (`data_files` per split
// as a string, a list, a {split: pattern} map or a list of {split, path} with globs, optionally
// `data_dir`), else the standard file-name conventions (`data/test-00000-of-00002.parquet`,
// `test.parquet`, `test/…`, `<config>/test-*.jsonl`, …).

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Vlm2VecError } from '../../errors.ts';
import { readCardConfigs, type YamlValue } from './yaml.ts';

/** What to look for; `task` only names the task in error messages. */
export interface DataFileQuery {
  /** Local folder of the repo, `DATA/<org>/<repo>`. */
  repoDir: string;
  /** `org/repo`, for messages and the pull hint. */
  repo: string;
  /** Config (subset) name; undefined = the default config. */
  config?: string;
  split: string;
  task?: string;
}

/** File types we can read (parquet via hyparquet; JSON lines / JSON arrays). */
export const DATA_EXTENSIONS = ['.parquet', '.jsonl', '.json'] as const;

/** Split-name keywords of `datasets` (data_files.py): a file named `val-…` belongs to `validation`. */
const SPLIT_KEYWORDS: Record<string, string[]> = {
  train: ['train', 'training'],
  validation: ['validation', 'valid', 'dev', 'val'],
  test: ['test', 'testing', 'eval', 'evaluation'],
};

const SKIP_DIRS = new Set(['.git', '.cache', '.huggingface']);

/** Names a split may appear under in file names: itself plus its `datasets` keyword family. */
function splitAliases(split: string): string[] {
  for (const kws of Object.values(SPLIT_KEYWORDS)) if (kws.includes(split)) return kws;
  return [split];
}

/** All files of a repo as posix paths relative to its root, sorted (as `datasets` sorts matches). */
export function listRepoFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
      // `datasets` ignores hidden and `__`-prefixed files and folders (download markers, caches).
      if (e.name.startsWith('.') || e.name.startsWith('__') || SKIP_DIRS.has(e.name)) continue;
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(p);
      else out.push(p);
    }
  };
  walk('');
  return out.sort();
}

/**
 * fsspec-style glob → RegExp: `*` and `?` stay within one path segment, `**` spans segments,
 * `[...]` is a character class.
 *
 * @example
 * globToRegExp('ImageNet-1K/test-*').test('ImageNet-1K/test-00000-of-00001.parquet'); // true
 */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        i++;
        if (glob[i + 1] === '/') { i++; re += '(?:.*/)?'; } else re += '.*';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) { re += '\\['; continue; }
      let cls = glob.slice(i + 1, end);
      if (cls.startsWith('!')) cls = `^${cls.slice(1)}`;
      re += `[${cls.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

function isDataFile(p: string): boolean {
  const lower = p.toLowerCase();
  return DATA_EXTENSIONS.some((e) => lower.endsWith(e));
}

function where(q: DataFileQuery): string {
  return `${q.task ? `task ${q.task}: ` : ''}dataset ${q.repo}${q.config ? ` config '${q.config}'` : ''} split '${q.split}'`;
}

function pullHint(q: DataFileQuery): string {
  return `run \`vlm2vec data pull${q.task ? ` --tasks ${q.task}` : ''} --data <DIR>\` (or download ${q.repo} from the Hugging Face hub into ${q.repoDir})`;
}

/** The `data_files` value of a config as {split: patterns}. A bare string/list means split `train`. */
function normalizeDataFiles(v: YamlValue, file: string): Record<string, string[]> {
  const asList = (x: YamlValue): string[] => {
    if (typeof x === 'string') return [x];
    if (Array.isArray(x) && x.every((e) => typeof e === 'string')) return x as string[];
    throw new Vlm2VecError('data', `${file}: data_files path must be a string or a list of strings, got ${JSON.stringify(x)}`);
  };
  if (typeof v === 'string') return { train: [v] };
  if (Array.isArray(v)) {
    if (v.every((e) => typeof e === 'string')) return { train: v as string[] };
    const out: Record<string, string[]> = {};
    for (const e of v) {
      if (e === null || typeof e !== 'object' || Array.isArray(e) || typeof e['split'] !== 'string' || e['path'] === undefined) {
        throw new Vlm2VecError('data', `${file}: data_files entries must be {split, path}, got ${JSON.stringify(e)}`);
      }
      (out[e['split']] ??= []).push(...asList(e['path']));
    }
    return out;
  }
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, asList(x)]));
  }
  throw new Vlm2VecError('data', `${file}: unsupported data_files value ${JSON.stringify(v)}`);
}

type ConfigEntry = { [k: string]: YamlValue };

function pickConfig(configs: ConfigEntry[], q: DataFileQuery, card: string): ConfigEntry {
  const names = configs.map((c) => String(c['config_name'] ?? 'default'));
  if (q.config !== undefined) {
    const hit = configs.find((c) => String(c['config_name'] ?? 'default') === q.config);
    if (hit) return hit;
    throw new Vlm2VecError('data', `${where(q)}: config '${q.config}' is not in ${card} (configs: ${names.join(', ')})`);
  }
  const def = configs.find((c) => c['default'] === true) ?? configs.find((c) => c['config_name'] === 'default');
  if (def) return def;
  if (configs.length === 1) return configs[0]!;
  throw new Vlm2VecError('data', `${where(q)}: ${card} defines several configs (${names.join(', ')}) and none is the default; the task must name one`);
}

/** Files of `split` by naming convention among `files` (all under `base`, which is stripped). */
function byConvention(files: string[], base: string, split: string): string[] {
  const inBase = files.filter((f) => (base === '' || f.startsWith(`${base}/`)) && isDataFile(f));
  const kws = splitAliases(split).map((k) => k.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
  const inName = new RegExp(`(^|[-._ 0-9])(${kws})([-._ 0-9]|$)`);
  const anyKw = Object.values(SPLIT_KEYWORDS).flat().join('|');
  const anyInName = new RegExp(`(^|[-._ 0-9])(${anyKw})([-._ 0-9]|$)`);
  const rel = (f: string): string[] => (base === '' ? f : f.slice(base.length + 1)).split('/');
  const stem = (seg: string): string => seg.replace(/\.[^.]*$/, '');
  // `datasets` tries split-in-file-name patterns first, then split-as-directory patterns.
  const nameHits = inBase.filter((f) => inName.test(stem(rel(f).at(-1)!)));
  if (nameHits.length > 0) return nameHits;
  const anyNamed = inBase.some((f) => anyInName.test(stem(rel(f).at(-1)!)));
  if (!anyNamed) {
    const dirHits = inBase.filter((f) => rel(f).slice(0, -1).some((d) => inName.test(d)));
    if (dirHits.length > 0) return dirHits;
    const anyDir = inBase.some((f) => rel(f).slice(0, -1).some((d) => anyInName.test(d)));
    // No split names anywhere: `datasets` puts every data file in `train`.
    if (!anyDir && splitAliases(split).includes('train')) return inBase;
  }
  return [];
}

/**
 * Resolve the data files of one (repo, config, split), as absolute paths in `datasets` order.
 * Throws a {@link Vlm2VecError} naming the repo, config, split and the `vlm2vec data pull`
 * command when the repo or the files are missing.
 *
 * @example
 * findDataFiles({ repoDir: '/data/ziyjiang/MMEB_Test_Instruct', repo: 'ziyjiang/MMEB_Test_Instruct',
 *   config: 'ImageNet-1K', split: 'test' });
 * // ['/data/ziyjiang/MMEB_Test_Instruct/ImageNet-1K/test-00000-of-00001.parquet']
 */
export function findDataFiles(q: DataFileQuery): string[] {
  if (!existsSync(q.repoDir) || !statSync(q.repoDir).isDirectory()) {
    throw new Vlm2VecError('data', `${where(q)}: dataset folder ${q.repoDir} does not exist; ${pullHint(q)}`);
  }
  const files = listRepoFiles(q.repoDir);
  const cardPath = join(q.repoDir, 'README.md');
  const configs = existsSync(cardPath) ? readCardConfigs(readFileSync(cardPath, 'utf8'), cardPath) : undefined;
  let matched: string[];
  let tried: string;
  if (Array.isArray(configs) && configs.length > 0) {
    const entries = configs.filter((c): c is ConfigEntry => c !== null && typeof c === 'object' && !Array.isArray(c));
    const cfg = pickConfig(entries, q, cardPath);
    const dataDir = typeof cfg['data_dir'] === 'string' ? cfg['data_dir'].replace(/\/+$/, '') : '';
    if (cfg['data_files'] === undefined || cfg['data_files'] === null) {
      matched = byConvention(files, dataDir, q.split);
      tried = `the standard file names under '${dataDir || '.'}' (config from ${cardPath})`;
    } else {
      const bySplit = normalizeDataFiles(cfg['data_files'], cardPath);
      const patterns = bySplit[q.split];
      if (!patterns) {
        throw new Vlm2VecError('data', `${where(q)}: ${cardPath} has no split '${q.split}' for this config (splits: ${Object.keys(bySplit).join(', ')})`);
      }
      const res = patterns.map((p) => globToRegExp(dataDir ? `${dataDir}/${p}` : p));
      matched = files.filter((f) => res.some((r) => r.test(f)));
      tried = `data_files ${JSON.stringify(patterns)} from ${cardPath}`;
    }
  } else {
    const base = q.config !== undefined && q.config !== 'default' ? q.config : '';
    if (base !== '' && !existsSync(join(q.repoDir, base))) {
      throw new Vlm2VecError('data', `${where(q)}: no configs YAML in ${cardPath} and no folder ${join(q.repoDir, base)}; ${pullHint(q)}`);
    }
    matched = byConvention(files, base, q.split);
    tried = `the standard file names (${base ? `${base}/` : ''}${q.split}-*.parquet, data/${q.split}-*, ${q.split}.jsonl, …)`;
  }
  if (matched.length === 0) {
    throw new Vlm2VecError('data', `${where(q)}: no data files in ${q.repoDir} match ${tried}; ${pullHint(q)}`);
  }
  const unreadable = matched.filter((f) => !isDataFile(f));
  if (unreadable.length > 0) {
    throw new Vlm2VecError('data', `${where(q)}: unsupported data file type ${join(q.repoDir, unreadable[0]!)} (expected ${DATA_EXTENSIONS.join(', ')})`);
  }
  return matched.map((f) => join(q.repoDir, f));
}
