// The `mmeb` training parser: TIGER-Lab/MMEB-train as the reference reads it
// (TIGER-AI-Lab/VLM2Vec src/data/dataset/mmeb_dataset.py, `load_mmeb_dataset` + `data_prepare_v4`).
// The repo has one folder per subset holding `original-*`, `diverse_instruction-*` and the legacy
// `train-*` parquet files; `load_dataset(name, subset, split='original')` takes the files the
// dataset card's `configs:` name for that split, which findDataFiles resolves the same way.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Vlm2VecError } from '../../errors.ts';
import { replaceImage1 } from '../../embed/prompt.ts';
import { findDataFiles } from '../../mmeb/data/discover.ts';
import { readRows, type RowRef } from '../../mmeb/data/read.ts';
import type { DataSourceConfig } from './config.ts';
import { optText, requireColumns, sampleCap, type ParseOptions, type ParsedSource, type TrainExample, type TrainItem } from './types.ts';

const REQUIRED = ['qry', 'qry_image_path', 'pos_text', 'pos_image_path'];

/** Where a source is, for messages: `source 'X' (mmeb/Subset) of mix.yaml`. */
function at(src: DataSourceConfig, globalName: string): string {
  return `source '${src.name}' (${globalName}) of ${src.file}`;
}

/**
 * Parse one `mmeb` source into examples, in file order.
 *
 * As the reference: the first `num_sample_per_subset` rows (`select(range(n))`); a row whose
 * query or positive has neither text nor image is skipped (and counted in `skipped`); every
 * `<|image_1|>` becomes the backbone's image token; an image is `image_dir/<path in the row>`,
 * with `image_dir` already under `--data_basedir` (config.ts). Unlike the reference, which opens
 * images only when a batch is built, a missing image file is an error here, before training.
 * A hard negative (`neg_text` / `neg_image_path`) is kept when `num_hardneg` > 0; the reference
 * reads it and its collator drops it.
 */
export async function parseMmeb(src: DataSourceConfig, opts: ParseOptions): Promise<ParsedSource> {
  const subset = src.subset_name;
  const globalName = `mmeb/${subset ?? '?'}`;
  const where = at(src, globalName);
  if (!src.dataset_name) throw new Vlm2VecError('train-data', `${where}: key 'dataset_name' is required (e.g. TIGER-Lab/MMEB-train)`);
  if (!subset) throw new Vlm2VecError('train-data', `${where}: key 'subset_name' is required (the MMEB-train folder, e.g. ImageNet_1K)`);
  if (!src.image_dir) throw new Vlm2VecError('train-data', `${where}: key 'image_dir' is required (the folder the rows' images/<Subset>/… paths are under, relative to --data_basedir)`);
  const split = src.dataset_split ?? 'original';
  const files = findDataFiles({
    repoDir: join(opts.dataDir, ...src.dataset_name.split('/')), repo: src.dataset_name, config: subset, split,
  });
  const cap = sampleCap(src.num_sample_per_subset, opts);
  const rows = await readRows(files, cap === undefined ? {} : { limit: cap });
  requireColumns(rows, REQUIRED, where);

  const imageDir = src.image_dir;
  const checkImages = opts.checkImages ?? true;
  const numHardneg = opts.numHardneg ?? 0;
  const image = (r: RowRef, column: string, rel: string): TrainItem['images'] => {
    if (!rel) return [];
    const path = join(imageDir, rel);
    if (checkImages && !existsSync(path)) {
      throw new Vlm2VecError('train-data', `${where}: image ${path} (${r.file} row ${r.index}, column '${column}') does not exist; image_dir is ${imageDir}`);
    }
    return [{ path }];
  };

  const examples: TrainExample[] = [];
  let skipped = 0;
  for (const r of rows) {
    const qry = optText(r, 'qry', where);
    const qryImage = optText(r, 'qry_image_path', where);
    const pos = optText(r, 'pos_text', where);
    const posImage = optText(r, 'pos_image_path', where);
    if ((!qry && !qryImage) || (!pos && !posImage)) {
      skipped++;
      continue;
    }
    const negs: TrainItem[] = [];
    if (numHardneg > 0) {
      const neg = optText(r, 'neg_text', where);
      const negImage = optText(r, 'neg_image_path', where);
      if (neg || negImage) negs.push({ text: replaceImage1(neg, opts.style), images: image(r, 'neg_image_path', negImage) });
    }
    examples.push({
      query: { text: replaceImage1(qry, opts.style), images: image(r, 'qry_image_path', qryImage) },
      pos: { text: replaceImage1(pos, opts.style), images: image(r, 'pos_image_path', posImage) },
      negs: negs.slice(0, numHardneg),
      source: globalName,
      file: r.file,
      row: r.index,
    });
  }
  return { name: src.name, globalName, examples, numRows: rows.length, skipped };
}
