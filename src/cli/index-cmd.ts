// `vlm2vec index -m MODEL --input FOLDER --db DIR`: a thin layer over src/search/folder-index.ts
// (the incremental LanceDB folder index). Ctrl-C finishes the chunk in flight and writes it.

import type { Command } from 'commander';
import { LocalEmbedder } from '../embed/local.ts';
import { Vlm2VecError } from '../errors.ts';
import { DEFAULT_CANDIDATE_INSTRUCTIONS } from '../search/instructions.ts';
import { DEFAULT_INDEX_THRESHOLD, indexFolder } from '../search/folder-index.ts';
import type { WeightDtype } from '../models/common/float16.ts';
import { pointToHelp, positiveInt } from '../util/cli-args.ts';
import { isDirSync } from '../util/fs.ts';
import { BUNDLED_MODEL_HELP, modelOrBundled } from '../embed/bundled.ts';
import { addLocalModelOptions } from './model-options.ts';
import { formatDuration, loadReporter, ProgressBar } from './progress.ts';

interface IndexCliOptions {
  model?: string;
  input: string;
  db: string;
  adapter?: string;
  tokenizer?: string;
  batchSize: number;
  threads?: number;
  dtype?: WeightDtype;
  minPixels?: number;
  maxPixels?: number;
  numCrops?: number;
  imageInstruction: string;
  pageInstruction: string;
  videoInstruction: string;
  textInstruction: string;
  numFrames: number;
  pdfDpi: number;
  writeBatch: number;
  indexThreshold: number;
}

export const INDEX_EXAMPLES = `
Examples:
  $ vlm2vec index -m TIGER-Lab/VLM2Vec-Qwen2VL-2B --input ~/Pictures --db ~/.vlm2vec/pictures
  $ vlm2vec index --input ~/Pictures --db /tmp/try.lance   # the bundled small demo model (offline)
  $ vlm2vec index -m ~/ckpt/VLM2Vec-V2.0 --input papers/ --db s3://bucket/papers   # LanceDB object store

What is indexed: images (.jpg .png .webp .gif .bmp .tif), PDFs (one row per page, rendered at
--pdf-dpi), videos (.mp4 .mov .mkv .webm .avi: --num-frames frames sampled as VLM2Vec samples them)
and text (.txt .md, first 8,000 characters). Hidden files and folders are skipped.

Reruns embed only new or changed files (size+mtime, then content hash) and drop deleted ones.
Rows are written every --write-batch rows, so an interrupted or killed run keeps what it wrote.
An index holds one embedding space: a run with another model, adapter or instruction is refused.
From --index-threshold rows on, an HNSW-SQ vector index is built; below it search is exact.
S3: credentials and region from the usual AWS environment variables (LanceDB's storage options).
`;

/** Registers `vlm2vec index`. */
export function registerIndex(program: Command): void {
  addLocalModelOptions(pointToHelp(program.command('index'))
    .description('Embed the images, PDF pages, videos and texts of a folder into a LanceDB vector index (incremental)')
    .option('-m, --model <dir|hub-id>', `model folder, hub id owner/name[@rev], or PEFT adapter folder ${BUNDLED_MODEL_HELP}`)
    .requiredOption('-i, --input <folder>', 'folder to index (recursively)')
    .requiredOption('--db <dir|uri>', 'LanceDB database: a folder, or s3:// gs:// az:// URI'))
    .option('--batch-size <n>', 'items per forward pass', positiveInt('--batch-size'), 8)
    .option('--image-instruction <text>', 'instruction of image items', DEFAULT_CANDIDATE_INSTRUCTIONS.image)
    .option('--page-instruction <text>', 'instruction of PDF pages', DEFAULT_CANDIDATE_INSTRUCTIONS.page)
    .option('--video-instruction <text>', 'instruction of videos', DEFAULT_CANDIDATE_INSTRUCTIONS.video)
    .option('--text-instruction <text>', "instruction of text files ('' = the text alone)", DEFAULT_CANDIDATE_INSTRUCTIONS.text)
    .option('--num-frames <n>', 'frames sampled per video', positiveInt('--num-frames'), 8)
    .option('--pdf-dpi <n>', 'PDF page render resolution', positiveInt('--pdf-dpi'), 144)
    .option('--write-batch <n>', 'rows per database write', positiveInt('--write-batch'), 32)
    .option('--index-threshold <n>', 'rows from which a vector index (HNSW-SQ) is built', positiveInt('--index-threshold'), DEFAULT_INDEX_THRESHOLD)
    .addHelpText('after', INDEX_EXAMPLES)
    .action(async (given: IndexCliOptions) => {
      const err = process.stderr;
      // A wrong folder is found before the (slow) model load.
      if (!isDirSync(given.input)) throw new Vlm2VecError('index', `input folder (--input) ${given.input} does not exist or is not a folder`);
      // Without --model: the bundled model, whose pixel limits are recorded in the index like given ones.
      const o = modelOrBundled(given, err, 'index');
      const modelOptions: Record<string, string | number> = {};
      for (const k of ['tokenizer', 'dtype', 'minPixels', 'maxPixels', 'numCrops'] as const) if (o[k] !== undefined) modelOptions[k] = o[k]!;
      const embedder = await LocalEmbedder.load(o.model, {
        adapter: o.adapter, tokenizerDir: o.tokenizer, batchSize: o.batchSize, threads: o.threads, dtype: o.dtype,
        minPixels: o.minPixels, maxPixels: o.maxPixels, numCrops: o.numCrops, onLoad: loadReporter(err),
      });
      err.write(`model ${embedder.id} (local)\n`);
      const ctl = new AbortController();
      const onSigint = (): void => {
        if (ctl.signal.aborted) process.exit(130);
        err.write('\nvlm2vec index: interrupted: writing the files in flight (Ctrl-C again to stop at once)\n');
        ctl.abort();
      };
      process.on('SIGINT', onSigint);
      const bar = new ProgressBar('index (files)', { stream: err });
      try {
        const r = await indexFolder({
          input: o.input, db: o.db, embedder, modelSpec: o.model, adapter: o.adapter, modelOptions, promptStyle: embedder.promptStyle,
          instructions: { image: o.imageInstruction, page: o.pageInstruction, video: o.videoInstruction, text: o.textInstruction },
          numFrames: o.numFrames, pdfDpi: o.pdfDpi, writeBatch: o.writeBatch, indexThreshold: o.indexThreshold,
          onProgress: (d, t) => bar.update(d, t),
          onFileError: (p, m) => err.write(`${err.isTTY ? '\n' : ''}vlm2vec index: ${p}: ${m} (not stored; a rerun retries it)\n`),
          signal: ctl.signal,
        });
        err.write(`vlm2vec index: ${r.interrupted ? 'interrupted' : 'done'}: ${r.embeddedFiles} file(s) embedded, ${r.unchangedFiles} unchanged, ` +
          `${r.deletedFiles} deleted, ${r.failedFiles} failed; ${r.rows} row(s) in ${o.db}${r.vectorIndex ? ' (vector index)' : ' (exact search)'} ` +
          `in ${formatDuration(r.seconds)}\n`);
        if (r.interrupted) process.exitCode = 130;
        else if (r.failedFiles > 0) process.exitCode = 1;
      } finally {
        process.off('SIGINT', onSigint);
        await embedder.close();
      }
    });
}
