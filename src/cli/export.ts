// `vlm2vec export --model DIR --out DIR [--adapter DIR]`: the embedding model as standalone ONNX
// files that plain onnxruntime runs (weights as initializers, external data above a size
// threshold), plus the model's config/tokenizer/preprocessor files and a manifest.json that
// names every input and how to build it (the graphs' ONNX inputs and outputs carry these names;
// docs/export.md shows how to build each one). The graphs are the architecture's
// (Encoder.exportOnnx, found through models/registry.ts); for Qwen2-VL:
//   vision.onnx: pixel_values [K, 4, 1176] f32, patch_pos [K, 4, 2] i32 (row, col in patch order),
//                segment_ids [K, 4] i32 (one id per temporal slice of each grid) → features [K, D]
//                (the processor's [4K, ...] patch rows viewed per merged token: same memory)
//   text.onnx:   input_ids [B, T] i64, attention_mask [B, T] i64, position_ids [3, B, T] i64,
//                last_index [B, 2] i64 (row, last real token), scatter_index [K, 2] i64
//                (placeholder positions: images then videos, row-major), features [K, D] f32
//                → hidden [B, D], embedding [B, D] (L2-normalized). Text-only: K = 0.
// --dtype float16 writes every weight matrix as a float16 initializer followed by a Cast to
// float32 (half the download); the manifest's `float16.sessionOptions` keep them float16 in ORT
// (docs/float16.md).

import { copyFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { resolveLocalModel, type LocalModelSpecOptions } from '../embed/local-resolve.ts';
import { Vlm2VecError } from '../errors.ts';
import { loadAdapter } from '../io/weights/peft.ts';
import { modelRecord, numCropsSetting, type ExportManifest } from '../models/registry.ts';
import { parseWeightDtype, type WeightDtype } from '../models/common/float16.ts';
import { DTYPE_HELP, NUM_CROPS_HELP, parseDtypeOption } from './model-options.ts';
import { checkOutputDir, ensureOutputDir } from '../util/fs.ts';
import { hiddenAlias, nonNegativeInt, pointToHelp, positiveInt } from '../util/cli-args.ts';
import { loadReporter } from './progress.ts';
import type { ModelLoadEvent } from '../models/common/weights.ts';

/** manifest.json of an export (one shape per exporting architecture, models/registry.ts). */
export type { ExportManifest } from '../models/registry.ts';

/** Options of {@link runExport}. */
export interface ExportJobOptions {
  model: string;
  out: string;
  adapter?: string | undefined;
  /** Folder with tokenizer.json (default: the model folder, then the adapter, then the base). */
  tokenizer?: string | undefined;
  /** Cache root / offline mode / revision for hub ids. */
  resolve?: LocalModelSpecOptions['resolve'];
  /** Initializer bytes above which weights go to `<file>.data` (default 1.8e9, ORT's protobuf limit). */
  externalDataThreshold?: number | undefined;
  /** 'float16' writes the weight matrices as float16 (see the file comment); default 'float32'. */
  dtype?: WeightDtype | undefined;
  /** Weight-reading and adapter-merge progress (the CLI draws it on stderr). */
  onLoad?: ((e: ModelLoadEvent) => void) | undefined;
  /** Phi-3-V's HD crops per image (4 or 16; recorded in the manifest); refused for other architectures. */
  numCrops?: number | undefined;
}

/**
 * Exports a model folder (+ optional adapter, merged) to `out`.
 *
 * @example
 * const manifest = await runExport({ model: 'models/Qwen2-VL-2B', adapter: 'models/VLM2Vec-V2.0', out: 'onnx/' });
 */
export async function runExport(opts: ExportJobOptions): Promise<ExportManifest> {
  const outOpts = { what: 'output folder (--out)', area: 'export' };
  // A bad --out is found before the (slow) load; the folder is created only once the model loaded.
  checkOutputDir(opts.out, outOpts);
  // Same resolution as the embedder: folder, hub id or adapter folder (→ its base + the adapter).
  const r = await resolveLocalModel(opts.model, { adapter: opts.adapter, tokenizerDir: opts.tokenizer, tokenizerOptional: true, resolve: opts.resolve });
  const adapter = r.adapterDir === undefined ? undefined : await loadAdapter(r.adapterDir);
  const dtype = parseWeightDtype(opts.dtype, 'ExportJobOptions.dtype');
  const record = modelRecord(r.model.config.modelType);
  const crops = numCropsSetting(record, opts.numCrops, r.model.configPath);
  const encoder = await record.loadEncoder({ dir: r.model.dir, config: r.model.config, adapter, dtype, processor: { ...r.processor, ...crops }, onProgress: opts.onLoad });
  if (!encoder.exportOnnx) throw new Vlm2VecError('export', `${r.model.configPath}: ${record.name} models have no ONNX export`);
  ensureOutputDir(opts.out, outOpts);
  const body = await encoder.exportOnnx(opts.out, { externalDataThreshold: opts.externalDataThreshold ?? 1.8e9 });
  // The architecture's body (model type, sizes, token ids, graphs) after the format tag.
  const manifest = { format: 'vlm2vec-onnx/1', ...body } as ExportManifest;
  await writeFile(join(opts.out, 'manifest.json'), `${JSON.stringify(manifest, null, 1)}\n`);
  // Processor files: the adapter's (VLM2Vec checkpoints carry them) before the base's, as loading does.
  const copies: [string, string[]][] = [
    ['config.json', [r.model.dir]],
    ['tokenizer.json', r.tokenizerDir ? [r.tokenizerDir] : []],
    ['tokenizer_config.json', [...(r.tokenizerDir ? [r.tokenizerDir] : []), ...(r.adapterDir ? [r.adapterDir] : []), r.model.dir]],
    ['preprocessor_config.json', [...(r.adapterDir ? [r.adapterDir] : []), r.model.dir]],
  ];
  for (const [f, dirs] of copies) {
    for (const d of dirs) {
      const src = join(d, f);
      if (await stat(src).then((s) => s.isFile(), () => false)) {
        await copyFile(src, join(opts.out, f));
        break;
      }
    }
  }
  return manifest;
}

const EXPORT_EXAMPLES = `
Examples:
  # A VLM2Vec checkpoint from the hub (cached) as ONNX in onnx/vlm2vec-2b/
  $ vlm2vec export -m TIGER-Lab/VLM2Vec-Qwen2VL-2B -o onnx/vlm2vec-2b

  # A base model plus a PEFT adapter, merged, with float16 weights (half the download)
  $ vlm2vec export -m Qwen/Qwen2-VL-2B-Instruct --adapter ~/ckpt/VLM2Vec-V2.0 --dtype float16 -o onnx/v2-fp16

Output: OUT/vision.onnx, OUT/text.onnx (+ .data files above --external-data-threshold),
OUT/manifest.json naming every input and output, and the model's config/tokenizer files.
`;

/** Registers `vlm2vec export`. */
export function registerExport(program: Command): void {
  const cmd = pointToHelp(program.command('export'))
    .description('Export a local Qwen2-VL / VLM2Vec model (adapter merged) as ONNX for plain onnxruntime')
    .requiredOption('-m, --model <dir|hub-id>', 'model folder (config.json + safetensors or pytorch_model.bin), hub id owner/name[@rev], or PEFT adapter folder')
    .requiredOption('-o, --out <dir>', 'output folder (vision.onnx, text.onnx, manifest.json, configs)')
    .option('--adapter <dir|hub-id>', 'PEFT LoRA/DoRA adapter merged before export')
    .option('--tokenizer <dir>', 'folder with tokenizer.json to copy (default: the model folder, then the adapter, then the base)')
    .option('--external-data-threshold <bytes>', 'initializer bytes above which weights go to external data', nonNegativeInt('--external-data-threshold'))
    .option('--dtype <dtype>', DTYPE_HELP, parseDtypeOption)
    .option('--num-crops <n>', NUM_CROPS_HELP, positiveInt('--num-crops'));
  hiddenAlias(cmd, '--output <dir>', 'out')
    .addHelpText('after', EXPORT_EXAMPLES)
    .action(async (o: { model: string; out: string; adapter?: string; tokenizer?: string; externalDataThreshold?: number; dtype?: WeightDtype; numCrops?: number }) => {
      const m = await runExport({ ...o, onLoad: loadReporter(process.stderr) });
      process.stderr.write(`vlm2vec export: wrote ${m.graphs.vision.file} and ${m.graphs.text.file} to ${o.out}\n`);
    });
}
