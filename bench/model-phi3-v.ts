// `npm run bench:model -- --model phi3-v [--threads N] [--iters N] [--rounds N] [--dtype float32|float16] [--skip-torch]`:
// embeddings/s and peak RSS of our Phi-3-V encoder vs transformers + PyTorch CPU (fp32, same
// threads) at Phi-3.5-vision-instruct's widths (Phi-3 hidden 3072, 32 heads, MLP 8192, vocab
// 32064, LongRoPE; CLIP ViT-L/14-336: 1024 wide, 16 heads, MLP 4096; projection 4096 → 3072 →
// 3072) with reduced depth (2 LM layers, 4 CLIP layers of which hidden_states[-2] runs 3), random
// weights, on the same inputs: a text-only batch and a row with one 640×480 image at 16 crops
// (4 × 3 crops + the global view = 13 crops of 336 px → 1,921 image tokens) plus text.
// transformers has no Phi-3-V class (VLM2Vec runs Microsoft's remote code), so the PyTorch side
// is that code's computation from transformers' parts: CLIPVisionModel over every crop,
// hidden_states[-2] without CLS, the 2×2 merge, the sub_GN / glb_GN layout (the same gather
// indices as ours), the projection MLP, the features written at the placeholders, Phi3Model
// (SDPA attention, which is faster than the eager attention VLM2Vec configures) and the last
// token. Ours and PyTorch alternate for --rounds rounds (default 2), each run in its own process
// so its peak RSS is its own; medians are printed.

import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { holdTensor, parseWeightDtype, type HostWeights } from '../src/models/common/float16.ts';
import { parsePhi3VConfig } from '../src/models/phi3-v/config.ts';
import { imageTokenOrder } from '../src/models/phi3-v/forward.ts';
import { Phi3VModel } from '../src/models/phi3-v/model.ts';
import { buildPhi3VParams, phi3VParamSpecs } from '../src/models/phi3-v/weights.ts';
import { configureRuntime } from '../src/tensor/index.ts';
import { timeIt } from './case.ts';
import { referencePython } from './python.ts';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const THREADS = arg('--threads', 2);
const ITERS = arg('--iters', 3);
const ROUNDS = arg('--rounds', 2);
const SKIP_TORCH = process.argv.includes('--skip-torch');
const DTYPE = parseWeightDtype(process.argv.includes('--dtype') ? process.argv[process.argv.indexOf('--dtype') + 1]! : 'float32', '--dtype');
if (DTYPE !== 'float32' && DTYPE !== 'float16') throw new Error(`--dtype ${DTYPE}: the Phi-3-V benchmark runs float32 or float16`);

const TEXT_B = 8;
const TEXT_L = 48;
const IMG_TEXT = 12;
const GRID = { rows: 3, cols: 4 }; // a 640×480 image at 16 crops: scale 4 → 1344×1008 → 4 × 3 crops
const PAD_ID = 32000;
const HEAD_DIM = 96;
// Phi-3.5-vision-instruct's LongRoPE factors are 48 per kind; these stand in (only the values differ).
const FACTORS = (base: number) => Array.from({ length: HEAD_DIM / 2 }, (_, k) => base + k / 16);

const CONFIG = {
  model_type: 'phi3_v', architectures: ['Phi3VForCausalLM'], vocab_size: 32064, hidden_size: 3072, intermediate_size: 8192,
  num_hidden_layers: 2, num_attention_heads: 32, num_key_value_heads: 32, rms_norm_eps: 1e-5, rope_theta: 10000.0,
  max_position_embeddings: 131072, original_max_position_embeddings: 4096, sliding_window: 262144, hidden_act: 'silu',
  rope_scaling: { type: 'longrope', short_factor: FACTORS(1), long_factor: FACTORS(2) }, bos_token_id: 1, eos_token_id: 2, pad_token_id: PAD_ID,
  tie_word_embeddings: false,
  embd_layer: { embedding_cls: 'image', hd_transform_order: 'sub_glb', projection_cls: 'mlp', use_hd_transform: true, with_learnable_separator: true },
  img_processor: { name: 'clip_vision_model', model_name: 'openai/clip-vit-large-patch14-336', image_dim_out: 1024, num_img_tokens: 144 },
  vision_config: {
    model_type: 'clip_vision_model', hidden_size: 1024, intermediate_size: 4096, num_hidden_layers: 4, num_attention_heads: 16,
    image_size: 336, patch_size: 14, projection_dim: 768, hidden_act: 'quick_gelu', layer_norm_eps: 1e-5,
  },
};

function randomArray(n: number, seed: number, a: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 4294967296 - 0.5) * 2 * a;
  }
  return out;
}

function ids(b: number, l: number, seed: number): number[][] {
  return Array.from({ length: b }, (_, r) => Array.from({ length: l }, (_, j) => 100 + ((r * 7919 + j * 104729 + seed) % 30000)));
}

