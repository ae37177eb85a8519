// `npm run bench:model -- --model llava-next [--threads N] [--iters N] [--rounds N] [--dtype float32|float16] [--skip-torch]`:
// embeddings/s and peak RSS of our LLaVA-NeXT encoder vs transformers + PyTorch CPU (fp32, same
// threads) at llava-v1.6-mistral-7b's widths (Mistral hidden 4096, 32 / 8 heads, MLP 14336,
// vocab 32064; CLIP ViT-L/14-336: 1024 wide, 16 heads, MLP 4096) with reduced depth (2 LM layers,
// 4 CLIP layers of which hidden_states[-2] runs 3), random weights, on the same inputs: a
// text-only batch and a batch of rows with one 640×480 image each (best pinpoint 672×672 → 5
// patches of 336 px → 2,340 image tokens) plus text; one image row per batch, since our eager
// attention holds the [heads, T, T] scores (T ≈ 2,353) where PyTorch's SDPA does not. Ours and PyTorch alternate for --rounds
// rounds (default 2), each run in its own process so its peak RSS is its own; medians are printed.
// --attention fused|composed|fused,composed: ours with those attention kernels (default: the
// model's default, fused), alternating with each other (and PyTorch unless --skip-torch).

import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { holdTensor, parseWeightDtype, type HostWeights } from '../src/models/common/float16.ts';
import { parseLlavaNextConfig } from '../src/models/llava-next/config.ts';
import { LlavaNextModel } from '../src/models/llava-next/model.ts';
import { buildLlavaNextParams, llavaNextParamSpecs } from '../src/models/llava-next/params.ts';
import { featureRows, imageFeatureLayout } from '../src/models/llava-next/processor.ts';
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
const ATTENTION = (process.argv.includes('--attention') ? process.argv[process.argv.indexOf('--attention') + 1]! : '').split(',').filter((x) => x !== '');
for (const a of ATTENTION) if (a !== 'fused' && a !== 'composed') throw new Error(`--attention ${a}: expected fused or composed (or both, comma-separated)`);
const DTYPE = parseWeightDtype(process.argv.includes('--dtype') ? process.argv[process.argv.indexOf('--dtype') + 1]! : 'float32', '--dtype');
if (DTYPE !== 'float32' && DTYPE !== 'float16') throw new Error(`--dtype ${DTYPE}: the LLaVA-NeXT benchmark runs float32 or float16`);

const TEXT_B = 8;
const TEXT_L = 48;
const IMG_B = 1;
const IMG_TEXT = 12;
const IMG_HW = [480, 640] as const;
const IMAGE_ID = 32000;
const PAD_ID = 32001;
const PINPOINTS: [number, number][] = [[336, 672], [672, 336], [672, 672], [1008, 336], [336, 1008]];

