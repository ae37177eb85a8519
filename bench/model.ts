// `npm run bench:model` (node --import tsx bench/model.ts [--model qwen2-vl|llava-next|phi3-v] [--threads N] [--iters N] [--skip-torch] [--keep-weights]
//   [--dtype float32|float16|int8|q4|q4-128] [--mix GROUP=DTYPE,…] [--rounds N] [--no-arena] [--attention fused|composed|fused,composed]):
// embeddings/s and peak RSS of our Qwen2-VL encoder vs transformers + PyTorch CPU (fp32, same
// threads) on a model with Qwen2-VL-2B's widths (hidden 1536, 12/2 heads, MLP 8960, vision
// 1280 / 16 heads, vocab 151936) and reduced depth (4 LM + 4 vision layers), random weights,
// on the same inputs: a text-only batch and a batch of 448×448 image + text rows.
// Ours runs in this process (peak RSS = this process); PyTorch runs in its own process (always fp32).
// --dtype float16 runs ours with float16-held weights (float32 compute; docs/float16.md).
// --dtype int8 | q4 | q4-128 (docs/quantization.md) runs, in alternation for --rounds rounds (default
// 2), each in its own process so peak RSS is its own: ours float32, ours quantized, PyTorch fp32 and
// PyTorch dynamic int8 (torch.ao.quantization.quantize_dynamic on every nn.Linear), and reports
// embeddings/s, peak RSS, load time, held weight bytes and the cosine of each quantized embedding
// to its own float32 one (same random weights, same inputs).
// --attention fused|composed picks ours' attention kernels (default: the models' default, fused);
// --attention fused,composed alternates the two for --rounds rounds (default 3), each run in its
// own process, and prints medians, the load average and the largest embedding difference.

import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import type { AttentionKernel } from '../src/nn/index.ts';
import { parseQwen2VLConfig } from '../src/models/qwen2-vl/config.ts';
import { Qwen2VLModel } from '../src/models/qwen2-vl/model.ts';
import { buildParams, qwen2VLParamSpecs } from '../src/models/qwen2-vl/weights.ts';
import { holdTensor, parseWeightDtype, type HostWeights, type WeightDtype } from '../src/models/common/float16.ts';
import { quantSchemeOf } from '../src/models/common/quantize.ts';
import { configureRuntime } from '../src/tensor/index.ts';
import { timeIt } from './case.ts';
import { flopShapeOf, lmFlops, visionFlops } from './flops.ts';
import { referencePython } from './python.ts';

// --model llava-next runs LLaVA-NeXT's benchmark (bench/model-llava-next.ts); the default is Qwen2-VL.
const MODEL = process.argv.includes('--model') ? process.argv[process.argv.indexOf('--model') + 1] : 'qwen2-vl';
if (MODEL === 'llava-next') {
  await import('./model-llava-next.ts');
  process.exit(0);
}
// --model phi3-v runs Phi-3-V's (bench/model-phi3-v.ts).
if (MODEL === 'phi3-v') {
  await import('./model-phi3-v.ts');
  process.exit(0);
}

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
// A comma list of quantized dtypes (--dtype int8,q4) runs each of them in the same alternation.
const DTYPES = (process.argv.includes('--dtype') ? process.argv[process.argv.indexOf('--dtype') + 1]! : 'float32').split(',').map((d) => parseWeightDtype(d, '--dtype'));
const DTYPE = DTYPES[0]!;
// --mix GROUP=DTYPE,… (q4 sensitivity, docs/quantization.md): ours' quantized variants hold the
// named tensor groups as another dtype; '*' is every other weight matrix (so '*=float32,lm_v=q4'
// quantizes only the LM's v_proj). Groups: table; lm_attn (lm_q, lm_k, lm_v, lm_o), lm_gateup
// (lm_gate, lm_up), lm_down; vis_attn (vis_qkv, vis_proj), vis_mlp (vis_fc1, vis_fc2); merger.
// The float32 run is never mixed; the patch-embedding Conv kernel stays float32 under every dtype.
const MIX_ARG = process.argv.includes('--mix') ? process.argv[process.argv.indexOf('--mix') + 1]! : '';
const MIX = new Map(MIX_ARG.split(',').filter((x) => x !== '').map((kv) => {
  const [g, d] = kv.split('=');
  if (d === undefined) throw new Error(`--mix ${kv}: expected GROUP=DTYPE`);
  return [g!, parseWeightDtype(d, `--mix ${g}`)] as const;
}));

