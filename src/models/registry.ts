// The model registry: one typed record per architecture (in the spirit of mteb's ModelMeta), and
// config.json → typed config dispatched on `model_type`. Code above models/ asks this file for a
// record and talks to the `Encoder` it loads (models/encoder.ts); it never imports an
// architecture folder. Adding a backbone = its folder + one record registered here (or, from
// outside the package, with `registerModel`).

import { join } from 'node:path';
import { stat } from 'node:fs/promises';
import { Vlm2VecError } from '../errors.ts';
import { readJsonFile } from '../io/weights/hf-configs.ts';
import { resolveModelFolder, type ModelFolder, type ResolveModelOptions } from '../io/weights/model-folder.ts';
import type { PaddingSide } from '../io/text/tokenizer.ts';
import { warnToStderr, type WarningSink } from '../util/warn.ts';
import type { ModelConfig, ParseConfigOptions } from './common/config.ts';
import type { Encoder, LoadEncoderArgs } from './encoder.ts';
import type { LoadTrainModelArgs, TrainModel } from './common/train-model.ts';
import { QWEN2_VL } from './qwen2-vl/record.ts';
import { LLAVA_NEXT } from './llava-next/record.ts';
import { PHI3_V } from './phi3-v/record.ts';
import type { Qwen2VLExportManifest } from './qwen2-vl/encoder.ts';
import type { LlavaNextExportManifest } from './llava-next/encoder.ts';
import type { Phi3VExportManifest } from './phi3-v/encoder.ts';

export type { ModelConfig, ParseConfigOptions } from './common/config.ts';

/** Everything the rest of the toolkit needs to know about one architecture. */
export interface ModelRecord<C extends ModelConfig = ModelConfig, E extends Encoder = Encoder> {
  /** Display name, e.g. 'Qwen2-VL'. */
  readonly name: string;
  /** config.json `model_type` values this record reads. */
  readonly modelTypes: readonly string[];
  /** config.json object → typed config (throws naming the file and field). */
  parseConfig(json: unknown, options: ParseConfigOptions): C;
  /** The prompt style of the model's training data (embed/prompt.ts PROMPT_STYLES). */
  readonly promptStyle: string;
  /** The media placeholder tokens its prompts carry. */
  readonly imageToken: string;
  readonly videoToken: string;
  /** The tokenizer's pad token id and the side the reference pads on. */
  readonly padTokenId: number;
  readonly paddingSide: PaddingSide;
  /**
   * The HD-crop counts its image processor takes (`--num-crops`, Phi-3-V) and the default
   * (absent: the option does not apply to this architecture).
   */
  readonly numCrops?: { readonly default: number; readonly choices: readonly number[] } | undefined;
  /** Loads the weights (adapter merged) and returns the encoder. */
  loadEncoder(args: LoadEncoderArgs<C>): Promise<E>;
  /** Sets the architecture up for `vlm2vec train` (absent: it does not train). */
  loadTrainModel?(args: LoadTrainModelArgs<C>): Promise<TrainModel>;
}

/** A record of any architecture (what the registry holds). */
// The registry hands each record only configs its own parser made, so `any` loses nothing at the call sites.
export type AnyModelRecord = ModelRecord<any, Encoder<any>>;

/** manifest.json of `vlm2vec export`, one shape per architecture that exports (docs/export.md). */
export type ExportManifest = Qwen2VLExportManifest | LlavaNextExportManifest | Phi3VExportManifest;

/** Built-in architectures. */
const BUILT_IN: readonly AnyModelRecord[] = [QWEN2_VL, LLAVA_NEXT, PHI3_V];

const records = new Map<string, AnyModelRecord>();

/**
 * Adds an architecture (its model types must be new).
 *
 * @example registerModel({ name: 'Toy', modelTypes: ['toy_mean'], parseConfig, loadEncoder, ... });
 */
export function registerModel(record: AnyModelRecord): void {
  for (const t of record.modelTypes) {
    const had = records.get(t);
    if (had && had !== record) throw new Vlm2VecError('config', `model_type '${t}' is already registered (${had.name})`);
  }
  for (const t of record.modelTypes) records.set(t, record);
}

for (const r of BUILT_IN) registerModel(r);

/**
 * The prompt style of each registered architecture, by name (what a local model's `--style` may be).
 *
 * @example promptStyles() // [{ name: 'Qwen2-VL', style: 'qwen2_vl' }]
 */