const CONFIG = {
  model_type: 'llava_next', architectures: ['LlavaNextForConditionalGeneration'], image_token_index: IMAGE_ID,
  image_grid_pinpoints: PINPOINTS, vision_feature_layer: -2, vision_feature_select_strategy: 'default', projector_hidden_act: 'gelu',
  text_config: {
    model_type: 'mistral', vocab_size: 32064, hidden_size: 4096, intermediate_size: 14336, num_hidden_layers: 2,
    num_attention_heads: 32, num_key_value_heads: 8, rms_norm_eps: 1e-5, rope_theta: 1e6, sliding_window: null, max_position_embeddings: 32768,
  },
  vision_config: { model_type: 'clip_vision_model', hidden_size: 1024, intermediate_size: 4096, num_hidden_layers: 4, num_attention_heads: 16, image_size: 336, patch_size: 14, projection_dim: 768 },
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

function batchOf(rows: number[][]): { inputIds: BigInt64Array; attentionMask: BigInt64Array; shape: [number, number] } {
  const b = rows.length;
  const l = Math.max(...rows.map((r) => r.length));
  const inputIds = new BigInt64Array(b * l).fill(BigInt(PAD_ID));
  const attentionMask = new BigInt64Array(b * l);
  rows.forEach((r, i) => r.forEach((t, j) => {
    inputIds[i * l + l - r.length + j] = BigInt(t);
    attentionMask[i * l + l - r.length + j] = 1n;
  }));
  return { inputIds, attentionMask, shape: [b, l] };
}

interface Run { textPerS: number; imagePerS: number; peakRssMb: number; loadS: number }

async function runOurs(): Promise<Run> {
  configureRuntime({ threads: THREADS, interOpThreads: 1 });
  const cfg = parseLlavaNextConfig(CONFIG, { file: 'bench config' });
  const host: HostWeights = new Map();
  let seed = 1;
  let holdMs = 0;
  for (const spec of llavaNextParamSpecs(cfg)) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const data = spec.role === 'norm' && spec.path.endsWith('weight') ? new Float32Array(n).fill(1) : randomArray(n, seed++, 0.03);
    const t0 = performance.now();
    host.set(spec.path, holdTensor(spec, data, DTYPE));
    holdMs += performance.now() - t0;
  }
  const t0 = performance.now();
  const model = LlavaNextModel.fromParams(cfg, buildLlavaNextParams(host, cfg), 'bench', { attention: ATTENTION[0] as 'fused' | 'composed' | undefined });
  host.clear();
  await model.releaseHostWeights();
  const loadS = (holdMs + performance.now() - t0) / 1000;
  const text = { ...batchOf(ids(TEXT_B, TEXT_L, 1)), images: [] };
  const textMs = await timeIt(() => model.encode(text), ITERS, 1);
  const layout = imageFeatureLayout(IMG_HW, 336, 14, PINPOINTS);
  const n = 1 + layout.patchRows * layout.patchCols;
  const image = (k: number) => ({ pixels: randomArray(n * 3 * 336 * 336, 99 + k, 1.5), numPatches: n, featureRows: featureRows(layout, n * 576) });
  const img = {
    ...batchOf(ids(IMG_B, IMG_TEXT, 3).map((t) => [1, ...new Array<number>(layout.numFeatures).fill(IMAGE_ID), ...t])),
    images: Array.from({ length: IMG_B }, (_, k) => image(k)),
  };
  const imgMs = await timeIt(() => model.encode(img), ITERS, 1);
  return { textPerS: (TEXT_B * 1000) / textMs, imagePerS: (IMG_B * 1000) / imgMs, peakRssMb: process.resourceUsage().maxRSS / 1024, loadS };
}

// tools/reference/no_torchvision.py: transformers imports even when a mismatched torchvision is installed.
const REFERENCE_TOOLS = fileURLToPath(new URL('../tools/reference', import.meta.url));

