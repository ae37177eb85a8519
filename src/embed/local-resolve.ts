// `--model` (+ `--adapter`, `--tokenizer`, pixel limits) → everything LocalEmbedder and `vlm2vec
// export` need to load a model: the base weights folder, the adapter folder, the tokenizer folder,
// the image processor settings and a stable identity for embedding cache keys.
//
// Resolution goes through `resolveModel` (src/models/registry.ts), so `--model` may be a
// local folder, a hub id (`owner/name[@rev]`, cached / downloaded) or a PEFT adapter folder whose
// adapter_config.json names the base model. Processor settings come from the resolved
// preprocessor_config.json, with VLM2Vec's pixel limits (3,136 / 1,003,520, docs/vlm2vec.md §1.4) unless the
// caller overrides them: the reference passes those limits to `from_pretrained`, over the file.

import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Vlm2VecError } from '../errors.ts';
import { checkPositiveInt } from '../util/checks.ts';
import { COMPLETE_MARKER, defaultCacheDir, isRepoId, repoCacheDir } from '../io/hub.ts';
import type { ModelSource, ResolveModelOptions } from '../io/weights/model-folder.ts';
import { resolveModelFolder } from '../io/weights/model-folder.ts';
import type { ImageProcessorSettings } from '../models/encoder.ts';
import { resolveModel, type ResolvedModel } from '../models/registry.ts';

/** VLM2Vec's DataArguments pixel limits (docs/vlm2vec.md §1.4), the embedder's defaults. */
export const VLM2VEC_MIN_PIXELS = 4 * 28 * 28;
export const VLM2VEC_MAX_PIXELS = 1280 * 28 * 28;

/** How to resolve a local model (a subset of LocalEmbedderOptions plus resolver knobs). */
export interface LocalModelSpecOptions {
  /** Explicit PEFT adapter (folder or hub id) merged into `spec`'s weights. */
  adapter?: string | undefined;
  /** Folder with tokenizer.json, overriding the model / adapter / base folders. */
  tokenizerDir?: string | undefined;
  /** Pixel limits (default VLM2Vec's 3,136 / 1,003,520, over preprocessor_config.json). */
  minPixels?: number | undefined;
  maxPixels?: number | undefined;
  /** Export copies the tokenizer when there is one: a missing tokenizer.json is then no error. */
  tokenizerOptional?: boolean | undefined;
  /** Cache root, offline mode, revision, download hooks (see ResolveModelOptions). */
  resolve?: Omit<ResolveModelOptions, 'preprocessorOverrides'> | undefined;
}

/** A model ready to load. */
export interface ResolvedLocalModel {
  /** The resolved base model (config.json + weights in `model.dir`). */
  readonly model: ResolvedModel;
  /** Adapter folder to merge (from `--adapter` or an adapter folder given as the model). */
  readonly adapterDir: string | undefined;
  /** Folder holding tokenizer.json (undefined only with `tokenizerOptional`). */
  readonly tokenizerDir: string | undefined;
  /** Image/video processor settings. */
  readonly processor: ImageProcessorSettings;
  /** Model identity + adapter + non-default pixel limits, for embedding cache keys. */
  readonly id: string;
}

function sourceLabel(s: ModelSource): string {
  return s.kind === 'hub' ? `hub:${s.repo}@${s.revision}` : `local:${resolve(s.path)}`;
}

async function hasFile(dir: string, file: string): Promise<boolean> {
  return stat(join(dir, file)).then(
    (s) => s.isFile(),
    () => false,
  );
}

/**
 * Short fingerprint of a folder's weight files (names, sizes, mtimes): retraining a checkpoint in
 * place changes the cache identity, without hashing gigabytes.
 */
async function weightsFingerprint(dir: string): Promise<string> {
  const h = createHash('sha256');
  const names = (await readdir(dir)).filter((f) => f.endsWith('.safetensors') || f.endsWith('.bin') || f === 'config.json' || f === 'adapter_config.json').sort();
  for (const f of names) {
    const s = await stat(join(dir, f));
    h.update(`${f}:${s.size}:${Math.floor(s.mtimeMs)}\n`);
  }
  return h.digest('hex').slice(0, 12);
}

/**
 * Runs `resolveSpec` for a `--model` / `--adapter` value; when it fails on the hub while no such
 * local path exists, says that first: `models/VLM2Vec-V2` (a mistyped folder) has the shape of a
 * hub id, and "the network looks offline" alone would send the user looking in the wrong place.
 */
async function explainMissing<T>(option: string, spec: string, opts: LocalModelSpecOptions, resolveSpec: () => Promise<T>): Promise<T> {
  try {
    return await resolveSpec();
  } catch (e) {
    if (!(e instanceof Vlm2VecError) || (e.area !== 'hub' && e.area !== 'model')) throw e;
    if (await stat(spec).then(() => true, () => false)) throw e;
    const at = spec.lastIndexOf('@');
    const repo = at > 0 ? spec.slice(0, at) : spec;
    if (!isRepoId(repo)) throw e;
    // A complete download means the hub part worked and the error is about the files: keep it.
    const revision = at > 0 ? spec.slice(at + 1) : (opts.resolve?.revision ?? 'main');
    let cached = true;
    try {
      cached = await hasFile(repoCacheDir(repo, 'model', revision, opts.resolve?.cacheDir ?? defaultCacheDir()), COMPLETE_MARKER);
    } catch {
      throw e;
    }
    if (cached) throw e;
    const parent = dirname(repo);
    const siblings = await readdir(parent, { withFileTypes: true }).then((d) => d.filter((x) => x.isDirectory()).map((x) => x.name).sort(), () => undefined);
    const near = siblings === undefined ? '' : ` (${parent}/ holds ${siblings.length === 0 ? 'no folders' : siblings.slice(0, 6).join(', ') + (siblings.length > 6 ? ', …' : '')})`;
    throw new Vlm2VecError('model', `${option} ${spec}: there is no local folder ${resolve(repo)}${near}; ` +
      `read as a hub id, it could not be fetched: ${e.detail}`, { cause: e });
  }
}