/** Right padding with <|endoftext|>, as VLM2Vec pads Phi-3-V. */
function batchOf(rows: number[][]): { inputIds: BigInt64Array; attentionMask: BigInt64Array; shape: [number, number] } {
  const b = rows.length;
  const l = Math.max(...rows.map((r) => r.length));
  const inputIds = new BigInt64Array(b * l).fill(BigInt(PAD_ID));
  const attentionMask = new BigInt64Array(b * l);
  rows.forEach((r, i) => r.forEach((t, j) => {
    inputIds[i * l + j] = BigInt(t);
    attentionMask[i * l + j] = 1n;
  }));
  return { inputIds, attentionMask, shape: [b, l] };
}

const ORDER = imageTokenOrder([GRID], 12);
const N_CROPS = 1 + GRID.rows * GRID.cols;

interface Run { textPerS: number; imagePerS: number; peakRssMb: number; loadS: number }

async function runOurs(): Promise<Run> {
  configureRuntime({ threads: THREADS, interOpThreads: 1 });
  const cfg = parsePhi3VConfig(CONFIG, { file: 'bench config' });
  const host: HostWeights = new Map();
  let seed = 1;
  let holdMs = 0;
  for (const spec of phi3VParamSpecs(cfg)) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const data = spec.role === 'norm' && spec.path.endsWith('weight') ? new Float32Array(n).fill(1) : randomArray(n, seed++, 0.03);
    const t0 = performance.now();
    host.set(spec.path, holdTensor(spec, data, DTYPE));
    holdMs += performance.now() - t0;
  }
  const t0 = performance.now();
  const model = Phi3VModel.fromParams(cfg, buildPhi3VParams(host, cfg), 'bench');
  host.clear();
  await model.releaseHostWeights();
  const loadS = (holdMs + performance.now() - t0) / 1000;
  const text = { ...batchOf(ids(TEXT_B, TEXT_L, 1).map((r) => [1, ...r])), images: [] };
  const textMs = await timeIt(() => model.encode(text), ITERS, 1);
  const img = {
    ...batchOf(ids(1, IMG_TEXT, 3).map((t) => [1, ...new Array<number>(ORDER.length).fill(-1), ...t])),
    images: [{ ...GRID, pixels: randomArray(N_CROPS * 3 * 336 * 336, 99, 1.5) }],
  };
  const imgMs = await timeIt(() => model.encode(img), ITERS, 1);
  return { textPerS: (TEXT_B * 1000) / textMs, imagePerS: 1000 / imgMs, peakRssMb: process.resourceUsage().maxRSS / 1024, loadS };
}

const REFERENCE_TOOLS = fileURLToPath(new URL('../tools/reference', import.meta.url));

const torchScript = (): string => `
import json, resource, statistics, sys, time, torch
sys.path.insert(0, ${JSON.stringify(REFERENCE_TOOLS)})
from no_torchvision import guard_torchvision
guard_torchvision()
from transformers import CLIPVisionConfig, CLIPVisionModel, Phi3Config, Phi3Model
torch.set_num_threads(${THREADS})
C = json.loads('''${JSON.stringify(CONFIG)}''')
t0 = time.perf_counter()
torch.manual_seed(0)
lm = Phi3Model(Phi3Config(vocab_size=C["vocab_size"], hidden_size=C["hidden_size"], intermediate_size=C["intermediate_size"],
    num_hidden_layers=C["num_hidden_layers"], num_attention_heads=C["num_attention_heads"], num_key_value_heads=C["num_key_value_heads"],
    rms_norm_eps=C["rms_norm_eps"], max_position_embeddings=C["max_position_embeddings"],
    original_max_position_embeddings=C["original_max_position_embeddings"], pad_token_id=${PAD_ID},
    rope_scaling={"type": "longrope", "short_factor": C["rope_scaling"]["short_factor"], "long_factor": C["rope_scaling"]["long_factor"]},
    attn_implementation="sdpa")).eval()
vc = dict(C["vision_config"]); vc.pop("model_type")
clip = CLIPVisionModel(CLIPVisionConfig(**vc)).eval()
proj = torch.nn.Sequential(torch.nn.Linear(4096, 3072), torch.nn.GELU(), torch.nn.Linear(3072, 3072)).eval()
glb, sub = torch.randn(1, 4096), torch.randn(1, 4096)
load_s = time.perf_counter() - t0
order = torch.tensor(json.loads('${JSON.stringify(Array.from(ORDER, Number))}'))
def ids(b, l, seed):
    return [[100 + ((r * 7919 + j * 104729 + seed) % 30000) for j in range(l)] for r in range(b)]
def batch(rows):
    L = max(len(r) for r in rows)
    x = torch.full((len(rows), L), ${PAD_ID}); mk = torch.zeros((len(rows), L), dtype=torch.long)
    for i, r in enumerate(rows):
        x[i, :len(r)] = torch.tensor(r); mk[i, :len(r)] = 1
    return x, mk
def run(x, mk, pixels=None):
    with torch.inference_mode():
        emb = lm.embed_tokens(x.clamp_min(0))
        if pixels is not None:
            f = clip(pixels, output_hidden_states=True).hidden_states[-2][:, 1:]  # [N, 576, 1024]
            n = f.shape[0]
            merged = f.reshape(n, 12, 2, 12, 2, 1024).permute(0, 1, 3, 2, 4, 5).reshape(-1, 4096)
            feats = proj(torch.cat([merged, glb, sub])[order])
            emb = emb.index_put(torch.nonzero(x < 0, as_tuple=True), feats)
        h = lm(inputs_embeds=emb, attention_mask=mk, use_cache=False).last_hidden_state
        return torch.nn.functional.normalize(h[torch.arange(h.shape[0]), mk.sum(1) - 1], dim=-1)
def med(f):
    f(); ts = []
    for _ in range(${ITERS}):
        t0 = time.perf_counter(); f(); ts.append(time.perf_counter() - t0)
    return statistics.median(ts)
tx = batch([[1] + r for r in ids(${TEXT_B}, ${TEXT_L}, 1)])
t_text = med(lambda: run(*tx))
ix = batch([[1] + [-1] * ${ORDER.length} + r for r in ids(1, ${IMG_TEXT}, 3)])
torch.manual_seed(1)
pv = torch.randn(${N_CROPS}, 3, 336, 336)
t_img = med(lambda: run(*ix, pixels=pv))
print(json.dumps({"textPerS": ${TEXT_B} / t_text, "imagePerS": 1 / t_img, "peakRssMb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "loadS": load_s}))
`;

