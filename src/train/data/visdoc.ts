// The two visual-document training parsers of the reference's V2 mix (TIGER-AI-Lab/VLM2Vec
// src/data/dataset/vidore_dataset.py `data_prepare_v5`, visrag_dataset.py `data_prepare_v3`):
// - `vidore` (vidore/colpali_train_set): query = image token + ' ' + `query`, with the page image
//   on the query side; positive = the `answer` text (the `prompt` column is ignored, as there).
// - `visrag` (openbmb/VisRAG-Ret-Train-In-domain-data): query = a per-`source` instruction + ' ' +
//   `query` + ' ' (text only); positive = a per-source page description + '  ' + image token,
//   with the page image.
// Both map in batches of 128 with `drop_last_batch=True`, so the rows after the last full 128
// never reach training; here they are counted in `skipped`. Page images stay in the parquet
// rows until a batch is built (parquet-image.ts).

import { join } from 'node:path';
import { asyncBufferFromFile, parquetMetadataAsync } from 'hyparquet';
import { Vlm2VecError } from '../../errors.ts';
import { imageToken } from '../../embed/prompt.ts';
import { findDataFiles } from '../../mmeb/data/discover.ts';
import { readRows, type RowRef } from '../../mmeb/data/read.ts';
import type { DataSourceConfig } from './config.ts';
import { optText, sampleCap, type ParseOptions, type ParsedSource, type TrainExample } from './types.ts';

/** Rows per `map` batch in both parsers; the last partial batch is dropped. */
export const VISDOC_MAP_BATCH = 128;

/** visrag_dataset.py `query_source2prompt`. */
export const VISRAG_QUERY_PROMPTS: Readonly<Record<string, string>> = {
  'NeurIPS Papers': 'This query is about a research paper from NeurIPS, a leading AI/ML conference. The document contains technical discussions, methodologies, and findings. Identify relevant papers and sections that address the query: ',
  'Textbooks': 'This query is related to a college-level textbook, which provides structured explanations, definitions, and examples. Find the most relevant concepts or explanations that address the query: ',
  'ICML Papers': 'This query is about a research paper from ICML, a leading AI/ML conference. The document contains theoretical insights, experiments, and applications. Identify relevant papers and sections that best answer the query: ',
  'Manuallib': 'This query pertains to a product manual, which contains detailed technical specifications, usage instructions, and troubleshooting steps. Find the most relevant section that answers the query: ',
  'ArxivQA': 'This query is related to retrieving a relevant figure from an ArXiv research paper. The retrieved figure should contain scientific plots, mathematical visualizations, or experimental results that best address the query: ',
  'ChartQA': 'This query is related to retrieving a relevant chart that visually represents numerical or categorical data. The retrieved chart should contain bar graphs, line charts, or other visual elements necessary to analyze trends, compare values, or extract insights related to the query: ',
  'MP-DocVQA': 'This query is related to retrieving a relevant page from a multi-page document, such as reports, invoices, or research papers. The retrieved document should contain text, tables, or structured information necessary to answer the query: ',
  'InfoVQA': 'This query is related to retrieving an infographic that visually presents statistical or factual information using charts, icons, and structured layouts. The retrieved image should contain the necessary visual elements to provide the best context for answering the query: ',
  'PlotQA': 'This query relates to retrieving a relevant plot or chart that visually represents numerical data. The retrieved figure should contain the necessary information to analyze trends, compare values, or extract key insights related to the query: ',
  'SlideVQA': 'This query is related to retrieving a relevant presentation slide that visually presents structured information. The retrieved slide should contain the necessary text, charts, or graphics to provide the best answer to the query: ',
};

/** visrag_dataset.py `target_source2prompt`. */
export const VISRAG_TARGET_PROMPTS: Readonly<Record<string, string>> = {
  'Textbooks': 'A textbook page with structured educational content and explanations.',
  'ICML Papers': 'A research paper from ICML, covering machine learning topics.',
  'NeurIPS Papers': 'A research paper from NeurIPS on AI and ML topics.',
  'Manuallib': 'A product manual page with technical specifications and instructions.',
  'InfoVQA': 'An infographic with structured data, charts, and annotations.',
  'PlotQA': 'A numerical data visualization, such as bar charts or line graphs.',
  'SlideVQA': 'A presentation slide with text, bullet points, and diagrams.',
  'ArxivQA': 'A figure from a research paper, including plots or experimental results.',
  'MP-DocVQA': 'A page from a multi-page document with text or tables.',
  'ChartQA': 'A statistical chart comparing values or analyzing trends.',
};

/** Both parsers' `process_query(query, prompt, image_token)` (they differ in the order). */
const vidoreQuery = (query: string, token: string): string => `${token} ${query}`;
const visragText = (query: string, prompt: string, token: string): string => (prompt ? `${prompt} ${query} ${token}` : `${query} ${token}`);

