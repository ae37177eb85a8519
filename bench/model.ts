// `npm run bench:model` (node --import tsx bench/model.ts [--threads N] [--iters N] [--skip-torch] [--keep-weights]
//   [--dtype float32|float16] [--no-arena]):
// embeddings/s and peak RSS of our Qwen2-VL encoder vs transformers + PyTorch CPU (fp32, same
// threads) on a model with Qwen2-VL-2B's widths (hidden 1536, 12/2 heads, MLP 8960, vision
// 1280 / 16 heads, vocab 151936) and reduced depth (4 LM + 4 vision layers), random weights,
// on the same inputs: a text-only batch and a batch of 448×448 image + text rows.
// Ours runs in this process (peak RSS = this process); PyTorch runs in its own process (always fp32).
// --dtype float16 runs ours with float16-held weights (float32 compute; docs/float16.md).

import { spawnSync } from 'node:child_process';
import { parseQwen2VLConfig } from '../src/models/qwen2-vl/config.ts';
import { Qwen2VLModel } from '../src/models/qwen2-vl/model.ts';
import { buildParams, qwen2VLParamSpecs } from '../src/models/qwen2-vl/weights.ts';
import { holdTensor, parseWeightDtype, type HostWeights } from '../src/models/common/float16.ts';
import { configureRuntime } from '../src/tensor/index.ts';
import { timeIt } from './case.ts';
import { referencePython } from './python.ts';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const THREADS = arg('--threads', 2);
const ITERS = arg('--iters', 3);
const SKIP_TORCH = process.argv.includes('--skip-torch');
// Keep the host copies of the weights (as before LocalEmbedder released them), for comparison.
const KEEP_WEIGHTS = process.argv.includes('--keep-weights');
// ORT's CPU memory arena off (configureRuntime({ cpuMemArena: false })): lower RSS between runs.
const NO_ARENA = process.argv.includes('--no-arena');
const DTYPE = parseWeightDtype(process.argv.includes('--dtype') ? process.argv[process.argv.indexOf('--dtype') + 1] : undefined, '--dtype');
const PYTHON = referencePython();

const TEXT_B = 8;
const TEXT_L = 48;
const IMG_B = 2;
const IMG_TEXT = 12; // text tokens after the image placeholder run
const GRID = [1, 32, 32] as const; // 448×448 → 32×32 patches → 256 merged tokens
const IMAGE_ID = 151655;

const CONFIG = {
  model_type: 'qwen2_vl', architectures: ['Qwen2VLForConditionalGeneration'],
  vocab_size: 151936, hidden_size: 1536, intermediate_size: 8960, num_hidden_layers: 4,
  num_attention_heads: 12, num_key_value_heads: 2, rms_norm_eps: 1e-6, rope_theta: 1e6,
  max_position_embeddings: 32768, tie_word_embeddings: true,
  rope_scaling: { type: 'mrope', mrope_section: [16, 24, 24] },
  vision_config: { depth: 4, embed_dim: 1280, num_heads: 16, mlp_ratio: 4, hidden_size: 1536, in_chans: 3, patch_size: 14, spatial_merge_size: 2, temporal_patch_size: 2 },
  image_token_id: IMAGE_ID, video_token_id: 151656, vision_start_token_id: 151652, vision_end_token_id: 151653,
};

/** xorshift32 uniform(-a, a) fill: fast, deterministic, no allocation beyond the array. */
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

/** Deterministic token ids (same in both runs). */
function ids(b: number, l: number, seed: number): number[][] {
  return Array.from({ length: b }, (_, r) => Array.from({ length: l }, (_, j) => 1000 + ((r * 7919 + j * 104729 + seed) % 50000)));
}

function batchOf(rows: number[][]): { inputIds: BigInt64Array; attentionMask: BigInt64Array; shape: [number, number] } {
  const b = rows.length;
  const l = Math.max(...rows.map((r) => r.length));
  const inputIds = new BigInt64Array(b * l).fill(151643n);
  const attentionMask = new BigInt64Array(b * l);
  rows.forEach((r, i) => r.forEach((t, j) => {
    inputIds[i * l + l - r.length + j] = BigInt(t);
    attentionMask[i * l + l - r.length + j] = 1n;
  }));
  return { inputIds, attentionMask, shape: [b, l] };
}

function imageRows(): number[][] {
  const n = (GRID[0] * GRID[1] * GRID[2]) / 4;
  return ids(IMG_B, IMG_TEXT, 3).map((t) => [...new Array<number>(n).fill(IMAGE_ID), ...t]);
}

