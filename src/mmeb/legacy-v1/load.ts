// Loading one subset of `TIGER-Lab/MMEB-eval` for the legacy V1 harness (docs/mmeb.md §11, reference
// `v1:src/dataset.py` EvalDataset.get_paired_data): the `test` split of config = subset name,
// columns qry_text, qry_img_path, tgt_text (list), tgt_img_path (list). Each side's unique raw
// (text, img_path) pairs are collected in first-seen order; rows point at them by index, which
// is how the reference looks vectors up again (`qry_dict[(text, path)]`) when it scores.

import { existsSync, readdirSync } from 'node:fs';
import { isDirSync } from '../../util/fs.ts';
import { join } from 'node:path';
import { Vlm2VecError } from '../../errors.ts';
import { findDataFiles } from '../data/discover.ts';
import { readRows, type RowRef } from '../data/read.ts';
import { str, strList } from '../data/fields.ts';

/** The hub dataset the V1 harness reads. */
export const V1_REPO = 'TIGER-Lab/MMEB-eval';

/** The columns a V1 row must have (§12.1). */
export const V1_COLUMNS = ['qry_text', 'qry_img_path', 'tgt_text', 'tgt_img_path'];

/** One raw (text, image path) pair as stored; `imgPath` is `''` for a text-only input. */
export interface V1Pair {
  text: string;
  imgPath: string;
  /** Where the pair was first seen (for error messages), e.g. `field 'tgt_img_path[2]' of F row 7`. */
  origin: string;
}

/** One query row: indices into the subset's query and target pairs (target 0 is the positive). */
export interface V1Row {
  query: number;
  targets: number[];
}

/** A loaded subset. */
export interface V1Subset {
  name: string;
  files: string[];
  rows: V1Row[];
  queries: V1Pair[];
  targets: V1Pair[];
}

/**
 * The local folder of `TIGER-Lab/MMEB-eval`: `DATA/TIGER-Lab/MMEB-eval` when it exists (the
 * `--data DIR` layout of `vlm2vec data pull`), else DATA itself (a folder the repo was
 * downloaded into directly).
 *
 * @example
 * v1RepoDir('/data/mmeb'); // '/data/mmeb/TIGER-Lab/MMEB-eval' if present, else '/data/mmeb'
 */
export function v1RepoDir(dataDir: string): string {
  const nested = join(dataDir, ...V1_REPO.split('/'));
  return isDirSync(nested) ? nested : dataDir;
}

/** Unique pairs in first-seen order. The key joins the two strings with a separator that
 *  cannot occur in JSON-escaped text, so ('a', 'b|c') and ('a|b', 'c') stay distinct. */
class PairSet {
  readonly pairs: V1Pair[] = [];
  readonly #index = new Map<string, number>();

  add(text: string, imgPath: string, origin: string): number {
    const key = JSON.stringify([text, imgPath]);
    let i = this.#index.get(key);
    if (i === undefined) {
      i = this.pairs.length;
      this.pairs.push({ text, imgPath, origin });
      this.#index.set(key, i);
    }
    return i;
  }
}

/**
 * Read one MMEB-eval subset and build its unique query and target pairs.
 *
 * Errors name the subset, the file, the row and the field: a missing subset folder (with the
 * subsets that are present), a column of the wrong type, `tgt_text` and `tgt_img_path` of
 * different lengths (an assertion in the reference), a row without candidates.
 *
 * @example
 * const s = await loadV1Subset('/data/mmeb', 'ImageNet-1K');
 * s.rows.length;       // 1000
 * s.queries[0].text;   // '<|image_1|> Represent the given image for classification.'
 */
export async function loadV1Subset(dataDir: string, subset: string): Promise<V1Subset> {
  const repoDir = v1RepoDir(dataDir);
  let files: string[];
  try {
    files = findDataFiles({ repoDir, repo: V1_REPO, config: subset, split: 'test' });
  } catch (err) {
    if (!(err instanceof Vlm2VecError)) throw err;
    const detail = err.detail.replace(/; run `vlm2vec data pull.*$/s, '');
    throw new Vlm2VecError('mmeb-v1', `subset '${subset}': ${detail}. Expected ${V1_REPO} downloaded into ${repoDir} ` +
      `(a folder per subset, <Subset>/test-*.parquet); subsets found there: ${listSubsets(repoDir)}`, { cause: err });
  }
  const refs = await readRows(files, { columns: V1_COLUMNS });
  const queries = new PairSet();
  const targets = new PairSet();
  const rows = refs.map((r) => parseRow(r, subset, queries, targets));
  if (rows.length === 0) throw new Vlm2VecError('mmeb-v1', `subset '${subset}': ${files.join(', ')} hold no rows`);
  return { name: subset, files, rows, queries: queries.pairs, targets: targets.pairs };
}

function parseRow(r: RowRef, subset: string, queries: PairSet, targets: PairSet): V1Row {
  const task = `MMEB-eval ${subset}`;
  const at = (field: string): string => `field '${field}' of ${r.file} row ${r.index}`;
  const query = queries.add(str(r, 'qry_text', task), str(r, 'qry_img_path', task), at('qry_img_path'));
  const texts = strList(r, 'tgt_text', task);
  const paths = strList(r, 'tgt_img_path', task);
  if (texts.length !== paths.length) {
    throw new Vlm2VecError('mmeb-v1', `subset '${subset}': ${r.file} row ${r.index}: 'tgt_text' has ${texts.length} entries but ` +
      `'tgt_img_path' has ${paths.length} (expected one image path, possibly '', per candidate text)`);
  }
  if (texts.length === 0) {
    throw new Vlm2VecError('mmeb-v1', `subset '${subset}': ${r.file} row ${r.index}: no candidates ('tgt_text' is an empty list)`);
  }
  return { query, targets: texts.map((t, j) => targets.add(t, paths[j]!, at(`tgt_img_path[${j}]`))) };
}

function listSubsets(repoDir: string): string {
  if (!existsSync(repoDir)) return `none (${repoDir} does not exist)`;
  try {
    const names = readdirSync(repoDir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
      .map((e) => e.name).sort();
    return names.length > 0 ? names.join(', ') : 'none';
  } catch {
    return 'none';
  }
}