const torchScript = (): string => `
import json, resource, statistics, sys, time, torch
sys.path.insert(0, ${JSON.stringify(REFERENCE_TOOLS)})
from no_torchvision import guard_torchvision
guard_torchvision()
from transformers import LlavaNextConfig, LlavaNextForConditionalGeneration
torch.set_num_threads(${THREADS})
cfg = LlavaNextConfig.from_dict(json.loads('''${JSON.stringify(CONFIG)}'''))
torch.manual_seed(0)
t0 = time.perf_counter()
m = LlavaNextForConditionalGeneration(cfg).eval()
load_s = time.perf_counter() - t0
def ids(b, l, seed):
    return [[100 + ((r * 7919 + j * 104729 + seed) % 30000) for j in range(l)] for r in range(b)]
def batch(rows):
    L = max(len(r) for r in rows)
    x = torch.full((len(rows), L), ${PAD_ID}); mk = torch.zeros((len(rows), L), dtype=torch.long)
    for i, r in enumerate(rows):
        x[i, L - len(r):] = torch.tensor(r); mk[i, L - len(r):] = 1
    return x, mk
def run(x, mk, **kw):
    with torch.inference_mode():
        # The base model (VLM2Vec pools hidden states; the LM head is not run).
        out = m.model(input_ids=x, attention_mask=mk, use_cache=False, **kw)
        return torch.nn.functional.normalize(out.last_hidden_state[:, -1], dim=-1)
def med(f):
    f(); ts = []
    for _ in range(${ITERS}):
        t0 = time.perf_counter(); f(); ts.append(time.perf_counter() - t0)
    return statistics.median(ts)
tx = batch(ids(${TEXT_B}, ${TEXT_L}, 1))
t_text = med(lambda: run(*tx))
n_tok = ${imageFeatureLayout(IMG_HW, 336, 14, PINPOINTS).numFeatures}
ix = batch([[1] + [${IMAGE_ID}] * n_tok + r for r in ids(${IMG_B}, ${IMG_TEXT}, 3)])
torch.manual_seed(1)
pv = torch.randn(${IMG_B}, 5, 3, 336, 336)
sizes = torch.tensor([[${IMG_HW.join(', ')}]] * ${IMG_B})
t_img = med(lambda: run(*ix, pixel_values=pv, image_sizes=sizes))
print(json.dumps({"textPerS": ${TEXT_B} / t_text, "imagePerS": ${IMG_B} / t_img, "peakRssMb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "loadS": load_s}))
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
const ours = (a: string | undefined): [string, () => Run | string] => [`ours ${DTYPE}${a ? ` ${a} attention` : ''}`, () => child(process.execPath,
  ['--import', 'tsx', fileURLToPath(import.meta.url), '--ours-only', '--dtype', DTYPE, '--threads', String(THREADS), '--iters', String(ITERS), ...(a ? ['--attention', a] : [])])];
const variants: [string, () => Run | string][] = [
  ...(ATTENTION.length ? ATTENTION.map(ours) : [ours(undefined)]),
  ['pytorch fp32', () => (SKIP_TORCH ? 'skipped (--skip-torch)' : PYTHON.missing ?? child(PYTHON.python!, ['-c', torchScript()], { ...process.env, OMP_NUM_THREADS: String(THREADS) }))],
];
const runs = new Map<string, Run[]>(variants.map(([n]) => [n, []]));
const failed = new Map<string, string>();
// Three significant digits: an image row takes tens of seconds at these widths (≈ 0.03 emb/s).
const f = (x: number): string => x.toPrecision(3);
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, run] of variants) {
    if (failed.has(name)) continue;
    const r = run();
    if (typeof r === 'string') failed.set(name, r);
    else runs.get(name)!.push(r);
    console.error(`round ${round + 1}/${ROUNDS}: ${name} ${typeof r === 'string' ? r : `text ${f(r.textPerS)}, image ${f(r.imagePerS)} emb/s, peak ${r.peakRssMb.toFixed(0)} MB`} (load ${loadavg()[0]!.toFixed(2)})`);
  }
}
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
console.log(`LLaVA-NeXT (llava-v1.6-mistral-7b widths), 2 LM + 4 CLIP layers, random weights, ${THREADS} threads, median of ${ITERS} per run, median over ${ROUNDS} alternating rounds`);
console.log(`text batch ${TEXT_B}×${TEXT_L} tokens; image batch ${IMG_B}× (640×480 image = 5 patches, 2,340 tokens + ${IMG_TEXT} text); each run in its own process`);
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
if (ATTENTION.length > 1) {
  const [a, b] = ATTENTION.map((x) => runs.get(`ours ${DTYPE} ${x} attention`)!);
  const r = (k: 'textPerS' | 'imagePerS' | 'peakRssMb') => median(a!.map((x) => x[k])) / median(b!.map((x) => x[k]));
  if (a!.length && b!.length) console.log(`${ATTENTION[0]} / ${ATTENTION[1]} attention: text ${f(r('textPerS'))}×, image ${f(r('imagePerS'))}× speed; peak RSS ${f(r('peakRssMb'))}×`);
}
