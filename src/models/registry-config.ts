// config.json → typed model config, dispatched on `model_type`. Each architecture folder owns its
// parser; this file is the only list of supported types, so an unsupported checkpoint fails here
// with the list of what is supported instead of deep inside a model.

import { join } from 'node:path';
import { stat } from 'node:fs/promises';
import { Vlm2VecError } from '../errors.ts';
import { warnToStderr, type WarningSink } from '../util/warn.ts';
import { readJsonFile } from '../io/hf-configs.ts';
import { resolveModelFolder, type ModelFolder, type ResolveModelOptions } from '../io/model-folder.ts';
import { parseQwen2VLConfig, type ParseConfigOptions, type Qwen2VLConfig } from './qwen2-vl/config.ts';

/** Every supported typed config (a discriminated union on `modelType`). */
export type ModelConfig = Qwen2VLConfig;
export type ModelType = ModelConfig['modelType'];

const PARSERS = {
  qwen2_vl: parseQwen2VLConfig,
} as const satisfies Record<ModelType, (json: unknown, options?: ParseConfigOptions) => ModelConfig>;

export const SUPPORTED_MODEL_TYPES = Object.keys(PARSERS) as ModelType[];

/**
 * Parses any config.json object into its typed config.
 *
 * @example
 * const cfg = parseModelConfig(json, { file: 'Qwen2-VL-2B-Instruct/config.json' });
 * if (cfg.modelType === 'qwen2_vl') console.log(cfg.vision.depth);
 */
export function parseModelConfig(json: unknown, options: ParseConfigOptions = {}): ModelConfig {
  const file = options.file ?? 'config.json';
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new Vlm2VecError('config', `${file}: expected a JSON object`);
  }
  const modelType = (json as { model_type?: unknown }).model_type;
  if (typeof modelType !== 'string') {
    throw new Vlm2VecError('config', `${file}: missing model_type (supported: ${SUPPORTED_MODEL_TYPES.join(', ')})`);
  }
  if (!Object.hasOwn(PARSERS, modelType)) {
    throw new Vlm2VecError(
      'config',
      `${file}: model_type '${modelType}' is not supported (supported: ${SUPPORTED_MODEL_TYPES.join(', ')})`,
    );
  }
  return PARSERS[modelType as ModelType](json, { ...options, file });
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
 * m.config.text.hiddenSize; // 1536
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
