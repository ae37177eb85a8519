// The prompt style a model's architecture uses, read from its config.json before any weight loads:
// what the commands (embed, eval, eval-v1, serve) default their prompt style to.

import type { PromptStyle } from './prompt.ts';

/**
 * The prompt style of the architecture `spec` names (a model folder, an adapter folder or a hub id
 * already in the cache), read from config.json without loading weights or going online; undefined
 * when it cannot be read here (the caller falls back to the default, and loading reports the real
 * problem). The commands default their prompt style to it.
 *
 * @example await modelPromptStyle('test/fixtures/model/tiny-phi3v') // 'phi3_v'
 */
export async function modelPromptStyle(spec: string): Promise<PromptStyle | undefined> {
  try {
    // Loaded on demand: the server's main thread does not otherwise load the model code.
    const { modelRecord, resolveModel } = await import('../models/registry.ts');
    const m = await resolveModel(spec, { offline: true, onWarning: () => undefined });
    return modelRecord(m.config.modelType).promptStyle as PromptStyle;
  } catch {
    return undefined;
  }
}
