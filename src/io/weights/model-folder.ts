// `--model <x>` → a local Hugging Face model folder with its parsed configs.
//
// <x> may be a local folder (full model or PEFT adapter) or a hub id `owner/name[@revision]`
// (served from the cache, downloaded when missing and the network is there). An adapter folder is
// resolved to its base model (adapter_config.json `base_model_name_or_path`: a folder, relative
// to the working directory as PEFT reads it or to the adapter folder, else a hub id). VLM2Vec
// adapter checkpoints also carry the processor files (tokenizer, preprocessor_config.json); those
// take precedence over the base model's, as in the reference's loading code.
//
// config.json is returned as JSON here; src/models/registry.ts `resolveModel` adds the typed
// config (io sits below models in the layering, so it cannot import the model parsers).

import { stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { Vlm2VecError } from '../../errors.ts';
import { parsePreprocessorConfig, readJsonFile, type PreprocessorConfig } from './hf-configs.ts';
import { COMPLETE_MARKER, defaultCacheDir, downloadRepo, isRepoId, repoCacheDir, type DownloadRepoOptions } from '../hub.ts';
import { isAdapterFolder, loadAdapterConfig, type AdapterConfig } from './peft.ts';
import { Checkpoint } from './checkpoint.ts';

export type ModelSource =
  | { readonly kind: 'local'; readonly path: string }
  | { readonly kind: 'hub'; readonly repo: string; readonly revision: string };

export interface ModelFolder {
  /** What the user passed. */
  readonly spec: string;
  readonly source: ModelSource;
  /** Local folder with config.json and the (base) weights. */
  readonly dir: string;
  /** `<dir>/config.json` and its parsed JSON (typed by src/models/registry.ts). */
  readonly configPath: string;
  readonly configJson: unknown;
  /** Folder with tokenizer.json, or undefined when neither the adapter nor the base has one. */
  readonly tokenizerDir: string | undefined;
  /** preprocessor_config.json, or undefined when absent. */
  readonly preprocessor: PreprocessorConfig | undefined;
  /** Set when `spec` named a PEFT adapter; load its tensors with loadAdapter(adapter.dir). */
  readonly adapter: { readonly dir: string; readonly config: AdapterConfig; readonly base: ModelSource } | undefined;
}

export interface ResolveModelOptions {
  /** Cache root for hub downloads; default $VLM2VEC_CACHE or ~/.cache/vlm2vec. */
  readonly cacheDir?: string;
  /** Revision for a hub id without `@rev`; default 'main'. */
  readonly revision?: string;
  /** Never touch the network (default: $VLM2VEC_OFFLINE or $HF_HUB_OFFLINE set to 1). */
  readonly offline?: boolean;
  /** Base model for an adapter, overriding adapter_config.json. */
  readonly baseModel?: string;
  /** min/max pixels overriding preprocessor_config.json (VLM2Vec passes 3136 / 1003520). */
  readonly preprocessorOverrides?: { readonly minPixels?: number; readonly maxPixels?: number };
  /** Passed to downloadRepo (fetch, hubUrl, onProgress, timeoutMs, accessToken). */
  readonly download?: Omit<DownloadRepoOptions, 'repo' | 'repoType' | 'revision' | 'destDir' | 'include'>;
}

/** Base weights as torch.save pickles, as transformers 4.x wrote them (single file or shards). */
const TORCH_WEIGHTS = /^pytorch_model(-\d+-of-\d+)?\.bin$/;

/**
 * Files fetched for a model repo: configs, tokenizer, safetensors weights, and the torch.save
 * forms our readers also take — `pytorch_model.bin` (or its shards) and a PEFT `adapter_model.bin`
 * (VLM2Vec V1 adapters ship only that). Other .bin/.pt/.onnx/.gguf files are skipped.
 */
export function isModelFileWanted(path: string): boolean {
  return (/\.(json|safetensors|txt|model|jinja|tiktoken)$/.test(path) || path === 'adapter_model.bin' || TORCH_WEIGHTS.test(path)) && !path.includes('/checkpoint-');
}

/**
 * Drops the torch.save form of weights when the repo also lists the safetensors form (the readers
 * take safetensors first, so the pickles would be a wasted download): `adapter_model.bin` beside
 * `adapter_model.safetensors`, and `pytorch_model*.bin` + `pytorch_model.bin.index.json` beside
 * `model.safetensors` or `model.safetensors.index.json`.
 *
 * @example preferSafetensors(['adapter_model.bin', 'adapter_model.safetensors']) // ['adapter_model.safetensors']
 * @example preferSafetensors(['model.safetensors', 'pytorch_model.bin']) // ['model.safetensors']
 */
export function preferSafetensors(paths: readonly string[]): string[] {
  const has = new Set(paths);
  const safeBase = has.has('model.safetensors') || has.has('model.safetensors.index.json');
  return paths.filter((p) => {
    if (p.endsWith('adapter_model.bin') && has.has(p.replace(/\.bin$/, '.safetensors'))) return false;
    return !(safeBase && (TORCH_WEIGHTS.test(p) || p === 'pytorch_model.bin.index.json'));
  });
}

async function isDir(p: string): Promise<boolean> {
  return stat(p).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

async function isFile(p: string): Promise<boolean> {
  return stat(p).then(
    (s) => s.isFile(),
    () => false,
  );
}

function envOffline(): boolean {
  return ['VLM2VEC_OFFLINE', 'HF_HUB_OFFLINE'].some((k) => ['1', 'true', 'yes'].includes((process.env[k] ?? '').toLowerCase()));
}

/** Splits `owner/name@rev`. */
function splitRevision(spec: string, fallback: string): { repo: string; revision: string } {
  const at = spec.lastIndexOf('@');
  return at > 0 ? { repo: spec.slice(0, at), revision: spec.slice(at + 1) } : { repo: spec, revision: fallback };
}

/** A local folder for `spec`: the folder itself, or the cached / freshly downloaded hub repo. */
async function localize(spec: string, options: ResolveModelOptions): Promise<{ dir: string; source: ModelSource }> {
  if (await isDir(spec)) return { dir: spec, source: { kind: 'local', path: spec } };
  // A spec written as a path (absolute, ./, ../, ~) is never a hub id: say the folder is missing.
  if (/^(\/|\.{1,2}(\/|$)|~)/.test(spec) || (await isFile(spec))) {
    const what = (await isFile(spec)) ? 'is a file' : 'does not exist';
    throw new Vlm2VecError('model', `model folder ${spec} ${what}: expected a Hugging Face model folder (config.json + *.safetensors or pytorch_model.bin) or a PEFT adapter folder`);
  }
  const { repo, revision } = splitRevision(spec, options.revision ?? 'main');
  if (!isRepoId(repo)) {
    throw new Vlm2VecError('model', `'${spec}' is neither a local folder nor a hub id (owner/name[@revision])`);
  }
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const dir = repoCacheDir(repo, 'model', revision, cacheDir);
  const source: ModelSource = { kind: 'hub', repo, revision };
  if (await isFile(join(dir, COMPLETE_MARKER))) return { dir, source };
  if (options.offline ?? envOffline()) {
    throw new Vlm2VecError('model', `${repo}@${revision} is not in the cache (${dir}) and offline mode is on; download it first or pass a local folder`);
  }
  await downloadRepo({ ...options.download, repo, repoType: 'model', revision, destDir: dir, include: isModelFileWanted, select: preferSafetensors });
  return { dir, source };
}

/** Where an adapter's base model lives, per PEFT's own rule plus the adapter-relative fallback. */
async function adapterBaseSpec(adapterDir: string, config: AdapterConfig, override: string | undefined): Promise<string> {
  if (override) return override;
  const base = config.baseModelNameOrPath;
  if (!base) throw new Vlm2VecError('model', `${adapterDir}/adapter_config.json has no base_model_name_or_path; pass the base model explicitly`);
  if (await isDir(base)) return base;
  if (!isAbsolute(base)) {
    const rel = resolve(adapterDir, base);
    if (await isDir(rel)) return rel;
  }
  if (isRepoId(base)) return config.revision ? `${base}@${config.revision}` : base;
  throw new Vlm2VecError('model', `base model '${base}' of adapter ${adapterDir} is neither a folder nor a hub id; pass the base model explicitly`);
}

async function firstWith(file: string, dirs: readonly string[]): Promise<string | undefined> {
  for (const d of dirs) if (await isFile(join(d, file))) return d;
  return undefined;
}

/**
 * Resolves `--model` to a local folder with its config.json, preprocessor config and (for adapters)
 * the adapter config and base model. Use `resolveModel` (src/models/registry.ts) to also
 * get the typed model config.
 *
 * @example
 * const m = await resolveModelFolder('TIGER-Lab/VLM2Vec-Qwen2VL-2B');
 * if (m.adapter) { const ad = await loadAdapter(m.adapter.dir); }
 * const ckpt = await openCheckpoint(m); // base weights, lazily
 */
export async function resolveModelFolder(spec: string, options: ResolveModelOptions = {}): Promise<ModelFolder> {
  const top = await localize(spec, options);
  let dir = top.dir;
  let adapter: ModelFolder['adapter'];
  if (await isAdapterFolder(top.dir)) {
    const config = await loadAdapterConfig(top.dir);
    const baseSpec = await adapterBaseSpec(top.dir, config, options.baseModel);
    const base = await localize(baseSpec, options);
    if (await isAdapterFolder(base.dir)) {
      throw new Vlm2VecError('model', `base model ${baseSpec} of adapter ${top.dir} is itself an adapter; stacked adapters are not supported`);
    }
    dir = base.dir;
    adapter = { dir: top.dir, config, base: base.source };
  }
  if (!(await isFile(join(dir, 'config.json')))) {
    throw new Vlm2VecError('model', `${dir}: no config.json (expected a Hugging Face model folder or a PEFT adapter folder)`);
  }
  const configPath = join(dir, 'config.json');
  const configJson = await readJsonFile('config', configPath);
  const procDirs = adapter ? [adapter.dir, dir] : [dir];
  const tokenizerDir = await firstWith('tokenizer.json', procDirs);
  const preDir = await firstWith('preprocessor_config.json', procDirs);
  const preFile = preDir && join(preDir, 'preprocessor_config.json');
  const preprocessor = preFile
    ? parsePreprocessorConfig(await readJsonFile('config', preFile), preFile, options.preprocessorOverrides ?? {})
    : undefined;
  return { spec, source: top.source, dir, configPath, configJson, tokenizerDir, preprocessor, adapter };
}

/** Opens the (base) weights of a resolved model folder (safetensors, else pytorch_model.bin) for lazy reads. */
export function openCheckpoint(folder: Pick<ModelFolder, 'dir'>): Promise<Checkpoint> {
  return Checkpoint.open(folder.dir);
}