/** The mix group names of a Qwen2-VL weight matrix (fine, coarse), or [] for tensors outside every group. */
function mixGroups(path: string): string[] {
  if (path === 'model.embed_tokens.weight') return ['table'];
  let m = /^model\.layers\.\d+\.self_attn\.([qkvo])_proj\.weight$/.exec(path);
  if (m) return [`lm_${m[1]}`, 'lm_attn'];
  m = /^model\.layers\.\d+\.mlp\.(gate|up|down)_proj\.weight$/.exec(path);
  if (m) return m[1] === 'down' ? ['lm_down'] : [`lm_${m[1]}`, 'lm_gateup'];
  m = /^visual\.blocks\.\d+\.(attn|mlp)\.(qkv|proj|fc1|fc2)\.weight$/.exec(path);
  if (m) return [`vis_${m[2]}`, `vis_${m[1]}`];
  return /^visual\.merger\.mlp\.\d+\.weight$/.test(path) ? ['merger'] : [];
}
const MIX_GROUPS = new Set(['*', 'table', 'lm_attn', 'lm_q', 'lm_k', 'lm_v', 'lm_o', 'lm_gateup', 'lm_gate', 'lm_up', 'lm_down', 'vis_attn', 'vis_qkv', 'vis_proj', 'vis_mlp', 'vis_fc1', 'vis_fc2', 'merger']);
for (const g of MIX.keys()) if (!MIX_GROUPS.has(g)) throw new Error(`--mix ${g}: unknown group; expected one of ${[...MIX_GROUPS].join(', ')}`);

/** The dtype ours holds `path` as: the run's dtype, or under a quantized dtype the --mix entry of its group. */
function heldDtypeFor(path: string): WeightDtype {
  if (!quantSchemeOf(DTYPE)) return DTYPE;
  const groups = mixGroups(path);
  for (const g of groups) if (MIX.has(g)) return MIX.get(g)!;
  return (groups.length > 0 ? MIX.get('*') : undefined) ?? DTYPE;
}
const ATTENTION = (process.argv.includes('--attention') ? process.argv[process.argv.indexOf('--attention') + 1]! : '').split(',').filter((x) => x !== '') as AttentionKernel[];
for (const a of ATTENTION) if (a !== 'fused' && a !== 'composed') throw new Error(`--attention ${a}: expected fused or composed (or both, comma-separated)`);
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

interface Run { textPerS: number; imagePerS: number; peakRssMb: number; textCpuMs?: number; imageCpuMs?: number; endRssMb?: number; loadS?: number; weightMb?: number; embeddings?: number[] }

/**
 * `fn` that records the process CPU time (all of ORT's threads) of each call after the first:
 * on a loaded machine CPU time moves less with the other workers than wall time does.
 */
function cpuTimed(fn: () => Promise<unknown>): { fn: () => Promise<unknown>; median: () => number } {
  const ms: number[] = [];
  let calls = 0;
  return {
    fn: async () => {
      const c0 = process.cpuUsage();
      await fn();
      const c = process.cpuUsage(c0);
      if (calls++ > 0) ms.push((c.user + c.system) / 1000);
    },
    median: () => median(ms),
  };
}