function checkPixels(name: string, v: number | undefined): void {
  if (v !== undefined) checkPositiveInt('embed', name, v);
}

/**
 * Resolves `--model` / `--adapter` / `--tokenizer` for a local model (any registered architecture).
 *
 * @example
 * const r = await resolveLocalModel('checkpoints/VLM2Vec-V2.0'); // adapter folder → its base + the adapter
 * r.model.dir;     // the base model folder (or its hub cache folder)
 * r.adapterDir;    // 'checkpoints/VLM2Vec-V2.0'
 * r.processor.maxPixels; // 1003520
 */
export async function resolveLocalModel(spec: string, opts: LocalModelSpecOptions = {}): Promise<ResolvedLocalModel> {
  checkPixels('minPixels', opts.minPixels);
  checkPixels('maxPixels', opts.maxPixels);
  const minPixels = opts.minPixels ?? VLM2VEC_MIN_PIXELS;
  const maxPixels = opts.maxPixels ?? VLM2VEC_MAX_PIXELS;
  if (minPixels > maxPixels) throw new Vlm2VecError('embed', `minPixels ${minPixels} exceeds maxPixels ${maxPixels}`);
  const ro = { ...opts.resolve, preprocessorOverrides: { minPixels, maxPixels } };
  const model = await explainMissing('--model', spec, opts, () => resolveModel(spec, ro));
  let adapterDir = model.adapter?.dir;
  let adapterSource: string | undefined = model.adapter ? sourceLabel(model.source) : undefined;
  if (opts.adapter !== undefined) {
    if (model.adapter) {
      throw new Vlm2VecError('embed', `--model ${spec} is already a PEFT adapter folder (base ${sourceLabel(model.adapter.base)}); ` +
        `pass either the adapter folder as --model or the base model with --adapter ${opts.adapter}, not both (stacked adapters are not supported)`);
    }
    // The adapter resolves like a model whose base is the folder just resolved (hub ids download).
    const adapterSpec = opts.adapter;
    const ad = await explainMissing('--adapter', adapterSpec, opts, () => resolveModelFolder(adapterSpec, { ...opts.resolve, baseModel: model.dir }));
    if (!ad.adapter) {
      throw new Vlm2VecError('embed', `--adapter ${opts.adapter} is not a PEFT adapter folder (no adapter_config.json in ${ad.dir})`);
    }
    adapterDir = ad.adapter.dir;
    adapterSource = sourceLabel(ad.source);
  }

  // Tokenizer: explicit folder, else the model folder, the adapter folder, then the base.
  let tokenizerDir = opts.tokenizerDir;
  if (tokenizerDir !== undefined) {
    if (!(await hasFile(tokenizerDir, 'tokenizer.json'))) throw new Vlm2VecError('embed', `--tokenizer ${tokenizerDir}: no tokenizer.json there`);
  } else {
    const candidates = [model.tokenizerDir, ...(opts.adapter !== undefined && adapterDir ? [adapterDir] : [])].filter((d): d is string => d !== undefined);
    for (const d of candidates) {
      if (await hasFile(d, 'tokenizer.json')) {
        tokenizerDir = d;
        break;
      }
    }
    if (tokenizerDir === undefined && !opts.tokenizerOptional) {
      const looked = [...new Set([...(model.adapter ? [model.adapter.dir] : []), model.dir, ...(adapterDir ? [adapterDir] : [])])];
      throw new Vlm2VecError('embed', `no tokenizer.json in ${looked.join(', ')}; pass the folder that has it with --tokenizer DIR`);
    }
  }

  const pre = model.preprocessor;
  const processor: ImageProcessorSettings = {
    ...(pre
      ? {
          patchSize: pre.patchSize,
          mergeSize: pre.mergeSize,
          temporalPatchSize: pre.temporalPatchSize,
          rescaleFactor: pre.rescaleFactor,
          imageMean: pre.imageMean,
          imageStd: pre.imageStd,
        }
      : {}),
    minPixels,
    maxPixels,
  };
  const base = model.adapter ? sourceLabel(model.adapter.base) : sourceLabel(model.source);
  const parts = [`${model.config.modelType}:${base}#${await weightsFingerprint(model.dir)}`];
  if (adapterDir) parts.push(`adapter:${adapterSource ?? resolve(adapterDir)}#${await weightsFingerprint(adapterDir)}`);
  if (minPixels !== VLM2VEC_MIN_PIXELS || maxPixels !== VLM2VEC_MAX_PIXELS) parts.push(`pixels:${minPixels}-${maxPixels}`);
  return { model, adapterDir, tokenizerDir, processor, id: parts.join('+') };
}