function child(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Run | string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env, maxBuffer: 1 << 24 });
  if (r.status !== 0) return `failed (${r.status}): ${r.stderr.slice(-500)}`;
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Run;
}

if (process.argv.includes('--ours-only')) {
  const line = JSON.stringify(await runOurs()) + '\n';
  process.stdout.write(line, () => process.exit(0));
  await new Promise(() => undefined);
}

const PYTHON = referencePython();
const variants: [string, () => Run | string][] = [
  [`ours ${DTYPE}`, () => child(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--ours-only', '--dtype', DTYPE, '--threads', String(THREADS), '--iters', String(ITERS)])],
  ['pytorch fp32', () => (SKIP_TORCH ? 'skipped (--skip-torch)' : PYTHON.missing ?? child(PYTHON.python!, ['-c', torchScript()], { ...process.env, OMP_NUM_THREADS: String(THREADS) }))],
];
const runs = new Map<string, Run[]>(variants.map(([n]) => [n, []]));
const failed = new Map<string, string>();
const loads: number[] = [];
const f = (x: number): string => x.toPrecision(3);
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, run] of variants) {
    if (failed.has(name)) continue;
    const r = run();
    if (typeof r === 'string') failed.set(name, r);
    else runs.get(name)!.push(r);
    loads.push(loadavg()[0]!);
    console.error(`round ${round + 1}/${ROUNDS}: ${name} ${typeof r === 'string' ? r : `text ${f(r.textPerS)}, image ${f(r.imagePerS)} emb/s, peak ${r.peakRssMb.toFixed(0)} MB`} (load ${loadavg()[0]!.toFixed(2)})`);
  }
}
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
console.log(`Phi-3-V (Phi-3.5-vision-instruct widths), 2 LM + 4 CLIP layers, random weights, ${THREADS} threads, median of ${ITERS} per run, median over ${ROUNDS} alternating rounds; load average ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}`);
console.log(`text batch ${TEXT_B}×${TEXT_L + 1} tokens; image row: a 640×480 image at 16 crops (13 crops, ${ORDER.length} tokens) + ${IMG_TEXT} text; each run in its own process`);
console.log('| variant | text emb/s | image emb/s | peak RSS MB | load s |');
console.log('|---|---|---|---|---|');
for (const [name] of variants) {
  const rs = runs.get(name)!;
  if (rs.length === 0) {
    console.log(`| ${name} | ${failed.get(name) ?? 'no run'} | | | |`);
    continue;
  }
  const m = (k: keyof Run) => median(rs.map((r) => r[k]));
  console.log(`| ${name} | ${f(m('textPerS'))} | ${f(m('imagePerS'))} | ${m('peakRssMb').toFixed(0)} | ${f(m('loadS'))} |`);
}
const o = runs.get(variants[0]![0])!;
const t = runs.get('pytorch fp32')!;
if (o.length && t.length) {
  const r = (k: 'textPerS' | 'imagePerS') => median(o.map((x) => x[k])) / median(t.map((x) => x[k]));
  console.log(`ratio ours/pytorch: text ${f(r('textPerS'))}×, image ${f(r('imagePerS'))}× (goal ≥ 1.0); peak RSS ${f(median(o.map((x) => x.peakRssMb)) / median(t.map((x) => x.peakRssMb)))}× of PyTorch's`);
}
