// The reference's `--dataset_config` YAML (TIGER-AI-Lab/VLM2Vec train.py + mixed_dataset.py): a
// mapping from a source name to that source's keyword arguments (`dataset_parser`, `dataset_name`,
// `subset_name`, `dataset_split`, `image_dir`, `num_sample_per_subset`, `weight`, …). The
// reference reads it with PyYAML (YAML 1.1, so `num_rows: 300_000` is the integer 300000) and
// passes every key to the parser as **kwargs, where a misspelled key is silently ignored. Here a
// key no reference parser reads is an error with a did-you-mean, and each value is type-checked.

import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { Vlm2VecError } from '../../errors.ts';
import { closestName } from '../../util/text.ts';

/** The `dataset_parser` names the reference registers (src/data/dataset/*.py). */
export const REFERENCE_PARSERS = [
  'mmeb', 'vidore', 'visrag', 'llavahound_caption', 'llavahound_qa', 'beir', 'berri', 'video_classification',
  'didemo', 'docmatix', 'gui', 'msrvtt', 'msvd', 'mteb_cluster', 'mteb_training', 'pixmo', 'ssv2',
] as const;
export type ReferenceParser = (typeof REFERENCE_PARSERS)[number];

const nonEmpty = z.string().min(1);
const count = z.number().int().nonnegative();

// Every key some reference parser reads from its kwargs (src/data/dataset/*.py). `weight` is the
// only key mixed_dataset.py itself needs (`d['weight']`).
const SOURCE_SCHEMA = z.strictObject({
  dataset_parser: nonEmpty,
  weight: z.number().nonnegative().finite(),
  dataset_name: nonEmpty.optional(),
  subset_name: nonEmpty.optional(),
  dataset_split: nonEmpty.optional(),
  dataset_path: nonEmpty.optional(),
  data_path: nonEmpty.optional(),
  config_name: nonEmpty.optional(),
  image_dir: nonEmpty.optional(),
  num_sample_per_subset: count.optional(),
  global_dataset_name: nonEmpty.optional(),
  num_hardneg: count.optional(),
  data_type: nonEmpty.optional(),
  data_mode: nonEmpty.optional(),
  video_frame_basedir: nonEmpty.optional(),
  video_root: nonEmpty.optional(),
  video_dir: nonEmpty.optional(),
  frame_root: nonEmpty.optional(),
  frame_dir: nonEmpty.optional(),
  num_frames: z.number().int().positive().optional(),
  max_frames_saved: z.number().int().positive().optional(),
  num_rows: count.optional(),
});

/** One source of the mixture, keys as in the YAML (snake_case, the reference's names). */
export type DataSourceConfig = z.infer<typeof SOURCE_SCHEMA> & {
  /** The YAML key of this source (the reference's `global_dataset_name` loop variable). */
  name: string;
  /** The YAML file, for messages. */
  file: string;
};

const KNOWN_KEYS = Object.keys(SOURCE_SCHEMA.shape);

/** Options of {@link parseDatasetConfig}. */
export interface DatasetConfigOptions {
  /**
   * `--data_basedir`: a relative `image_dir` is taken under it, as the reference's train.py does
   * (`os.path.join(data_basedir, image_dir)` when image_dir is not absolute); so are a relative
   * `dataset_path` and `video_frame_basedir` (the reference leaves those to the working folder).
   */
  dataBasedir?: string;
}

function describe(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'a mapping' : JSON.stringify(v);
}

/**
 * Parse the text of a dataset_config YAML into its sources, in file order (the order the
 * reference passes them to `interleave_datasets`, which fixes which source a random index means).
 *
 * @example
 * parseDatasetConfig('ImageNet_1K:\n  dataset_parser: mmeb\n  subset_name: ImageNet_1K\n  weight: 1\n', 'mix.yaml');
 * // [{ name: 'ImageNet_1K', file: 'mix.yaml', dataset_parser: 'mmeb', subset_name: 'ImageNet_1K', weight: 1 }]
 */