async function runOurs(): Promise<Run & { endRssMb: number; loadS: number; weightMb: number; embeddings: number[] }> {
  configureRuntime({ threads: THREADS, interOpThreads: 1, ...(NO_ARENA ? { cpuMemArena: false } : {}) });
  const cfg = parseQwen2VLConfig(CONFIG, { file: 'bench config' });
  const host: HostWeights = new Map();
  let seed = 1;
  let holdMs = 0;
  let weightBytes = 0;
  for (const spec of qwen2VLParamSpecs(cfg)) {
    const name = spec.path;
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const isNorm = /norm|ln_q/.test(name) && name.endsWith('weight');
    const data = isNorm ? new Float32Array(n).fill(1) : randomArray(n, seed++, 0.03);
    // Load time counts holding (rounding / quantizing) and session building, not the random fill.
    const t0 = performance.now();
    const held = holdTensor(spec, data, heldDtypeFor(name));
    holdMs += performance.now() - t0;
    weightBytes += held.data.byteLength + ('quantized' in held ? held.quantized.scales.byteLength + (held.quantized.zeroPoints?.byteLength ?? 0) : 0);
    host.set(name, held);
  }
  const t0 = performance.now();
  const model = Qwen2VLModel.fromParams(cfg, buildParams(host, cfg), 'bench', { attention: ATTENTION[0] });
  // As LocalEmbedder does by default: build both sessions, then free the host weights.
  if (!KEEP_WEIGHTS) await model.releaseHostWeights();
  const loadS = (holdMs + performance.now() - t0) / 1000;
  const text = batchOf(ids(TEXT_B, TEXT_L, 1));
  const textCpu = cpuTimed(() => model.encode(text));
  const textMs = await timeIt(textCpu.fn, ITERS, 1);
  const patches = GRID[0] * GRID[1] * GRID[2];
  const img = {
    ...batchOf(imageRows()),
    pixelValues: randomArray(IMG_B * patches * 1176, 99, 1.5),
    imageGrids: Array.from({ length: IMG_B }, () => GRID),
  };
  const imgCpu = cpuTimed(() => model.encode(img));
  const imgMs = await timeIt(imgCpu.fn, ITERS, 1);
  const embeddings = [...(await model.encode(text)).embeddings, ...(await model.encode(img)).embeddings];
  return {
    textPerS: (TEXT_B * 1000) / textMs, imagePerS: (IMG_B * 1000) / imgMs, peakRssMb: process.resourceUsage().maxRSS / 1024,
    endRssMb: process.memoryUsage().rss / 2 ** 20, loadS, weightMb: weightBytes / 2 ** 20, embeddings,
    textCpuMs: textCpu.median(), imageCpuMs: imgCpu.median(),
  };
}

// torchvision is not needed here, and a torchvision built for another torch makes transformers'
// Qwen2-VL import fail (operator torchvision::nms does not exist): keep it out of the process.
const torchScript = (int8: boolean): string => `
import json, resource, statistics, sys, time
sys.modules['torchvision'] = None
import torch
from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration
torch.set_num_threads(${THREADS})
cfg = Qwen2VLConfig.from_dict(json.loads('''${JSON.stringify(CONFIG)}'''))
torch.manual_seed(0)
t0 = time.perf_counter()
with torch.device('cpu'):
    m = Qwen2VLForConditionalGeneration(cfg).eval()
if ${int8 ? 'True' : 'False'}:
    m = torch.ao.quantization.quantize_dynamic(m, {torch.nn.Linear}, dtype=torch.qint8)
load_s = time.perf_counter() - t0
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
torch.manual_seed(1)
pv = torch.randn(${IMG_B} * ${GRID[0] * GRID[1] * GRID[2]}, 1176)
grid = torch.tensor([[${GRID.join(', ')}]] * ${IMG_B})
t_img = med(lambda: run(*ix, pixel_values=pv, image_grid_thw=grid))
emb = torch.cat([run(*tx), run(*ix, pixel_values=pv, image_grid_thw=grid)]).flatten().tolist()
print(json.dumps({"textPerS": ${TEXT_B} / t_text, "imagePerS": ${IMG_B} / t_img, "peakRssMb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "loadS": load_s, "embeddings": emb}))
`;

