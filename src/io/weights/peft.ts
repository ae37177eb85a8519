// PEFT LoRA / DoRA adapter folders (`adapter_config.json` + `adapter_model.safetensors`, or the
// `adapter_model.bin` that `save_pretrained(..., safe_serialization=False)` and older PEFT write,
// as the VLM2Vec V1 checkpoints ship), as `PeftModel.save_pretrained` writes them (docs/vlm2vec.md §3.2, §3.7).
//
// Saved keys look like `base_model.model.<module>.lora_A.weight` [r, in],
// `...lora_B.weight` [out, r] and (DoRA) `...lora_magnitude_vector` [out]. `<module>` is the module
// path in the PEFT-wrapped model: `model.layers.3.self_attn.q_proj` under transformers 4.x, but
// `model.language_model.layers.3...` under transformers ≥ 4.52/5 — we normalize both to the
// checkpoint layout (`model.layers.*`, `visual.*`), so `<module>.weight` names the base tensor.
// The merge math (W' = m/‖W + s·BA‖_row · (W + s·BA)) lives with the model; this file only loads.

import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { Vlm2VecError } from '../../errors.ts';
import { readJsonFile, zodFail } from './hf-configs.ts';
import { SafetensorsFile, formatShape, type RawTensor } from './safetensors.ts';
import { toFloat32 } from './safetensors-dtype.ts';
import { TorchCheckpointFile } from './torch-pickle-file.ts';

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';
/** torch.save pickle-in-zip weights; read only when there is no adapter_model.safetensors (as PEFT does). */
export const ADAPTER_WEIGHTS_BIN = 'adapter_model.bin';

const AdapterSchema = z.object({
  peft_type: z.string(),
  r: z.number().int().positive(),
  lora_alpha: z.number().positive(),
  lora_dropout: z.number().min(0).max(1).optional(),
  target_modules: z.union([z.array(z.string()), z.string()]).nullable().optional(),
  use_dora: z.boolean().optional(),
  use_rslora: z.boolean().optional(),
  base_model_name_or_path: z.string().nullable().optional(),
  revision: z.string().nullable().optional(),
  bias: z.enum(['none', 'all', 'lora_only']).optional(),
  fan_in_fan_out: z.boolean().optional(),
  modules_to_save: z.array(z.string()).nullable().optional(),
  rank_pattern: z.record(z.string(), z.number().int().positive()).optional(),
  alpha_pattern: z.record(z.string(), z.number().positive()).optional(),
  init_lora_weights: z.union([z.boolean(), z.string()]).optional(),
  task_type: z.string().nullable().optional(),
});

/** The adapter_config.json fields that matter for loading and merging. */
export interface AdapterConfig {
  readonly peftType: 'LORA';
  readonly r: number;
  readonly loraAlpha: number;
  readonly loraDropout: number;
  /** Module-name suffixes (a list) or a full-match regex (a string), as PEFT interprets them. */
  readonly targetModules: readonly string[] | string;
  readonly useDora: boolean;
  readonly useRslora: boolean;
  readonly baseModelNameOrPath: string | undefined;
  readonly revision: string | undefined;
  readonly rankPattern: Readonly<Record<string, number>>;
  readonly alphaPattern: Readonly<Record<string, number>>;
  readonly initLoraWeights: boolean | string;
}

/**
 * Parses adapter_config.json. Features that change the saved tensors' meaning and that we do not
 * implement (non-LoRA PEFT types, trained biases, fan_in_fan_out, modules_to_save) are rejected.
 */
export function parseAdapterConfig(json: unknown, file = ADAPTER_CONFIG): AdapterConfig {
  const r = AdapterSchema.safeParse(json);
  if (!r.success) throw zodFail('peft', file, r.error);
  const c = r.data;
  const fail = (msg: string): never => {
    throw new Vlm2VecError('peft', `${file}: ${msg}`);
  };
  if (c.peft_type !== 'LORA') fail(`peft_type '${c.peft_type}' is not supported (supported: LORA, with or without use_dora)`);
  if (c.bias && c.bias !== 'none') fail(`bias '${c.bias}' is not supported (expected 'none')`);
  if (c.fan_in_fan_out) fail('fan_in_fan_out=true (Conv1D layers) is not supported');
  if (c.modules_to_save && c.modules_to_save.length > 0) fail(`modules_to_save [${c.modules_to_save.join(', ')}] is not supported`);
  if (c.target_modules === undefined || c.target_modules === null) fail('target_modules is missing');
  return {
    peftType: 'LORA',
    r: c.r,
    loraAlpha: c.lora_alpha,
    loraDropout: c.lora_dropout ?? 0,
    targetModules: c.target_modules as string[] | string,
    useDora: c.use_dora ?? false,
    useRslora: c.use_rslora ?? false,
    baseModelNameOrPath: c.base_model_name_or_path ?? undefined,
    revision: c.revision ?? undefined,
    rankPattern: c.rank_pattern ?? {},
    alphaPattern: c.alpha_pattern ?? {},
    initLoraWeights: c.init_lora_weights ?? true,
  };
}

