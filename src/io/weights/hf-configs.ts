// Typed views of the small JSON files in a Hugging Face model folder besides config.json:
// preprocessor_config.json (image processor) and tokenizer_config.json.
//
// Unlike config.json (see src/models/registry.ts), these files carry many keys that other
// tools read and we do not (chat templates, added-token tables, auto_map, processor_class ...),
// so unknown keys are ignored here; the keys we do read are type-checked strictly.

import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { Vlm2VecError } from '../../errors.ts';

/** Formats the first zod issue as `file: path.to.field: message`. */
export function zodFail(area: string, file: string, error: z.ZodError): Vlm2VecError {
  const lines = error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  return new Vlm2VecError(area, `${file}: ${lines.join('; ')}`);
}

/** Reads and JSON-parses a file, with errors naming it. */
export async function readJsonFile(area: string, path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new Vlm2VecError(area, `${path}: cannot read (${(e as Error).message})`, { cause: e });
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Vlm2VecError(area, `${path}: not valid JSON (${(e as Error).message})`, { cause: e });
  }
}

const posInt = z.number().int().positive();
const triple = z.tuple([z.number(), z.number(), z.number()]);

const PreprocessorSchema = z.object({
  min_pixels: posInt.optional(),
  max_pixels: posInt.optional(),
  size: z
    .object({ shortest_edge: posInt.optional(), longest_edge: posInt.optional() })
    .passthrough()
    .optional(),
  patch_size: posInt.optional(),
  temporal_patch_size: posInt.optional(),
  merge_size: posInt.optional(),
  image_mean: triple.optional(),
  image_std: triple.optional(),
  do_resize: z.boolean().optional(),
  do_rescale: z.boolean().optional(),
  rescale_factor: z.number().positive().optional(),
  do_normalize: z.boolean().optional(),
  do_convert_rgb: z.boolean().optional(),
  resample: z.number().int().optional(),
  image_processor_type: z.string().optional(),
});

/** Image-processor settings (Qwen2-VL style), defaults filled in. */
export interface PreprocessorConfig {
  readonly minPixels: number;
  readonly maxPixels: number;
  readonly patchSize: number;
  readonly temporalPatchSize: number;
  readonly mergeSize: number;
  readonly imageMean: readonly [number, number, number];
  readonly imageStd: readonly [number, number, number];
  readonly doResize: boolean;
  readonly doRescale: boolean;
  readonly rescaleFactor: number;
  readonly doNormalize: boolean;
  readonly doConvertRgb: boolean;
  /** PIL resample filter id (3 = BICUBIC). */
  readonly resample: number;
  readonly imageProcessorType: string | undefined;
}

// OpenAI CLIP normalization, the Qwen2-VL default.
export const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
export const CLIP_STD = [0.26862954, 0.26130258, 0.27577711] as const;

/**
 * Parses preprocessor_config.json. Pixel limits resolve as transformers' Qwen2VLImageProcessor does
 * (`size.shortest_edge/longest_edge`, overridden by legacy `min_pixels/max_pixels` keys, defaults
 * 56·56 and 28·28·1280), and `overrides` win over the file — VLM2Vec passes
 * `size={shortest_edge: 3136, longest_edge: 1003520}` at load time (docs/vlm2vec.md §1.4).
 *
 * @example
 * parsePreprocessorConfig({ min_pixels: 3136, max_pixels: 12845056 }, 'preprocessor_config.json', { maxPixels: 1003520 }).maxPixels // 1003520
 */
export function parsePreprocessorConfig(
  json: unknown,
  file = 'preprocessor_config.json',
  overrides: { readonly minPixels?: number; readonly maxPixels?: number } = {},
): PreprocessorConfig {
  const r = PreprocessorSchema.safeParse(json);
  if (!r.success) throw zodFail('config', file, r.error);
  const c = r.data;
  const minPixels = overrides.minPixels ?? c.min_pixels ?? c.size?.shortest_edge ?? 56 * 56;
  const maxPixels = overrides.maxPixels ?? c.max_pixels ?? c.size?.longest_edge ?? 28 * 28 * 1280;
  if (minPixels > maxPixels) {
    throw new Vlm2VecError('config', `${file}: min_pixels ${minPixels} is larger than max_pixels ${maxPixels}`);
  }
  return {
    minPixels,
    maxPixels,
    patchSize: c.patch_size ?? 14,
    temporalPatchSize: c.temporal_patch_size ?? 2,
    mergeSize: c.merge_size ?? 2,
    imageMean: c.image_mean ?? CLIP_MEAN,
    imageStd: c.image_std ?? CLIP_STD,
    doResize: c.do_resize ?? true,
    doRescale: c.do_rescale ?? true,
    rescaleFactor: c.rescale_factor ?? 1 / 255,
    doNormalize: c.do_normalize ?? true,
    doConvertRgb: c.do_convert_rgb ?? true,
    resample: c.resample ?? 3,
    imageProcessorType: c.image_processor_type,
  };
}

// A special token is either its string or (older files) an AddedToken dict.
const tokenField = z.union([z.string(), z.object({ content: z.string() }).passthrough(), z.null()]).optional();

const TokenizerConfigSchema = z.object({
  pad_token: tokenField,
  eos_token: tokenField,
  bos_token: tokenField,
  unk_token: tokenField,
  padding_side: z.enum(['left', 'right']).optional(),
  model_max_length: z.number().optional(),
  add_bos_token: z.boolean().optional(),
  add_eos_token: z.boolean().optional(),
  tokenizer_class: z.string().optional(),
});

/** What we use from tokenizer_config.json. */
export interface TokenizerConfig {
  readonly padToken: string | undefined;
  readonly eosToken: string | undefined;
  readonly bosToken: string | undefined;
  /** `add_bos_token`: false when the tokenizer adds no BOS (Llama-family tokenizers add it by default). */
  readonly addBosToken: boolean | undefined;
  readonly paddingSide: 'left' | 'right' | undefined;
  readonly modelMaxLength: number | undefined;
  readonly tokenizerClass: string | undefined;
}

function tokenString(t: z.infer<typeof tokenField>): string | undefined {
  if (t === undefined || t === null) return undefined;
  return typeof t === 'string' ? t : t.content;
}

/**
 * Parses tokenizer_config.json (pad / eos / bos tokens, padding side).
 * @example parseTokenizerConfig({ pad_token: '<|endoftext|>', padding_side: 'left' }).padToken // '<|endoftext|>'
 */
export function parseTokenizerConfig(json: unknown, file = 'tokenizer_config.json'): TokenizerConfig {
  const r = TokenizerConfigSchema.safeParse(json);
  if (!r.success) throw zodFail('tokenizer', file, r.error);
  const c = r.data;
  return {
    padToken: tokenString(c.pad_token),
    eosToken: tokenString(c.eos_token),
    bosToken: tokenString(c.bos_token),
    addBosToken: c.add_bos_token,
    paddingSide: c.padding_side,
    modelMaxLength: c.model_max_length,
    tokenizerClass: c.tokenizer_class,
  };
}