function runTorch(int8 = false): Run | string {
  if (SKIP_TORCH) return 'skipped (--skip-torch)';
  if (PYTHON.missing !== undefined) return PYTHON.missing;
  const r = spawnSync(PYTHON.python, ['-c', torchScript(int8)], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: String(THREADS) }, maxBuffer: 1 << 26 });
  if (r.status !== 0) return `python failed (${r.status}): ${r.stderr.slice(-500)}`;
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Run;
}

if (process.argv.includes('--ours-only')) {
  // Exit only once the (large) line is flushed: process.exit would cut a piped stdout short.
  const line = JSON.stringify(await runOurs()) + '\n';
  process.stdout.write(line, () => process.exit(0));
  await new Promise(() => undefined);
}
const f = (x: number): string => x.toFixed(2);
if (DTYPES.length > 1 && !DTYPES.every((d) => quantSchemeOf(d))) throw new Error('--dtype: a list may hold only int8 / q4 / q4-128');
if (quantSchemeOf(DTYPE) && ATTENTION.length < 2) {
  await compareQuantized();
  process.exit(0);
}
if (ATTENTION.length > 1) {
  await compareAttention();
  process.exit(0);
}
const ours = await runOurs();
const torch = runTorch();
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
  // The same throughputs as arithmetic rates (bench/flops.ts; compare with `npm run bench:gemm`):
  // ours computes the last LM layer's query side at the pooled token only, transformers every token.
  const shape = flopShapeOf(CONFIG);
  const patches = GRID[0] * GRID[1] * GRID[2];
  const rate = (pooled: boolean, textPerS: number, imagePerS: number): string => {
    const text = lmFlops(shape, TEXT_B, TEXT_L, pooled) / TEXT_B;
    const image = (lmFlops(shape, IMG_B, patches / 4 + IMG_TEXT, pooled) + IMG_B * visionFlops(shape, patches)) / IMG_B;
    return `text ${(text / 1e9).toFixed(1)} GFLOP/row → ${((text * textPerS) / 1e9).toFixed(0)} GFLOP/s, image ${(image / 1e9).toFixed(1)} GFLOP/row → ${((image * imagePerS) / 1e9).toFixed(0)} GFLOP/s`;
  };
  console.log(`arithmetic: ours ${rate(true, ours.textPerS, ours.imagePerS)}; pytorch ${rate(false, torch.textPerS, torch.imagePerS)}`);
}

/** Ours in a child process (its own peak RSS) with `dtype`. */
function runOursChild(dtype: string, attention?: AttentionKernel): Run | string {
  const args = ['--import', 'tsx', process.argv[1]!, '--ours-only', '--dtype', dtype, '--threads', String(THREADS), '--iters', String(ITERS),
    ...(attention ? ['--attention', attention] : []),
    ...(NO_ARENA ? ['--no-arena'] : []), ...(KEEP_WEIGHTS ? ['--keep-weights'] : []),
    ...(MIX.size > 0 ? ['--mix', MIX_ARG] : [])];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) return `ours ${dtype} failed (${r.status}): ${r.stderr.slice(-500)}`;
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Run;
}

/** Smallest cosine over the rows of two [rows, D] embedding lists (unit vectors: the dot product). */
function minCos(a: number[] | undefined, b: number[] | undefined, d: number): number {
  if (!a || !b || a.length !== b.length) return NaN;
  let worst = 1;
  for (let r = 0; r < a.length / d; r++) {
    let dot = 0;
    for (let i = r * d; i < (r + 1) * d; i++) dot += a[i]! * b[i]!;
    worst = Math.min(worst, dot);
  }
  return worst;
}