// PEFT's get_pattern_key: a pattern matches a module when it matches the whole name or a dotted suffix.
function patternValue(patterns: Readonly<Record<string, number>>, module: string): number | undefined {
  for (const [p, v] of Object.entries(patterns)) {
    if (new RegExp(`^(.*\\.)?(${p})$`).test(module)) return v;
  }
  return undefined;
}

/** Rank and scaling (alpha/r, or alpha/√r with rsLoRA) of one adapted module. */
export function moduleScaling(config: Pick<AdapterConfig, 'r' | 'loraAlpha' | 'useRslora' | 'rankPattern' | 'alphaPattern'>, module: string): { r: number; scaling: number } {
  const r = patternValue(config.rankPattern, module) ?? config.r;
  const alpha = patternValue(config.alphaPattern, module) ?? config.loraAlpha;
  return { r, scaling: config.useRslora ? alpha / Math.sqrt(r) : alpha / r };
}

/**
 * Whether PEFT would adapt the module at `module` (its path in the model): a list matches the
 * whole name or a dotted suffix, a string is a full-match regex.
 * @example isTargetModule(cfg, 'model.layers.0.self_attn.q_proj') // true for target_modules ['q_proj', ...]
 */
export function isTargetModule(config: Pick<AdapterConfig, 'targetModules'>, module: string): boolean {
  const t = config.targetModules;
  if (typeof t === 'string') return new RegExp(`^(?:${t})$`).test(module);
  return t.some((s) => module === s || module.endsWith(`.${s}`));
}

/** Maps a PEFT module path (either transformers layout) to the checkpoint layout. */
export function checkpointModulePath(peftModule: string): string {
  let m = peftModule.startsWith('base_model.model.') ? peftModule.slice('base_model.model.'.length) : peftModule;
  if (m.startsWith('model.language_model.')) m = `model.${m.slice('model.language_model.'.length)}`;
  else if (m.startsWith('model.visual.')) m = m.slice('model.'.length);
  return m;
}

// `<module>.lora_A[.<adapter>].weight`, `<module>.lora_magnitude_vector[.<adapter>][.weight]`
const KEY_RE = /^(.+)\.(lora_A|lora_B|lora_magnitude_vector)(?:\.(?!weight$)[^.]+)?(?:\.weight)?$/;

/** One adapted linear layer: W [out, in] gets B·A scaled by `scaling` (and DoRA's magnitude). */
export interface LoraModule {
  /** Checkpoint-layout module path, e.g. `model.layers.0.self_attn.q_proj`. */
  readonly module: string;
  /** The base tensor this adapts: `${module}.weight`. */
  readonly baseWeight: string;
  readonly r: number;
  readonly scaling: number;
  /** [r, in] */
  readonly loraA: RawTensor;
  /** [out, r] */
  readonly loraB: RawTensor;
  /** [out], DoRA only. */
  readonly magnitude: RawTensor | undefined;
}

export interface PeftAdapter {
  readonly dir: string;
  readonly config: AdapterConfig;
  /** Keyed by checkpoint-layout module path. */
  readonly modules: ReadonlyMap<string, LoraModule>;
}

/** True when `dir` holds an adapter_config.json. */
export async function isAdapterFolder(dir: string): Promise<boolean> {
  return stat(join(dir, ADAPTER_CONFIG)).then(
    (s) => s.isFile(),
    () => false,
  );
}

/** Reads and parses `<dir>/adapter_config.json`. */
export async function loadAdapterConfig(dir: string): Promise<AdapterConfig> {
  const file = join(dir, ADAPTER_CONFIG);
  return parseAdapterConfig(await readJsonFile('peft', file), file);
}

