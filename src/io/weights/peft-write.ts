// Writing PEFT LoRA / DoRA adapter folders as `PeftModel.save_pretrained` does (peft 0.21), so a
// trained adapter loads with peft's `PeftModel.from_pretrained` and with our own loader (peft.ts):
//   adapter_model.safetensors  keys `base_model.model.<module>.lora_A.weight` [r, in],
//                              `….lora_B.weight` [out, r], DoRA `….lora_magnitude_vector` [out],
//                              float32, metadata {format: pt}
//   adapter_config.json        LoraConfig's fields (sorted keys, indent 2, as peft writes them)
// `<module>` is written in transformers ≥ 4.52's layout (`model.language_model.layers.*`,
// `model.visual.*`), which is what peft 0.21 on transformers 5 saves and the only one it loads
// there (it skips 4.x keys with a "missing adapter keys" warning; tools/reference/peft_roundtrip.py).
// `layout: 'transformers4'` writes the older `model.layers.*` / `visual.*` paths of the published
// VLM2Vec adapters, for stacks on transformers < 4.52. Our loader reads both.
// The tensors come in keyed by the checkpoint-layout names the parameter specs use
// (`model.layers.0.self_attn.q_proj.lora_A.weight`, see models/common/param-spec.ts).

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Vlm2VecError } from '../../errors.ts';
import { writeFileAtomic } from '../../util/fs.ts';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, isTargetModule, moduleScaling, type AdapterConfig } from './peft.ts';
import { formatShape, numel } from './safetensors.ts';
import { writeSafetensors, type TensorToWrite } from './safetensors-write.ts';

/** A float32 host tensor (row-major). */
export interface Float32Tensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** The module-path layout of the saved keys (see the file header). */
export type PeftKeyLayout = 'transformers5' | 'transformers4';

/** What {@link saveAdapter} needs of a LoRA config: peft.ts's AdapterConfig minus the parsed-only fields. */
export type AdapterWriteConfig = Omit<AdapterConfig, 'peftType'> & {
  /** peft's task_type (VLM2Vec sets none: null). */
  readonly taskType?: string | null | undefined;
};

export interface SaveAdapterOptions {
  /** Default 'transformers5'. */
  readonly layout?: PeftKeyLayout | undefined;
}

const PART_RE = /^(.+)\.(lora_A\.weight|lora_B\.weight|lora_magnitude_vector)$/;

/** A checkpoint-layout module path (`model.layers.0…`, `visual.blocks.0…`) as peft saves it. */
export function peftModulePath(module: string, layout: PeftKeyLayout = 'transformers5'): string {
  if (layout === 'transformers4') return module;
  if (module.startsWith('model.')) return `model.language_model.${module.slice('model.'.length)}`;
  if (module.startsWith('visual.')) return `model.${module}`;
  return module;
}

/**
 * adapter_config.json as peft 0.21's LoraConfig.to_dict() writes it (every field, its default where
 * we have no value), minus `peft_version`: that names the library that wrote the file, not us.
 */
export function adapterConfigJson(c: AdapterWriteConfig): Record<string, unknown> {
  const json: Record<string, unknown> = {
    alora_invocation_tokens: null,
    alpha_pattern: { ...c.alphaPattern },
    arrow_config: null,
    auto_mapping: null,
    base_model_name_or_path: c.baseModelNameOrPath ?? null,
    bias: 'none',
    corda_config: null,
    ensure_weight_tying: false,
    eva_config: null,
    exclude_modules: null,
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: c.initLoraWeights,
    kasa_config: null,
    layer_replication: null,
    layers_pattern: null,
    layers_to_transform: null,
    loftq_config: {},
    lora_alpha: c.loraAlpha,
    lora_bias: false,
    lora_dropout: c.loraDropout,
    lora_ga_config: null,
    megatron_config: null,
    megatron_core: 'megatron.core',
    modules_to_save: null,
    monteclora_config: null,
    peft_type: 'LORA',
    qalora_group_size: 16,
    r: c.r,
    rank_pattern: { ...c.rankPattern },
    revision: c.revision ?? null,
    target_modules: typeof c.targetModules === 'string' ? c.targetModules : [...c.targetModules],
    target_parameters: null,
    task_type: c.taskType ?? null,
    trainable_token_indices: null,
    use_bdlora: null,
    use_dora: c.useDora,
    use_qalora: false,
    use_rslora: c.useRslora,
    velora_config: null,
  };
  return Object.fromEntries(Object.keys(json).sort().map((k) => [k, json[k]]));
}

