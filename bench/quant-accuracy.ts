// `npm run bench:quant-accuracy` (node --import tsx bench/quant-accuracy.ts [--model DIR] [--data DIR]):
// how far --dtype int8 | q4 | q4-128 moves embeddings and rankings from float32, on retrieval
// tasks. Defaults: the tiny random model test/fixtures/model/tiny-a on the MMEB fixture tasks of
// test/fixtures/mmeb/data (copied to a temp folder: visdoc loaders write page images). Every item
// (queries and candidates) is embedded under each dtype by LocalEmbedder; each query ranks its
// candidates (the task's local list, or the whole pool for global tasks) by dot product, as the
// harness does. Reported per dtype against float32:
//   cos        min and mean cosine of each item's embedding to its float32 embedding;
//   top-1      share of queries whose first-ranked candidate is float32's;
//   nDCG@10    nDCG@10 of the quantized ranking, taking float32's top 10 as graded relevance
//              (10 for its first, 9 for its second, …): 1.000 = the same top 10 in the same order;
//   hit@1      the task metric against the gold labels, for float32 and the dtype.
// What a random-weight model does and does not tell: docs/quantization.md.

import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalEmbedder } from '../src/embed/local.ts';
import { loadTask } from '../src/mmeb/load/index.ts';
import { buildCandidatePool } from '../src/mmeb/load/pool.ts';
import { getTask } from '../src/mmeb/tasks/registry.ts';
import type { WeightDtype } from '../src/models/common/float16.ts';
import { configureRuntime } from '../src/tensor/index.ts';

const argOf = (name: string): string | undefined => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const ROOT = join(import.meta.dirname, '..');
const MODEL = argOf('--model') ?? join(ROOT, 'test', 'fixtures', 'model', 'tiny-a');
const DATA_SRC = argOf('--data') ?? join(ROOT, 'test', 'fixtures', 'mmeb', 'data');
// The fixture's image, video and visdoc tasks that load without ffmpeg (test/fixtures/mmeb/README.md).
const TASKS = (argOf('--tasks') ?? 'ImageNet-1K,OK-VQA,MSCOCO_i2t,VisDial,WebQA,CIRR,RefCOCO-Matching,SmthSmthV2,QVHighlight,MomentSeeker,Video-MME,NExTQA,EgoSchema,MVBench,ViDoRe_arxivqa,ViDoRe_docvqa').split(',');
const DTYPES: WeightDtype[] = ['int8', 'q4', 'q4-128'];

configureRuntime({ threads: 1 });
const data = mkdtempSync(join(tmpdir(), 'vlm2vec-quant-acc-'));
cpSync(DATA_SRC, data, { recursive: true });

interface Query { cands: number[]; gold: Set<string> }
const items: Parameters<LocalEmbedder['embed']>[0][number][] = [];
const keys: string[] = [];
const queries: { task: string; q: number; cands: number[]; gold: Set<string> }[] = [];
const used: string[] = [];
for (const name of TASKS) {
  try {
    const loaded = await loadTask(getTask(name), { dataDir: data, onWarning: () => undefined });
    const pool = buildCandidatePool(loaded);
    const base = items.length;
    pool.forEach((c) => {
      items.push(c.item);
      keys.push(c.key);
    });
    const index = new Map(pool.map((c, i) => [c.key, base + i]));
    for (const row of loaded.queries) {
      const q = items.length;
      items.push(row.item);
      keys.push('');
      const local = loaded.task.evalType === 'local';
      const cands = (local ? row.candidates.map((c) => c.key) : pool.map((c) => c.key)).map((k) => index.get(k)!);
      queries.push({ task: name, q, cands, gold: new Set(row.label) } satisfies Query & { task: string; q: number });
    }
    used.push(name);
  } catch (e) {
    console.error(`skipped ${name}: ${(e as Error).message.slice(0, 160)}`);
  }
}

async function embedAll(dtype: WeightDtype): Promise<Float32Array[]> {
  const emb = await LocalEmbedder.load(MODEL, { dtype });
  try {
    const out: Float32Array[] = [];
    for (let i = 0; i < items.length; i += 8) out.push(...(await emb.embed(items.slice(i, i + 8))));
    return out;
  } finally {
    await emb.close();
  }
}

const dot = (a: Float32Array, b: Float32Array): number => a.reduce((s, v, i) => s + v * b[i]!, 0);
const rank = (e: Float32Array[], q: { q: number; cands: number[] }): number[] =>
  [...q.cands].sort((a, b) => dot(e[q.q]!, e[b]!) - dot(e[q.q]!, e[a]!) || a - b);

function ndcgAt10(got: number[], ref: number[]): number {
  const rel = new Map(ref.slice(0, 10).map((c, i) => [c, 10 - i]));
  const dcg = (list: number[]) => list.slice(0, 10).reduce((s, c, i) => s + (rel.get(c) ?? 0) / Math.log2(i + 2), 0);
  return dcg(got) / dcg(ref);
}

const f32 = await embedAll('float32');
const hit1 = (e: Float32Array[]) => queries.filter((q) => q.gold.has(keys[rank(e, q)[0]!]!)).length / queries.length;
console.log(`model ${MODEL}; ${used.length} tasks (${used.join(', ')}), ${queries.length} queries, ${items.length} embedded items`);
// How separated float32's rankings are: near-ties flip under any perturbation (docs/quantization.md).
const gaps = queries.filter((q) => q.cands.length > 1).map((q) => {
  const r = rank(f32, q);
  return dot(f32[q.q]!, f32[r[0]!]!) - dot(f32[q.q]!, f32[r[1]!]!);
}).sort((a, b) => a - b);
console.log(`float32 score gap between a query's first and second candidate: median ${gaps[gaps.length >> 1]!.toFixed(4)}, ` +
  `smallest ${gaps[0]!.toExponential(1)}; ${gaps.filter((g) => g < 1e-6).length} of ${gaps.length} queries have a tie (identical candidates) at the top`);
console.log('| dtype | min cos | mean cos | top-1 agreement | nDCG@10 vs float32 | hit@1 (float32 → dtype) |');
console.log('|---|---|---|---|---|---|');
for (const dtype of DTYPES) {
  const e = await embedAll(dtype);
  const cos = e.map((v, i) => dot(v, f32[i]!));
  const top1 = queries.filter((q) => rank(e, q)[0] === rank(f32, q)[0]).length / queries.length;
  const ndcg = queries.reduce((s, q) => s + ndcgAt10(rank(e, q), rank(f32, q)), 0) / queries.length;
  console.log(`| ${dtype} | ${Math.min(...cos).toFixed(4)} | ${(cos.reduce((a, b) => a + b, 0) / cos.length).toFixed(4)} | ${top1.toFixed(3)} | ${ndcg.toFixed(3)} | ${hit1(f32).toFixed(3)} → ${hit1(e).toFixed(3)} |`);
}
rmSync(data, { recursive: true, force: true });
