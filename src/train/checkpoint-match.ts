// Does a `--checkpoint_path` adapter belong to `--model_name`? The reference never asks (its
// train.py ignores checkpoint_path); peft, loading an adapter onto the wrong base, warns about
// "missing adapter keys" or fails deep inside a matmul. Two checks before training starts:
//
// - by name: the adapter's `base_model_name_or_path` against `--model_name`, when both are hub ids
//   (a local path says nothing: the same model lives in many folders);
// - by structure, always: every module the adapter's own `target_modules` selects in this model
//   must have factors in the adapter. An adapter for a deeper model of the same family passes the
//   per-tensor shape check (models/qwen2-vl/train-model.ts) yet covers only some layers here.
//   (Factors whose module or shape does not fit are refused by that loader.)

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Vlm2VecError } from '../errors.ts';
import { isRepoId } from '../io/hub.ts';
import { Checkpoint } from '../io/weights/checkpoint.ts';
import { readJsonFile } from '../io/weights/hf-configs.ts';
import { isTargetModule, type PeftAdapter } from '../io/weights/peft.ts';

/** `owner/name` of a hub id (`@revision` cut), lower-cased; undefined for anything else. */
function hubId(s: string | undefined): string | undefined {
  if (s === undefined) return undefined;
  const id = s.includes('@') ? s.slice(0, s.indexOf('@')) : s;
  return isRepoId(id) && !existsSync(s) ? id.toLowerCase() : undefined;
}

/**
 * Refuses an adapter whose `base_model_name_or_path` names another hub model than `--model_name`.
 *
 * @example checkAdapterBase('ckpt/v2', 'Qwen/Qwen2-VL-7B-Instruct', 'Qwen/Qwen2-VL-2B-Instruct'); // throws
 */
export function checkAdapterBase(adapterDir: string, adapterBase: string | undefined, modelName: string): void {
  const a = hubId(adapterBase);
  const m = hubId(modelName);
  if (a !== undefined && m !== undefined && a !== m) {
    throw new Vlm2VecError('train', `--checkpoint_path ${adapterDir} is an adapter for ${adapterBase} (adapter_config.json base_model_name_or_path), but --model_name is ${modelName}; pass its base as --model_name`);
  }
}

/**
 * Refuses an adapter that leaves modules its own `target_modules` selects in this model without
 * factors (e.g. trained on a model with fewer layers). Skipped for a regex `target_modules` or
 * with `layers_to_transform` / `exclude_modules`, whose selection is not modelled here.
 */
export async function checkAdapterCoverage(adapterDir: string, adapter: PeftAdapter, modelDir: string): Promise<void> {
  const targets = adapter.config.targetModules;
  if (typeof targets === 'string') return;
  const raw = (await readJsonFile('peft', join(adapterDir, 'adapter_config.json'))) as Record<string, unknown>;
  const set = (k: string): boolean => raw[k] !== undefined && raw[k] !== null && !(Array.isArray(raw[k]) && raw[k].length === 0);
  if (set('layers_to_transform') || set('exclude_modules')) return;
  const ck = await Checkpoint.open(modelDir);
  let selected: string[];
  try {
    // The linear layers peft could wrap: 2-D weights, without the (tied) embeddings.
    selected = ck.names()
      .filter((n) => n.endsWith('.weight') && ck.info(n).shape.length === 2 && !/(^|\.)(embed_tokens|lm_head|wte)\./.test(n))
      .map((n) => n.slice(0, -'.weight'.length))
      .filter((m) => isTargetModule(adapter.config, m));
  } finally {
    await ck.close();
  }
  const missing = selected.filter((m) => !adapter.modules.has(m));
  if (missing.length > 0) {
    throw new Vlm2VecError('train', `--checkpoint_path ${adapterDir}: its target_modules ${JSON.stringify(targets)} select ${selected.length} modules of --model_name, ` +
      `but the adapter has factors for ${selected.length - missing.length} of them (none for ${missing.slice(0, 3).join(', ')}${missing.length > 3 ? `, … ${missing.length - 3} more` : ''}); ` +
      'is the adapter for another base model (e.g. one with more or fewer layers)?');
  }
}
