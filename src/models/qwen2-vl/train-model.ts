// Qwen2-VL set up for a training run (models/common/train-model.ts): the frozen weights read as
// float32, the trainable leaves (LoRA / DoRA factors by checkpoint module path, or the whole
// tree), items prepared as the Encoder prepares them (encoder.ts: processor, placeholders,
// tokens; a text-only item keeps a literal <|image_pad|> as a plain token) and padded on the
// record's side, and the trained leaves back as PEFT adapter tensors or full-model tensors.
//
// A new adapter starts as peft 0.21's LoraLayer.reset_lora_parameters does: B = 0; A uniform in
// ±1/√in (kaiming_uniform_ with a = √5, `init_lora_weights=True`) or normal with std 1/r
// (`"gaussian"`, the reference's choice); DoRA's magnitude = the row norms of W (B = 0). The
// random values come from our seeded generator, not torch's, so they are not the reference's
// numbers for the same seed (the distribution is the same; B = 0 makes the start the base model).

import { Vlm2VecError } from '../../errors.ts';
import { Checkpoint } from '../../io/weights/checkpoint.ts';
import { isTargetModule, moduleScaling } from '../../io/weights/peft.ts';
import type { Float32Tensor } from '../../io/weights/peft-write.ts';
import type { Tensor } from '../../tensor/index.ts';
import { fromArray } from '../../tensor/index.ts';
import { concatFloat32 } from '../../util/arrays.ts';
import { rng } from '../../util/random.ts';
import type { EncoderInput, ImageProcessorSettings, PreparedItem } from '../encoder.ts';
import type { ParamRole, LoraFactors } from '../common/param-spec.ts';
import type { LoadTrainModelArgs, TrainModel, TrainedWeights } from '../common/train-model.ts';
import type { HfTokenizer } from '../../io/text/tokenizer.ts';
import type { Qwen2VLBatch } from './batch.ts';
import type { Qwen2VLConfig } from './config.ts';
import type { Qwen2VLPrepared } from './encoder.ts';
import { expandPlaceholders, processImages, processVideo } from './processor.ts';
import { qwen2VLFullTrainable, qwen2VLTrainable, type Qwen2VLLoraFactors } from './trainable.ts';
import { buildParams, qwen2VLParamSpecs, readQwen2VLWeights, type Qwen2VLParams } from './weights.ts';

