// The settings an output folder's results depend on, recorded in `OUT/eval-settings.json` by the
// first run. A later run into the same folder skips every task that has a score file, so a run
// with another model, prompt style or data version would silently mix two kinds of results in
// one summary; it is refused instead, naming what differs. (The graded-nDCG mode is not part of
// it: a score file records its own mode and is re-scored from the cache when the mode changes.)

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Vlm2VecError } from '../../errors.ts';
import { writeFileAtomic } from '../../util/fs.ts';
import { DEFAULT_REGISTRY_OPTIONS, type RegistryOptions } from '../tasks/registry.ts';
import type { ImageResolution } from '../load/resize.ts';

export const SETTINGS_FILE = 'eval-settings.json';

/** What the result files of one output folder were computed with. */
export interface EvalSettings {
  /** Embedder id (e.g. `vlm2vec:VLM2Vec/VLM2Vec-V2.0`): also the embedding cache's model key. */
  model: string;
  style: string;
  momentSeeker: RegistryOptions['momentSeeker'];
  pageData: RegistryOptions['pageData'];
  vidoreInstructions: RegistryOptions['vidoreInstructions'];
  /** `--image-resolution`; absent = images as they are (also every folder written before the option). */
  imageResolution?: ImageResolution;
}

/** The settings of a run, defaults filled in. */
export function evalSettings(
  model: string, style: string | undefined, registry: Partial<RegistryOptions> = {}, imageResolution?: ImageResolution,
): EvalSettings {
  const d = DEFAULT_REGISTRY_OPTIONS;
  return {
    model,
    style: style ?? 'qwen2_vl',
    momentSeeker: registry.momentSeeker ?? d.momentSeeker,
    pageData: registry.pageData ?? d.pageData,
    vidoreInstructions: registry.vidoreInstructions ?? d.vidoreInstructions,
    // Written only when set, so the settings file of an ordinary run is unchanged.
    ...(imageResolution !== undefined ? { imageResolution } : {}),
  };
}

/** How each setting is spelt on the command line, for the error message. */
const OPTION: Record<keyof EvalSettings, string> = {
  model: '--model/--model-name',
  style: '--style',
  momentSeeker: '--momentseeker',
  pageData: '--page-data',
  vidoreInstructions: '--vidore-instructions',
  imageResolution: '--image-resolution',
};

/**
 * Settings whose absence from a saved file means a value, not "unknown": every folder written
 * before `--image-resolution` existed holds un-resized results, so a resized run into it differs.
 */
const ABSENT_MEANS: Partial<Record<keyof EvalSettings, string>> = { imageResolution: 'none' };

/**
 * Record `settings` in `outDir` on the first run; on later runs check they are unchanged.
 * Folders written before this file existed are adopted as they are.
 *
 * @example
 * await checkEvalSettings('out/run1', evalSettings('vlm2vec:m', 'qwen2_vl'));
 */
export async function checkEvalSettings(outDir: string, settings: EvalSettings): Promise<void> {
  const file = join(outDir, SETTINGS_FILE);
  if (existsSync(file)) {
    let saved: Partial<EvalSettings>;
    try {
      saved = JSON.parse(readFileSync(file, 'utf8')) as Partial<EvalSettings>;
    } catch (err) {
      throw new Vlm2VecError('eval', `${file} is not valid JSON (${(err as Error).message}); delete it to adopt this run's settings`, { cause: err });
    }
    const value = (o: Partial<EvalSettings>, k: keyof EvalSettings) => o[k] ?? ABSENT_MEANS[k];
    const diffs = (Object.keys(OPTION) as (keyof EvalSettings)[])
      .filter((k) => value(saved, k) !== undefined && value(saved, k) !== value(settings, k))
      .map((k) => `${OPTION[k]}: ${JSON.stringify(value(saved, k))} there, ${JSON.stringify(value(settings, k))} now`);
    if (diffs.length > 0) {
      throw new Vlm2VecError('eval', `${outDir} holds results computed with other settings (${diffs.join('; ')}); ` +
        `finished tasks would be skipped and mixed into one summary. Use another --out, or rerun with the settings of ${file}`);
    }
    return;
  }
  await writeFileAtomic(file, `${JSON.stringify(settings, null, 2)}\n`);
}
