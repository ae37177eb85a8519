// The model that ships inside the package (`assets/model`): a small VLM2Vec-architecture model
// (Qwen2-VL) trained by `vlm2vec train` on open data (docs/open-data.md). It is the default of
// `embed`, `index`, `search` and `serve` when no --model is given, so a first run, the demo and
// offline machines need no model hub. It is far too small for real use; VLM2Vec-V2.0 is.
//
// The folder is found relative to this module: src/embed/ in a clone (run through tsx) and
// dist/embed/ in an installed package are both two levels below the package root.

import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Vlm2VecError } from '../errors.ts';

/** The hub id to use for real work instead of the bundled model. */
export const RECOMMENDED_MODEL = 'VLM2Vec/VLM2Vec-V2.0';

/** The one line printed when a command falls back to the bundled model. */
export const BUNDLED_MODEL_NOTICE =
  'no --model given: using the bundled model (a small VLM2Vec-architecture model trained on open data, ' +
  `for trying the toolkit offline; not for real use). For real embeddings: --model ${RECOMMENDED_MODEL}`;

/** Help text of a `--model` option whose default is the bundled model. */
export const BUNDLED_MODEL_HELP = `(default: the bundled small demo model, not for real use; real work: ${RECOMMENDED_MODEL})`;

/**
 * Absolute path of the bundled model folder (an HF model folder: config.json, model.safetensors,
 * tokenizer). Does not check that it exists; {@link requireBundledModel} does.
 *
 * @example const model = await LocalEmbedder.load(bundledModelPath(), bundledModelPixels());
 */
export function bundledModelPath(): string {
  return fileURLToPath(new URL('../../assets/model', import.meta.url));
}

/** {@link bundledModelPath}, or a clear error when the package was installed without its assets (`dir`: for tests). */
export function requireBundledModel(dir = bundledModelPath()): string {
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json']) {
    if (!existsSync(`${dir}/${f}`)) {
      throw new Vlm2VecError('model', `no --model given, and the bundled model is missing (${dir}/${f} not found: ` +
        `this copy of vlm2vec was installed without its assets/ folder); give --model DIR|HUB-ID, e.g. --model ${RECOMMENDED_MODEL}`);
    }
  }
  return dir;
}

/**
 * A folder under the package's assets/ (`demo/gallery`, `mini`), or a clear error when the
 * package was installed without it.
 */
export function requireBundledAsset(rel: string, what: string): string {
  const dir = fileURLToPath(new URL(`../../assets/${rel}`, import.meta.url));
  if (!existsSync(dir)) {
    throw new Vlm2VecError('demo', `${what} is missing (${dir} not found: this copy of vlm2vec was installed without its assets/ folder)`);
  }
  return dir;
}

/**
 * The image pixel limits the bundled model was trained with, from its preprocessor_config.json
 * (`min_pixels` / `max_pixels`). Loading takes VLM2Vec's limits (up to ~1 M pixels) unless told
 * otherwise, far more than this model has seen and slow on its tiny vision tower; the commands
 * use these limits when they fall back to the bundled model and --min/--max-pixels are not given.
 */
export function bundledModelPixels(): { minPixels?: number; maxPixels?: number } {
  const file = `${bundledModelPath()}/preprocessor_config.json`;
  let cfg: { min_pixels?: unknown; max_pixels?: unknown };
  try {
    cfg = JSON.parse(readFileSync(file, 'utf8')) as typeof cfg;
  } catch (e) {
    throw new Vlm2VecError('model', `cannot read the bundled model's ${file}: ${(e as Error).message}`, { cause: e });
  }
  const out: { minPixels?: number; maxPixels?: number } = {};
  if (typeof cfg.min_pixels === 'number') out.minPixels = cfg.min_pixels;
  if (typeof cfg.max_pixels === 'number') out.maxPixels = cfg.max_pixels;
  return out;
}

/** What a command loads when `--model` is absent: the folder plus its pixel limits. */
export interface BundledModelChoice {
  model: string;
  minPixels?: number;
  maxPixels?: number;
}

/**
 * The model options a command runs with: `model` as given, or the bundled model (with its pixel
 * limits where the user gave none), announced once on `stderr`.
 */
export function modelOrBundled<T extends { model?: string | undefined; minPixels?: number | undefined; maxPixels?: number | undefined }>(
  o: T,
  stderr: { write(s: string): unknown },
  command: string,
): T & { model: string } {
  if (o.model !== undefined) return o as T & { model: string };
  const model = requireBundledModel();
  const px = bundledModelPixels();
  stderr.write(`vlm2vec ${command}: ${BUNDLED_MODEL_NOTICE}\n`);
  return { ...o, model, minPixels: o.minPixels ?? px.minPixels, maxPixels: o.maxPixels ?? px.maxPixels };
}

/** True when `spec` names the bundled model folder (e.g. the model recorded in an index made without --model). */
export function isBundledModel(spec: string): boolean {
  return resolve(spec) === bundledModelPath();
}