export function parseDatasetConfig(text: string, file: string, opts: DatasetConfigOptions = {}): DataSourceConfig[] {
  // YAML 1.1 as PyYAML reads it (`300_000` is an int, `yes` a bool); duplicate keys are errors
  // here (PyYAML keeps the last one silently).
  const doc = parseDocument(text, { version: '1.1', uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new Vlm2VecError('train-data', `${file}: invalid YAML: ${doc.errors[0]!.message}`);
  }
  const root: unknown = doc.toJS({ maxAliasCount: 100 });
  if (root === null || typeof root !== 'object' || Array.isArray(root)) {
    throw new Vlm2VecError('train-data', `${file}: expected a mapping from source names to their settings, got ${describe(root)}`);
  }
  const entries = Object.entries(root as Record<string, unknown>);
  if (entries.length === 0) throw new Vlm2VecError('train-data', `${file}: no data sources`);
  const out: DataSourceConfig[] = [];
  for (const [name, raw] of entries) {
    const at = `${file}: source '${name}'`;
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      throw new Vlm2VecError('train-data', `${at}: expected a mapping of settings, got ${describe(raw)}`);
    }
    for (const key of Object.keys(raw)) {
      if (!KNOWN_KEYS.includes(key)) {
        const near = closestName(key, KNOWN_KEYS);
        throw new Vlm2VecError('train-data', `${at}: unknown key '${key}'${near ? ` (did you mean '${near}'?)` : ''}; known keys: ${KNOWN_KEYS.join(', ')}`);
      }
    }
    const r = SOURCE_SCHEMA.safeParse(raw);
    if (!r.success) {
      const issue = r.error.issues[0]!;
      const key = String(issue.path[0] ?? '');
      const value = (raw as Record<string, unknown>)[key];
      const what = value === undefined ? 'is required' : `must be ${expected(key)}, got ${describe(value)}`;
      throw new Vlm2VecError('train-data', `${at}: key '${key}' ${what}`);
    }
    const parser = r.data.dataset_parser;
    if (!(REFERENCE_PARSERS as readonly string[]).includes(parser)) {
      const near = closestName(parser, REFERENCE_PARSERS);
      throw new Vlm2VecError('train-data', `${at}: key 'dataset_parser': unknown parser '${parser}'${near ? ` (did you mean '${near}'?)` : ''}; the reference's parsers: ${REFERENCE_PARSERS.join(', ')}`);
    }
    const src: DataSourceConfig = { name, file, ...r.data };
    if (opts.dataBasedir) {
      const base = opts.dataBasedir;
      const under = (p: string): string => (isAbsolute(p) ? p : join(base, p));
      if (src.image_dir !== undefined) src.image_dir = under(src.image_dir);
      // The reference joins only image_dir and leaves these relative to the working directory,
      // which makes its own yaml (`vlm2vec_train/…` for all three) work only when started from
      // the data folder; here all three are under --data_basedir.
      if (src.dataset_path !== undefined) src.dataset_path = under(src.dataset_path);
      if (src.video_frame_basedir !== undefined) src.video_frame_basedir = under(src.video_frame_basedir);
    }
    out.push(src);
  }
  const total = out.reduce((s, d) => s + d.weight, 0);
  if (!(total > 0)) throw new Vlm2VecError('train-data', `${file}: the weights of the sources sum to ${total}; at least one must be > 0`);
  return out;
}

function expected(key: string): string {
  if (key === 'weight') return 'a number ≥ 0';
  if (key === 'num_frames' || key === 'max_frames_saved') return 'an integer ≥ 1';
  if (key === 'num_sample_per_subset' || key === 'num_rows' || key === 'num_hardneg') return 'an integer ≥ 0';
  return 'a non-empty string';
}

/** Read and parse a dataset_config file; see {@link parseDatasetConfig}. */
export function readDatasetConfig(file: string, opts: DatasetConfigOptions = {}): DataSourceConfig[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Vlm2VecError('train-data', `cannot read dataset_config ${file}: ${(err as Error).message}`, { cause: err });
  }
  return parseDatasetConfig(text, file, opts);
}

/**
 * Sampling probabilities as mixed_dataset.py computes them: `w / sum(weights)` with Python's
 * left-to-right float sum, so the numbers (and the sampler's cumulative table) are bit-identical.
 */
export function sourceProbabilities(sources: readonly { weight: number }[]): number[] {
  let sum = 0;
  for (const s of sources) sum += s.weight;
  return sources.map((s) => s.weight / sum);
}