async function runOurs(): Promise<{ textPerS: number; imagePerS: number; peakRssMb: number; endRssMb: number }> {
  configureRuntime({ threads: THREADS, interOpThreads: 1, ...(NO_ARENA ? { cpuMemArena: false } : {}) });
  const cfg = parseQwen2VLConfig(CONFIG, { file: 'bench config' });
  const host: HostWeights = new Map();
  let seed = 1;
  for (const spec of qwen2VLParamSpecs(cfg)) {
    const name = spec.path;
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const isNorm = /norm|ln_q/.test(name) && name.endsWith('weight');
    host.set(name, holdTensor(spec, isNorm ? new Float32Array(n).fill(1) : randomArray(n, seed++, 0.03), DTYPE));
  }
  const model = Qwen2VLModel.fromParams(cfg, buildParams(host, cfg), 'bench');
  // As LocalEmbedder does by default: build both sessions, then free the host weights.
  if (!KEEP_WEIGHTS) await model.releaseHostWeights();
  const text = batchOf(ids(TEXT_B, TEXT_L, 1));
  const textMs = await timeIt(() => model.encode(text), ITERS, 1);
  const patches = GRID[0] * GRID[1] * GRID[2];
  const img = {
    ...batchOf(imageRows()),
    pixelValues: randomArray(IMG_B * patches * 1176, 99, 1.5),
    imageGrids: Array.from({ length: IMG_B }, () => GRID),
  };
  const imgMs = await timeIt(() => model.encode(img), ITERS, 1);
  return { textPerS: (TEXT_B * 1000) / textMs, imagePerS: (IMG_B * 1000) / imgMs, peakRssMb: process.resourceUsage().maxRSS / 1024, endRssMb: process.memoryUsage().rss / 2 ** 20 };
}

const TORCH_SCRIPT = `
import json, resource, statistics, time, torch
from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration
torch.set_num_threads(${THREADS})
cfg = Qwen2VLConfig.from_dict(json.loads('''${JSON.stringify(CONFIG)}'''))
with torch.device('cpu'):
    m = Qwen2VLForConditionalGeneration(cfg).eval()
def ids(b, l, seed):
    return [[1000 + ((r * 7919 + j * 104729 + seed) % 50000) for j in range(l)] for r in range(b)]
def batch(rows):
    L = max(len(r) for r in rows)
    x = torch.full((len(rows), L), 151643); mk = torch.zeros((len(rows), L), dtype=torch.long)
    for i, r in enumerate(rows):
        x[i, L - len(r):] = torch.tensor(r); mk[i, L - len(r):] = 1
    pos = (mk.cumsum(-1) - 1).masked_fill(mk == 0, 1)
    return x, mk, pos
def run(x, mk, pos, **kw):
    with torch.inference_mode():
        # The base model (no LM head: VLM2Vec pools hidden states; the head's logits would add
        # ~1.2x the LM's own FLOPs to PyTorch's side). last_hidden_state is the final-norm output.
        out = m.model(input_ids=x, attention_mask=mk, position_ids=pos, use_cache=False, **kw)
        return torch.nn.functional.normalize(out.last_hidden_state[:, -1], dim=-1)
def med(f):
    f(); ts = []
    for _ in range(${ITERS}):
        t0 = time.perf_counter(); f(); ts.append(time.perf_counter() - t0)
    return statistics.median(ts)
tx = batch(ids(${TEXT_B}, ${TEXT_L}, 1))
t_text = med(lambda: run(*tx))
n = ${(GRID[0] * GRID[1] * GRID[2]) / 4}
ix = batch([[${IMAGE_ID}] * n + r for r in ids(${IMG_B}, ${IMG_TEXT}, 3)])
pv = torch.randn(${IMG_B} * ${GRID[0] * GRID[1] * GRID[2]}, 1176)
grid = torch.tensor([[${GRID.join(', ')}]] * ${IMG_B})
t_img = med(lambda: run(*ix, pixel_values=pv, image_grid_thw=grid))
print(json.dumps({"textPerS": ${TEXT_B} / t_text, "imagePerS": ${IMG_B} / t_img, "peakRssMb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
`;

function runTorch(): { textPerS: number; imagePerS: number; peakRssMb: number } | string {
  if (SKIP_TORCH) return 'skipped (--skip-torch)';
  if (PYTHON.missing !== undefined) return PYTHON.missing;
  const r = spawnSync(PYTHON.python, ['-c', TORCH_SCRIPT], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: String(THREADS) }, maxBuffer: 1 << 24 });
  if (r.status !== 0) return `python failed (${r.status}): ${r.stderr.slice(-500)}`;
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { textPerS: number; imagePerS: number; peakRssMb: number };
}

const ours = await runOurs();
if (process.argv.includes("--ours-only")) { console.log(JSON.stringify(ours)); process.exit(0); }
const torch = runTorch();
const f = (x: number): string => x.toFixed(2);
console.log(`Qwen2-VL 2B widths, 4 LM + 4 vision layers, ours ${DTYPE} weights (PyTorch fp32), ${THREADS} threads, median of ${ITERS}`);
console.log(`text batch ${TEXT_B}×${TEXT_L} tokens; image batch ${IMG_B}× (448×448 image = 256 tokens + ${IMG_TEXT} text)`);
console.log(`ours:    text ${f(ours.textPerS)} emb/s, image ${f(ours.imagePerS)} emb/s, peak RSS ${ours.peakRssMb.toFixed(0)} MB, RSS after the runs ${ours.endRssMb.toFixed(0)} MB` +
  `${KEEP_WEIGHTS ? ' (host weights kept)' : ' (host weights released)'}`);
if (typeof torch === 'string') {
  console.log(`pytorch: ${torch}`);
} else {
  console.log(`pytorch: text ${f(torch.textPerS)} emb/s, image ${f(torch.imagePerS)} emb/s, peak RSS ${torch.peakRssMb.toFixed(0)} MB`);
  console.log(`ratio ours/pytorch: text ${f(ours.textPerS / torch.textPerS)}×, image ${f(ours.imagePerS / torch.imagePerS)}× (goal ≥ 1.0); ` +
    `peak RSS ${f(ours.peakRssMb / torch.peakRssMb)}× of PyTorch's`);
}