/**
 * The adapter's tensors under peft's saved names, checked: every module has lora_A [r, in] and
 * lora_B [out, r] (r from rank_pattern or r), a magnitude [out] exactly when use_dora, and is one
 * that target_modules selects (peft would silently drop the weights of any other).
 */
export function peftStateDict(
  config: AdapterWriteConfig,
  tensors: ReadonlyMap<string, Float32Tensor>,
  layout: PeftKeyLayout = 'transformers5',
): Map<string, TensorToWrite> {
  const byModule = new Map<string, Partial<Record<'lora_A.weight' | 'lora_B.weight' | 'lora_magnitude_vector', Float32Tensor>>>();
  for (const [name, t] of tensors) {
    const m = PART_RE.exec(name);
    if (!m) throw new Vlm2VecError('peft', `${name}: not an adapter tensor (expected <module>.lora_A.weight, .lora_B.weight or .lora_magnitude_vector)`);
    if (!(t.data instanceof Float32Array) || t.data.length !== numel(t.shape)) {
      throw new Vlm2VecError('peft', `${name}: needs a Float32Array of ${numel(t.shape)} elements for ${formatShape(t.shape)}`);
    }
    const e = byModule.get(m[1] as string) ?? {};
    e[m[2] as 'lora_A.weight'] = t;
    byModule.set(m[1] as string, e);
  }
  if (byModule.size === 0) throw new Vlm2VecError('peft', 'the adapter has no tensors');
  const out = new Map<string, TensorToWrite>();
  for (const [mod, p] of byModule) {
    const a = p['lora_A.weight'];
    const b = p['lora_B.weight'];
    const mag = p.lora_magnitude_vector;
    if (!a || !b) throw new Vlm2VecError('peft', `${mod}: has ${a ? 'lora_A' : 'lora_B'} but not its pair`);
    if (config.useDora !== (mag !== undefined)) {
      throw new Vlm2VecError('peft', `${mod}: use_dora is ${config.useDora} but lora_magnitude_vector is ${mag ? 'given' : 'missing'}`);
    }
    if (!isTargetModule(config, mod)) {
      throw new Vlm2VecError('peft', `${mod}: not selected by target_modules ${JSON.stringify(config.targetModules)}; peft would ignore its weights`);
    }
    const { r } = moduleScaling(config, mod);
    const outF = b.shape[0];
    if (a.shape.length !== 2 || b.shape.length !== 2 || a.shape[0] !== r || b.shape[1] !== r || (mag && (mag.shape.length !== 1 || mag.shape[0] !== outF))) {
      throw new Vlm2VecError(
        'peft',
        `${mod}: lora_A ${formatShape(a.shape)}, lora_B ${formatShape(b.shape)}${mag ? `, magnitude ${formatShape(mag.shape)}` : ''} do not fit rank ${r} ([r,in], [out,r], [out])`,
      );
    }
    const key = `base_model.model.${peftModulePath(mod, layout)}`;
    out.set(`${key}.lora_A.weight`, { dtype: 'F32', shape: a.shape, data: a.data });
    out.set(`${key}.lora_B.weight`, { dtype: 'F32', shape: b.shape, data: b.data });
    if (mag) out.set(`${key}.lora_magnitude_vector`, { dtype: 'F32', shape: mag.shape, data: mag.data });
  }
  return out;
}

/**
 * Writes `dir/adapter_model.safetensors` and `dir/adapter_config.json` (each atomically; `dir` is
 * created). `tensors` are keyed by checkpoint-layout names.
 *
 * @example
 * await saveAdapter('out/checkpoint-50', { ...cfg, useDora: true }, new Map([
 *   ['model.layers.0.self_attn.q_proj.lora_A.weight', { shape: [16, 1536], data: a }], …]));
 */
export async function saveAdapter(
  dir: string,
  config: AdapterWriteConfig,
  tensors: ReadonlyMap<string, Float32Tensor>,
  options: SaveAdapterOptions = {},
): Promise<void> {
  const state = peftStateDict(config, tensors, options.layout);
  await mkdir(dir, { recursive: true });
  await writeSafetensors(join(dir, ADAPTER_WEIGHTS), state, { format: 'pt' });
  await writeFileAtomic(join(dir, ADAPTER_CONFIG), JSON.stringify(adapterConfigJson(config), null, 2));
}