export function promptStyles(): { name: string; style: string }[] {
  return [...new Set(records.values())].map((r) => ({ name: r.name, style: r.promptStyle }));
}

/** Every registered model type, in registration order. */
export function supportedModelTypes(): string[] {
  return [...records.keys()];
}

/**
 * The record of a model type.
 *
 * @example modelRecord('qwen2_vl').padTokenId // 151643
 */
export function modelRecord(modelType: string): AnyModelRecord {
  const r = records.get(modelType);
  if (!r) throw new Vlm2VecError('config', `model_type '${modelType}' is not supported (supported: ${supportedModelTypes().join(', ')})`);
  return r;
}

/**
 * Parses any config.json object into its typed config (narrow with `modelType`).
 *
 * @example
 * const cfg = parseModelConfig(json, { file: 'Qwen2-VL-2B-Instruct/config.json' });
 * cfg.modelType; // 'qwen2_vl'
 */
export function parseModelConfig(json: unknown, options: ParseConfigOptions = {}): ModelConfig {
  const file = options.file ?? 'config.json';
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new Vlm2VecError('config', `${file}: expected a JSON object`);
  }
  const modelType = (json as { model_type?: unknown }).model_type;
  if (typeof modelType !== 'string') {
    throw new Vlm2VecError('config', `${file}: missing model_type (supported: ${supportedModelTypes().join(', ')})`);
  }
  const record = records.get(modelType);
  if (!record) {
    throw new Vlm2VecError('config', `${file}: model_type '${modelType}' is not supported (supported: ${supportedModelTypes().join(', ')})`);
  }
  return record.parseConfig(json, { ...options, file }) as ModelConfig;
}

/** Reads `<dir>/config.json` (or a config file path) and parses it. */
export async function loadModelConfig(pathOrDir: string, options: Omit<ParseConfigOptions, 'file'> = {}): Promise<ModelConfig> {
  const isDir = await stat(pathOrDir).then(
    (s) => s.isDirectory(),
    () => false,
  );
  const file = isDir ? join(pathOrDir, 'config.json') : pathOrDir;
  return parseModelConfig(await readJsonFile('config', file), { ...options, file });
}

/** A resolved model folder plus its typed config. */
export interface ResolvedModel extends ModelFolder {
  readonly config: ModelConfig;
}

/**
 * Resolves `--model` (local folder, PEFT adapter folder or hub id) and parses its config.json.
 *
 * @example
 * const m = await resolveModel('TIGER-Lab/VLM2Vec-Qwen2VL-2B', { preprocessorOverrides: { maxPixels: 1003520 } });
 * m.config.modelType; // 'qwen2_vl'
 * m.adapter?.config.useDora; // true
 */
export async function resolveModel(
  spec: string,
  options: ResolveModelOptions & {
    /** Reject unknown config.json keys instead of warning about them (default false). */
    readonly strictConfig?: boolean;
    /** Receives warnings (unknown config keys); default: printed to stderr. */
    readonly onWarning?: WarningSink;
  } = {},
): Promise<ResolvedModel> {
  const folder = await resolveModelFolder(spec, options);
  const warn = options.onWarning ?? warnToStderr;
  // Real checkpoints carry extra keys (remote-code auto_map, trainer fields): warn, don't refuse.
  const config = parseModelConfig(folder.configJson, {
    file: folder.configPath,
    strict: options.strictConfig ?? false,
    onUnknownKeys: (keys) => warn(`${folder.configPath}: ignoring unknown config key(s) ${keys.join(', ')}`),
  });
  return { ...folder, config };
}

/**
 * The processor setting of `--num-crops` for a model of `record` (empty when not given), refused
 * with the option named when the architecture has no crops or does not take that count.
 *
 * @example numCropsSetting(modelRecord('phi3_v'), 4, 'VLM2Vec-Full/config.json') // { numCrops: 4 }
 */
export function numCropsSetting(record: AnyModelRecord, numCrops: number | undefined, source: string): { numCrops?: number } {
  if (numCrops === undefined) return {};
  const c = record.numCrops;
  if (!c) {
    const takers = [...new Set(records.values())].filter((r) => r.numCrops).map((r) => r.name);
    throw new Vlm2VecError('config', `--num-crops applies to ${takers.join(' / ')} models; ${source} is a ${record.name} model`);
  }
  if (!c.choices.includes(numCrops)) throw new Vlm2VecError('config', `--num-crops ${numCrops}: ${record.name} takes ${c.choices.join(' or ')} (default ${c.default})`);
  return { numCrops };
}