/** The rows a source reads: `dataset_name` from the hub folder (split default `train`) or `dataset_path`. */
async function sourceRows(src: DataSourceConfig, opts: ParseOptions, where: string, columns: string[], preferPath: boolean): Promise<RowRef[]> {
  const usePath = src.dataset_path !== undefined && (preferPath || !src.dataset_name);
  let files: string[];
  if (usePath) files = [src.dataset_path!];
  else if (src.dataset_name) {
    files = findDataFiles({ repoDir: join(opts.dataDir, ...src.dataset_name.split('/')), repo: src.dataset_name, split: src.dataset_split ?? 'train' });
  } else {
    throw new Vlm2VecError('train-data', `${where}: key 'dataset_name' (a hub dataset under --data) or 'dataset_path' (a parquet file) is required`);
  }
  for (const f of files) {
    let names: string[];
    try {
      const meta = await parquetMetadataAsync(await asyncBufferFromFile(f));
      names = topLevelColumns(meta.schema);
    } catch (err) {
      throw new Vlm2VecError('train-data', `${where}: cannot read parquet file ${f}: ${(err as Error).message}`, { cause: err });
    }
    const missing = [...columns, 'image'].filter((c) => !names.includes(c));
    if (missing.length > 0) {
      throw new Vlm2VecError('train-data', `${where}: ${f} has no column(s) ${missing.map((c) => `'${c}'`).join(', ')}`);
    }
  }
  const cap = sampleCap(src.num_sample_per_subset, opts);
  return readRows(files, { columns, ...(cap === undefined ? {} : { limit: cap }) });
}

/** Names of the top-level columns of a flattened parquet schema (a struct's fields are skipped). */
function topLevelColumns(schema: readonly { name: string; num_children?: number }[]): string[] {
  const out: string[] = [];
  let i = 1;
  const skip = (): void => {
    const n = schema[i]!.num_children ?? 0;
    i++;
    for (let k = 0; k < n; k++) skip();
  };
  while (i < schema.length) {
    out.push(schema[i]!.name);
    skip();
  }
  return out;
}

function keptRows(rows: RowRef[]): number {
  return rows.length - (rows.length % VISDOC_MAP_BATCH);
}

/** The `vidore` parser (vidore/colpali_train_set). */
export async function parseVidore(src: DataSourceConfig, opts: ParseOptions): Promise<ParsedSource> {
  const globalName = src.dataset_name ? `vidore/${src.dataset_name}` : `vidore/${src.subset_name ?? 'None'}`;
  const where = `source '${src.name}' (${globalName}) of ${src.file}`;
  // data_prepare_v5 zips these columns (and remove_columns names options, page, model too).
  const rows = await sourceRows(src, opts, where, ['image_filename', 'query', 'answer', 'source', 'prompt', 'answer_type'], false);
  const token = imageToken(opts.style);
  const n = keptRows(rows);
  const examples: TrainExample[] = [];
  for (const r of rows.slice(0, n)) {
    const name = optText(r, 'image_filename', where);
    examples.push({
      query: { text: vidoreQuery(optText(r, 'query', where), token), images: [{ file: r.file, row: r.index, column: 'image', name }] },
      pos: { text: optText(r, 'answer', where), images: [] },
      negs: [],
      source: globalName,
      file: r.file,
      row: r.index,
    });
  }
  return { name: src.name, globalName, examples, numRows: rows.length, skipped: rows.length - n };
}

/** The `visrag` parser (openbmb/VisRAG-Ret-Train-In-domain-data). */
export async function parseVisrag(src: DataSourceConfig, opts: ParseOptions): Promise<ParsedSource> {
  const globalName = src.global_dataset_name ?? `visrag/${src.dataset_name ?? 'visrag'}`;
  const where = `source '${src.name}' (${globalName}) of ${src.file}`;
  const rows = await sourceRows(src, opts, where, ['query', 'source'], true);
  const token = imageToken(opts.style);
  const n = keptRows(rows);
  const examples: TrainExample[] = [];
  for (const r of rows.slice(0, n)) {
    const source = optText(r, 'source', where);
    examples.push({
      query: { text: visragText(optText(r, 'query', where), VISRAG_QUERY_PROMPTS[source] ?? '', ''), images: [] },
      pos: {
        text: visragText('', VISRAG_TARGET_PROMPTS[source] ?? '', token),
        images: [{ file: r.file, row: r.index, column: 'image', name: `${source} page ${r.index}` }],
      },
      negs: [],
      source: globalName,
      file: r.file,
      row: r.index,
    });
  }
  return { name: src.name, globalName, examples, numRows: rows.length, skipped: rows.length - n };
}