/**
 * Loads an adapter folder: config plus every module's LoRA A/B (and DoRA magnitude) tensors,
 * shape-checked against each other and the config's rank.
 *
 * @example
 * const ad = await loadAdapter('checkpoints/VLM2Vec-V2.0');
 * const q = ad.modules.get('model.layers.0.self_attn.q_proj'); // { loraA [16,1536], loraB [1536,16], magnitude [1536], scaling 4 }
 */
export async function loadAdapter(dir: string): Promise<PeftAdapter> {
  const config = await loadAdapterConfig(dir);
  const exists = (f: string): Promise<boolean> => stat(f).then((s) => s.isFile(), () => false);
  let wfile = join(dir, ADAPTER_WEIGHTS);
  let st: Pick<SafetensorsFile, 'names' | 'read' | 'close'>;
  if (await exists(wfile)) {
    st = await SafetensorsFile.open(wfile);
  } else if (await exists(join(dir, ADAPTER_WEIGHTS_BIN))) {
    wfile = join(dir, ADAPTER_WEIGHTS_BIN);
    st = await TorchCheckpointFile.open(wfile);
  } else {
    throw new Vlm2VecError('peft', `${dir}: neither ${ADAPTER_WEIGHTS} nor ${ADAPTER_WEIGHTS_BIN} found`);
  }
  try {
    const parts = new Map<string, Partial<Record<'lora_A' | 'lora_B' | 'lora_magnitude_vector', string>>>();
    for (const key of st.names()) {
      const m = KEY_RE.exec(key);
      if (!m) throw new Vlm2VecError('peft', `${wfile}: unexpected tensor '${key}' (expected lora_A / lora_B / lora_magnitude_vector)`);
      const mod = checkpointModulePath(m[1] as string);
      const entry = parts.get(mod) ?? {};
      entry[m[2] as 'lora_A' | 'lora_B' | 'lora_magnitude_vector'] = key;
      parts.set(mod, entry);
    }
    const modules = new Map<string, LoraModule>();
    for (const [mod, p] of parts) {
      if (!p.lora_A || !p.lora_B) throw new Vlm2VecError('peft', `${wfile}: ${mod} has ${p.lora_A ? 'lora_A' : 'lora_B'} but not its pair`);
      if (config.useDora !== Boolean(p.lora_magnitude_vector)) {
        throw new Vlm2VecError('peft', `${wfile}: ${mod}: use_dora is ${config.useDora} but lora_magnitude_vector is ${p.lora_magnitude_vector ? 'present' : 'absent'}`);
      }
      const { r, scaling } = moduleScaling(config, mod);
      const a = await st.read(p.lora_A);
      const b = await st.read(p.lora_B);
      const [ar] = a.shape;
      const [outF, br] = b.shape;
      if (a.shape.length !== 2 || b.shape.length !== 2 || ar !== r || br !== r) {
        throw new Vlm2VecError('peft', `${mod}: lora_A ${formatShape(a.shape)} and lora_B ${formatShape(b.shape)} do not match rank ${r} ([r,in] and [out,r])`);
      }
      const mag = p.lora_magnitude_vector ? await st.read(p.lora_magnitude_vector, [outF as number]) : undefined;
      modules.set(mod, { module: mod, baseWeight: `${mod}.weight`, r, scaling, loraA: a, loraB: b, magnitude: mag });
    }
    return { dir, config, modules };
  } finally {
    await st.close();
  }
}

/**
 * A loaded adapter's tensors as float32, keyed by checkpoint-layout names
 * (`<module>.lora_A.weight`, `<module>.lora_B.weight`, `<module>.lora_magnitude_vector`): the
 * trainable parameters a run continues from, and what peft-write.ts's `saveAdapter` takes.
 *
 * @example adapterTensors(await loadAdapter('out/checkpoint-50')).get('model.layers.0.self_attn.q_proj.lora_A.weight') // { shape: [16, 1536], data }
 */
export function adapterTensors(adapter: PeftAdapter): Map<string, { shape: number[]; data: Float32Array }> {
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  const put = (name: string, t: RawTensor): void => {
    out.set(name, { shape: [...t.shape], data: toFloat32(t.dtype, t.data, name) });
  };
  for (const m of adapter.modules.values()) {
    put(`${m.module}.lora_A.weight`, m.loraA);
    put(`${m.module}.lora_B.weight`, m.loraB);
    if (m.magnitude) put(`${m.module}.lora_magnitude_vector`, m.magnitude);
  }
  return out;
}
