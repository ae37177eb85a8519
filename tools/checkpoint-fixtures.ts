// Writes the adapters that tools/reference/peft_roundtrip.py loads with peft's
// PeftModel.from_pretrained onto test/fixtures/model/tiny-a (test/fixtures/train/checkpoint/):
//   adapter-dora/  DoRA r 4, alpha 8 on q_proj, v_proj, down_proj and the vision blocks' qkv,
//                  transformers 5 key layout (peft 0.21's own);
//   adapter-lora/  LoRA r 2, alpha 6 on k_proj, gate_proj, up_proj, same layout. (The 4.x layout
//                  `model.layers.*` is NOT loaded by peft 0.21 on transformers 5.18: it warns
//                  "missing adapter keys" and runs the base model, so 5.x is our default.)
// Values are deterministic (mulberry32 seeds) and large enough to move the embeddings; DoRA's
// magnitude is the base row norm × (1 + 0.2·u). The test (src/io/weights/peft-roundtrip.test.ts)
// rebuilds both with the current saveAdapter and checks they are these exact bytes.
// Regenerate from the repo root:  node --import tsx tools/checkpoint-fixtures.ts

import { join } from 'node:path';
import { Checkpoint } from '../src/io/weights/checkpoint.ts';
import { saveAdapter, type AdapterWriteConfig, type Float32Tensor, type PeftKeyLayout } from '../src/io/weights/peft-write.ts';
import { rng } from '../src/util/random.ts';

const ROOT = join(import.meta.dirname, '..');
export const BASE_DIR = join(ROOT, 'test', 'fixtures', 'model', 'tiny-a');
export const OUT_DIR = join(ROOT, 'test', 'fixtures', 'train', 'checkpoint');

export interface FixtureAdapter {
  readonly name: string;
  readonly config: AdapterWriteConfig;
  readonly layout: PeftKeyLayout;
  readonly tensors: Map<string, Float32Tensor>;
}

function uniform(n: number, r: () => number, scale: number): Float32Array {
  return Float32Array.from({ length: n }, () => scale * (2 * r() - 1));
}

async function build(base: Checkpoint, name: string, config: AdapterWriteConfig, layout: PeftKeyLayout, seed: number): Promise<FixtureAdapter> {
  const r = rng(seed);
  const targets = config.targetModules as readonly string[];
  const tensors = new Map<string, Float32Tensor>();
  for (const w of base.names().sort()) {
    if (!w.endsWith('.weight')) continue;
    const module = w.slice(0, -'.weight'.length);
    if (!targets.some((t) => module.endsWith(`.${t}`))) continue;
    const [out, inF] = base.info(w).shape as [number, number];
    tensors.set(`${module}.lora_A.weight`, { shape: [config.r, inF], data: uniform(config.r * inF, r, 1 / Math.sqrt(inF)) });
    tensors.set(`${module}.lora_B.weight`, { shape: [out, config.r], data: uniform(out * config.r, r, 0.3) });
    if (config.useDora) {
      const wt = await base.readFloat32(w);
      const mag = new Float32Array(out);
      for (let o = 0; o < out; o++) {
        let sq = 0;
        for (let i = 0; i < inF; i++) sq += wt[o * inF + i]! ** 2;
        mag[o] = Math.sqrt(sq) * (1 + 0.2 * (2 * r() - 1));
      }
      tensors.set(`${module}.lora_magnitude_vector`, { shape: [out], data: mag });
    }
  }
  return { name, config, layout, tensors };
}

const common = { loraDropout: 0, useRslora: false, baseModelNameOrPath: null, revision: undefined, rankPattern: {}, alphaPattern: {} } as const;

/** Both fixture adapters, built from tiny-a's weights. */
export async function fixtureAdapters(): Promise<FixtureAdapter[]> {
  const base = await Checkpoint.open(BASE_DIR);
  try {
    return [
      await build(base, 'adapter-dora', { ...common, r: 4, loraAlpha: 8, targetModules: ['q_proj', 'v_proj', 'down_proj', 'qkv'], useDora: true, initLoraWeights: 'gaussian', baseModelNameOrPath: undefined }, 'transformers5', 11),
      await build(base, 'adapter-lora', { ...common, r: 2, loraAlpha: 6, targetModules: ['k_proj', 'gate_proj', 'up_proj'], useDora: false, initLoraWeights: true, baseModelNameOrPath: undefined }, 'transformers5', 12),
    ];
  } finally {
    await base.close();
  }
}

/** Writes every fixture adapter under `outDir/<name>/`. */
export async function writeFixtureAdapters(outDir: string): Promise<void> {
  for (const a of await fixtureAdapters()) await saveAdapter(join(outDir, a.name), a.config, a.tensors, { layout: a.layout });
}

if (process.argv[1] === import.meta.filename) {
  await writeFixtureAdapters(OUT_DIR);
  console.log(`wrote ${OUT_DIR}/adapter-dora, adapter-lora`);
}