/** Box–Muller normals from the seeded uniform generator. */
function normals(n: number, std: number, next: () => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = 1 - next();
    const v = next();
    const r = Math.sqrt(-2 * Math.log(u)) * std;
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

/** One item as Qwen2VLEncoder.prepare does it, optionally cut to `maxLen` tokens. */
export function prepareQwen2VLItem(input: EncoderInput, tokenizer: HfTokenizer, processor: ImageProcessorSettings, cfg: Qwen2VLConfig, maxLen?: number): Qwen2VLPrepared {
  const img = input.images.length > 0 ? processImages(input.images, processor) : undefined;
  const vid = input.frames.length > 0 ? processVideo(input.frames, processor) : undefined;
  const text = img === undefined && vid === undefined ? input.text : expandPlaceholders(input.text, {
    imageGrids: img?.gridThw ?? [], videoGrids: vid?.gridThw ?? [], mergeSize: cfg.vision.spatialMergeSize,
  });
  let ids = tokenizer.encode(text);
  if (maxLen !== undefined && ids.length > maxLen) {
    if (img !== undefined || vid !== undefined) {
      throw new Vlm2VecError('qwen2_vl', `an item with media has ${ids.length} tokens, over --max_len ${maxLen}; cutting it would cut vision placeholders (raise --max_len or lower --resize_max_pixels)`);
    }
    ids = ids.slice(0, maxLen);
  }
  return { ids, imagePixels: img?.pixelValues, imageGrids: img?.gridThw ?? [], videoPixels: vid?.pixelValues, videoGrids: vid?.gridThw ?? [] };
}

/** Padded batch of prepared rows (only rows with media take vision features). */
export function padQwen2VLRows(rows: readonly Qwen2VLPrepared[], tokenizer: HfTokenizer): Qwen2VLBatch {
  const b = tokenizer.padBatch(rows.map((r) => r.ids));
  const cat = (parts: (Float32Array | undefined)[]): Float32Array | undefined => {
    const xs = parts.filter((p): p is Float32Array => p !== undefined);
    return xs.length === 0 ? undefined : concatFloat32(xs);
  };
  return {
    inputIds: b.inputIds, attentionMask: b.attentionMask, shape: b.shape,
    pixelValues: cat(rows.map((r) => r.imagePixels)), imageGrids: rows.flatMap((r) => r.imageGrids),
    pixelValuesVideos: cat(rows.map((r) => r.videoPixels)), videoGrids: rows.flatMap((r) => r.videoGrids),
    imagesPerRow: rows.map((r) => r.imageGrids.length), videosPerRow: rows.map((r) => r.videoGrids.length),
  };
}

const LEAF_KEYS: Record<string, string> = { A: 'lora_A.weight', B: 'lora_B.weight', m: 'lora_magnitude_vector' };

/**
 * Qwen2-VL for `vlm2vec train`: see the file header.
 *
 * @example const tm = await loadQwen2VLTrainModel({ dir, config, configJson, tokenizer, processor: {}, normalize: true, init: { kind: 'full', freezeVision: false } });
 */
export async function loadQwen2VLTrainModel(args: LoadTrainModelArgs<Qwen2VLConfig>): Promise<TrainModel> {
  const { config: cfg, init } = args;
  const ckpt = await Checkpoint.open(args.dir);
  const host = await readQwen2VLWeights(ckpt, cfg).finally(() => ckpt.close());
  const specs = qwen2VLParamSpecs(cfg);
  const roles = new Map(specs.map((s) => [s.path, s.role]));
  const shapes = new Map(specs.map((s) => [s.path, s.shape]));
  const params = buildParams(host, cfg);
  const common = {
    prepare: (input: EncoderInput): PreparedItem => prepareQwen2VLItem(input, args.tokenizer, args.processor, cfg, args.maxLen),
    batch: (rows: readonly PreparedItem[]): Qwen2VLBatch => padQwen2VLRows(rows as readonly Qwen2VLPrepared[], args.tokenizer),
  };
  if (init.kind === 'full') {
    const full = qwen2VLFullTrainable(cfg, { normalize: args.normalize });
    // The vision tower frozen: only the rest is a leaf; the forward sees the whole tree.
    const { visual, ...rest } = params;
    const trainable = init.freezeVision ? rest : params;
    return {
      ...common,
      encoder: { rows: full.rows, sliceRows: full.sliceRows, reps: (p, b) => full.reps((init.freezeVision ? { ...(p as typeof rest), visual } : p) as Qwen2VLParams, b as Qwen2VLBatch) },
      params: trainable,
      role: (path) => roles.get(path) ?? 'linear',
      weights: (leaves): TrainedWeights => ({
        kind: 'model', config: args.configJson, processorFrom: args.dir,
        tensors: new Map([
          ...[...host.entries()].filter(([name]) => init.freezeVision && name.startsWith('visual.')).map(([name, t]) => [name, { shape: [...t.shape], data: t.data as Float32Array }] as const),
          ...leaves.map((l) => [l.name, { shape: shapes.get(l.name) ?? [l.data.length], data: l.data }] as const),
        ]),
      }),
    };
  }
  // Adapter training.
  const factors: Qwen2VLLoraFactors = {};
  let config;
  const tensor = (t: Float32Tensor): Tensor => fromArray(t.data.slice(), [...t.shape], 'float32');
  if (init.kind === 'new-adapter') {
    config = init.config;
    const next = rng(init.seed);
    const r = config.r;
    for (const s of specs) {
      if (s.role !== 'linear' || s.shape.length !== 2 || !s.path.endsWith('.weight')) continue;
      const module = s.path.slice(0, -'.weight'.length);
      if (!isTargetModule(config, module)) continue;
      const [out, inF] = s.shape as [number, number];
      const A = config.initLoraWeights === 'gaussian' ? normals(r * inF, 1 / r, next)
        : Float32Array.from({ length: r * inF }, () => (2 * next() - 1) / Math.sqrt(inF));
      const f: LoraFactors<Tensor> = { A: fromArray(A, [r, inF], 'float32'), B: fromArray(new Float32Array(out * r), [out, r], 'float32') };
      if (config.useDora) {
        const w = host.get(s.path)!.data as Float32Array;
        const m = new Float32Array(out);
        for (let o = 0; o < out; o++) {
          let sq = 0;
          for (let i = 0; i < inF; i++) sq += w[o * inF + i]! ** 2;
          m[o] = Math.sqrt(sq);
        }
        (f as { m?: Tensor }).m = fromArray(m, [out], 'float32');
      }
      factors[module] = f;
    }
    if (Object.keys(factors).length === 0) {
      throw new Vlm2VecError('qwen2_vl', `--lora_target_modules ${JSON.stringify(config.targetModules)} selects no linear module of this model (e.g. q_proj, v_proj, down_proj; qkv for the vision blocks)`);
    }
  } else {
    config = { ...init.config, taskType: null };
    for (const [name, t] of init.tensors) {
      const m = /^(.+)\.(lora_A\.weight|lora_B\.weight|lora_magnitude_vector)$/.exec(name);
      if (!m) throw new Vlm2VecError('qwen2_vl', `adapter tensor '${name}' is not lora_A / lora_B / lora_magnitude_vector`);
      const module = m[1]!;
      if (!roles.has(`${module}.weight`)) throw new Vlm2VecError('qwen2_vl', `the adapter has ${name}, but the model has no module ${module} (is it for another base model?)`);
      const [out, inF] = shapes.get(`${module}.weight`) as [number, number];
      const okShape = m[2] === 'lora_A.weight' ? t.shape.length === 2 && t.shape[1] === inF
        : m[2] === 'lora_B.weight' ? t.shape.length === 2 && t.shape[0] === out : t.shape.length === 1 && t.shape[0] === out;
      if (!okShape) {
        throw new Vlm2VecError('qwen2_vl', `adapter tensor ${name} is [${t.shape.join(', ')}], but ${module}.weight of this model is [${out}, ${inF}] (is the adapter for another base model?)`);
      }
      const f = (factors[module] ??= {} as LoraFactors<Tensor>) as unknown as Record<string, Tensor>;
      f[m[2] === 'lora_A.weight' ? 'A' : m[2] === 'lora_B.weight' ? 'B' : 'm'] = tensor(t);
    }
  }
  // Leaves in the model's module order, wherever they came from (a file lists them sorted by
  // name): the order of the gradient-norm sum, so a resumed run clips exactly as an unbroken one.
  const order = new Map(specs.map((s, i) => [s.path.replace(/\.weight$/, ''), i]));
  const sorted = Object.keys(factors).sort((x, y) => order.get(x)! - order.get(y)!);
  const ordered: Qwen2VLLoraFactors = Object.fromEntries(sorted.map((k) => {
    const f = factors[k] as LoraFactors<Tensor> & { m?: Tensor };
    return [k, (f.m === undefined ? { A: f.A, B: f.B } : { A: f.A, B: f.B, m: f.m }) as LoraFactors<Tensor>];
  }));
  const scalings = new Set(Object.keys(factors).map((module) => moduleScaling(config, module).scaling));
  if (scalings.size !== 1) throw new Vlm2VecError('qwen2_vl', `the adapter's rank_pattern / alpha_pattern give ${scalings.size} different scalings; training supports one`);
  if (config.useDora && Object.values(factors).some((f) => (f as { m?: Tensor }).m === undefined)) {
    throw new Vlm2VecError('qwen2_vl', 'a DoRA adapter (use_dora) without lora_magnitude_vector tensors');
  }
  const adapterConfig = config;
  return {
    ...common,
    // The adapter's own lora_dropout (new: --lora_dropout; continued: its adapter_config.json), as peft loads it.
    encoder: qwen2VLTrainable(params, cfg, { scaling: [...scalings][0]!, normalize: args.normalize, dropout: adapterConfig.loraDropout }),
    params: ordered,
    role: (): ParamRole => 'lora',
    weights: (leaves): TrainedWeights => ({
      kind: 'adapter', config: adapterConfig,
      tensors: new Map(leaves.map((l) => {
        const m = /^(.+)\.(A|B|m)$/.exec(l.name);
        if (!m) throw new Vlm2VecError('qwen2_vl', `unexpected trainable leaf ${l.name}`);
        const [out, inF] = shapes.get(`${m[1]}.weight`) as [number, number];
        const r = l.data.length / (m[2] === 'A' ? inF : out);
        const shape = m[2] === 'A' ? [r, inF] : m[2] === 'B' ? [out, r] : [out];
        return [`${m[1]}.${LEAF_KEYS[m[2]!]}`, { shape, data: l.data }];
      })),
    }),
  };
}