/** min / mean cosine of rows [r0, r1) of two [rows, D] embedding lists (unit vectors), as 'min / mean'. */
function cosRows(a: number[] | undefined, b: number[] | undefined, d: number, r0: number, r1: number): string {
  if (!a || !b || a.length !== b.length) return '—';
  const cos = Array.from({ length: r1 - r0 }, (_, i) => a.slice((r0 + i) * d, (r0 + i + 1) * d).reduce((s, v, j) => s + v * b[(r0 + i) * d + j]!, 0));
  return `${Math.min(...cos).toFixed(4)} / ${(cos.reduce((x, y) => x + y, 0) / cos.length).toFixed(4)}`;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** --dtype int8|q4|q4-128: the four variants alternating, each in its own process; medians over rounds. */
async function compareQuantized(): Promise<void> {
  const rounds = arg('--rounds', 2);
  const variants: [string, () => Run | string][] = [
    ['ours float32', () => runOursChild('float32')],
    ...DTYPES.map((d): [string, () => Run | string] => [`ours ${d}`, () => runOursChild(d)]),
    ['pytorch fp32', () => runTorch(false)],
    ['pytorch dynamic int8', () => runTorch(true)],
  ];
  const runs = new Map<string, Run[]>(variants.map(([name]) => [name, []]));
  const failed = new Map<string, string>();
  for (let round = 0; round < rounds; round++) {
    for (const [name, run] of variants) {
      if (failed.has(name)) continue;
      const r = run();
      if (typeof r === 'string') failed.set(name, r);
      else runs.get(name)!.push(r);
      console.error(`round ${round + 1}/${rounds}: ${name} ${typeof r === 'string' ? r
        : `text ${f(r.textPerS)}, image ${f(r.imagePerS)} emb/s, peak ${r.peakRssMb.toFixed(0)} MB, load ${f(r.loadS ?? NaN)} s`}`);
    }
  }
  const D = 1536;
  console.log(`Qwen2-VL 2B widths, 4 LM + 4 vision layers, random weights, ${THREADS} threads, median of ${ITERS} per run, median over ${rounds} alternating rounds`);
  console.log(`text batch ${TEXT_B}×${TEXT_L} tokens; image batch ${IMG_B}× (448×448 image = 256 tokens + ${IMG_TEXT} text); each variant in its own process`);
  if (MIX.size > 0) console.log(`quantized variants mixed: ${MIX_ARG}`);
  console.log('| variant | text emb/s | image emb/s | peak RSS MB | load s | held weights MB | min cos to its fp32 | cos text rows min / mean | cos image rows min / mean |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const [name] of variants) {
    const rs = runs.get(name)!;
    if (rs.length === 0) {
      console.log(`| ${name} | ${failed.get(name) ?? 'no run'} |||||| `);
      continue;
    }
    const ref = name.startsWith('ours') ? runs.get('ours float32')![0] : runs.get('pytorch fp32')![0];
    const cos = name.endsWith('fp32') || name.endsWith('float32') ? '—' : minCos(rs[0]!.embeddings, ref?.embeddings, D).toFixed(5);
    const m = (k: keyof Run) => median(rs.map((r) => r[k] as number));
    const split = cos === '—' ? '— | —' : `${cosRows(rs[0]!.embeddings, ref?.embeddings, D, 0, TEXT_B)} | ${cosRows(rs[0]!.embeddings, ref?.embeddings, D, TEXT_B, TEXT_B + IMG_B)}`;
    console.log(`| ${name} | ${f(m('textPerS'))} | ${f(m('imagePerS'))} | ${m('peakRssMb').toFixed(0)} | ${f(m('loadS'))} | ${rs[0]!.weightMb === undefined ? '—' : rs[0]!.weightMb.toFixed(0)} | ${cos} | ${split} |`);
  }
  const o = runs.get('ours float32')!;
  for (const d of DTYPES) {
    const q = runs.get(`ours ${d}`)!;
    if (!q.length || !o.length) continue;
    const r = (k: 'textPerS' | 'imagePerS') => median(q.map((x) => x[k])) / median(o.map((x) => x[k]));
    console.log(`ours ${d} / ours float32: text ${f(r('textPerS'))}×, image ${f(r('imagePerS'))}×, held weights ${f(q[0]!.weightMb! / o[0]!.weightMb!)}×, ` +
      `peak RSS ${f(median(q.map((x) => x.peakRssMb)) / median(o.map((x) => x.peakRssMb)))}×`);
    const ti = runs.get('pytorch dynamic int8')!;
    if (ti.length) {
      const t = (k: 'textPerS' | 'imagePerS') => median(q.map((x) => x[k])) / median(ti.map((x) => x[k]));
      console.log(`ours ${d} / pytorch dynamic int8: text ${f(t('textPerS'))}×, image ${f(t('imagePerS'))}×`);
    }
  }
  const tf = runs.get('pytorch fp32')!;
  if (o.length && tf.length) console.log(`ours float32 / pytorch fp32: text ${f(median(o.map((x) => x.textPerS)) / median(tf.map((x) => x.textPerS)))}×, ` +
    `image ${f(median(o.map((x) => x.imagePerS)) / median(tf.map((x) => x.imagePerS)))}×`);
}

/** --attention fused,composed: ours with each kernel choice, alternating in child processes; medians over rounds. */
async function compareAttention(): Promise<void> {
  const rounds = arg('--rounds', 3);
  const runs = new Map<AttentionKernel, Run[]>(ATTENTION.map((a) => [a, []]));
  const loads: number[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const a of ATTENTION) {
      loads.push(loadavg()[0]!);
      const r = runOursChild(DTYPE, a);
      if (typeof r === 'string') throw new Error(r);
      runs.get(a)!.push(r);
      console.error(`round ${round + 1}/${rounds}: ${a} text ${f(r.textPerS)}, image ${f(r.imagePerS)} emb/s, CPU ${r.textCpuMs!.toFixed(0)} / ${r.imageCpuMs!.toFixed(0)} ms, peak ${r.peakRssMb.toFixed(0)} MB (load ${loadavg()[0]!.toFixed(2)})`);
    }
  }
  console.log(`Qwen2-VL 2B widths, 4 LM + 4 vision layers, ours ${DTYPE}, ${THREADS} threads, median of ${ITERS} per run, median over ${rounds} alternating rounds;` +
    ` 1-min load average at the runs' starts ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}`);
  console.log('| attention | text emb/s | image emb/s | CPU ms per text batch | CPU ms per image batch | peak RSS MB |');
  console.log('|---|---|---|---|---|---|');
  for (const a of ATTENTION) {
    const rs = runs.get(a)!;
    const m = (k: keyof Run) => median(rs.map((r) => r[k] as number));
    console.log(`| ${a} | ${f(m('textPerS'))} | ${f(m('imagePerS'))} | ${m('textCpuMs').toFixed(0)} | ${m('imageCpuMs').toFixed(0)} | ${m('peakRssMb').toFixed(0)} |`);
  }
  const [a, b] = [runs.get(ATTENTION[0]!)![0]!.embeddings!, runs.get(ATTENTION[1]!)![0]!.embeddings!];
  let maxDiff = 0;
  for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
  const r = (k: 'textPerS' | 'imagePerS' | 'peakRssMb' | 'textCpuMs' | 'imageCpuMs') => median(runs.get(ATTENTION[0]!)!.map((x) => x[k] ?? NaN)) / median(runs.get(ATTENTION[1]!)!.map((x) => x[k] ?? NaN));
  console.log(`${ATTENTION[0]} / ${ATTENTION[1]}: text ${f(r('textPerS'))}× speed, image ${f(r('imagePerS'))}×; CPU time text ${f(r('textCpuMs'))}×, image ${f(r('imageCpuMs'))}×; ` +
    `peak RSS ${f(r('peakRssMb'))}×; embeddings max|Δ| ${maxDiff.toExponential(2)}`);
}
