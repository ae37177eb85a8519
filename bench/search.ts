// Folder-index search speed and recall: N stored unit vectors (seeded; clustered like real
// embeddings: noise of norm ~1 around 1,000 unit centres, so nearest neighbours are not the
// near-ties of isotropic noise) in the LanceDB items table of a vlm2vec index, Q queries through searchIndex (a stand-in embedder returns the query vector, so only
// the database is timed): exact (flat scan) vs the HNSW-SQ index `vlm2vec index` builds from its
// threshold on, with recall@10 of the indexed search against exact. Also the write rate and the
// index build time. Latencies include opening the database, as one `vlm2vec search` does.
// Usage: npm run bench:search -- [--rows N] [--dim D] [--queries Q]   (or positional N D Q; env EF=n:
// HNSW search breadth). Defaults 100,000 × 768, 50 queries. From 500,000 rows the default dim is
// 256: 1M × 256 float32 is 1 GB of vectors (written to a temp folder, scanned per exact query),
// where 1M × 768 would be 3 GB plus the HNSW-SQ graph; give --dim 768 on a machine with the room.
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { rng } from '../src/util/random.ts';
import { maintainVectorIndex } from '../src/search/folder-index.ts';
import { DEFAULT_CANDIDATE_INSTRUCTIONS } from '../src/search/instructions.ts';
import { itemsTable, openIndex, toArrow, writeMeta, type ItemRow } from '../src/search/store.ts';
import { searchIndex } from '../src/search/search.ts';

/** `--name N` or the positional value at `pos` (the older form), else undefined. */
function arg(name: string, pos: number): number | undefined {
  const argv = process.argv.slice(2);
  const i = argv.indexOf(`--${name}`);
  const raw = i >= 0 ? argv[i + 1] : argv.filter((a, j) => !a.startsWith('--') && !argv[j - 1]?.startsWith('--'))[pos];
  if (raw === undefined) return undefined;
  const v = Number(raw.replaceAll('_', ''));
  if (!Number.isInteger(v) || v < 1) throw new Error(`bench:search: --${name} must be a positive integer, got ${raw}`);
  return v;
}
const n = arg('rows', 0) ?? 100_000;
const dim = arg('dim', 1) ?? (n >= 500_000 ? 256 : 768);
const nq = arg('queries', 2) ?? 50;
const r = rng(42);
const gauss = (): number => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
const unit = (v: Float32Array): Float32Array => {
  let s = 0;
  for (const x of v) s += x * x;
  return v.map((x) => x / Math.sqrt(s));
};
const centers = Array.from({ length: 1000 }, () => unit(Float32Array.from({ length: dim }, gauss)));
const point = (): Float32Array => unit(centers[Math.floor(r() * centers.length)]!.map((x) => x + gauss() / Math.sqrt(dim)));

const dir = await mkdtemp(join(tmpdir(), 'vlm2vec-bench-search-'));
try {
  const ix = await openIndex(dir);
  await writeMeta(ix, { modelId: 'bench', modelSpec: 'bench', adapter: null, modelOptions: {}, instructions: { ...DEFAULT_CANDIDATE_INSTRUCTIONS }, numFrames: 8, pdfDpi: 144, maxTextChars: 8000, dim });
  const table = await itemsTable(ix, dim);
  let t = performance.now();
  for (let s = 0; s < n; s += 10_000) {
    const rows: ItemRow[] = Array.from({ length: Math.min(10_000, n - s) }, (_, i) => ({
      id: `f${s + i}.png`, path: `f${s + i}.png`, page: 0, kind: 'image', size: 1, mtime: 0, hash: '', model: 'bench', instruction: '', vector: point(),
    }));
    await table.add((await toArrow(ix, rows, dim)) as never);
  }
  const writeS = (performance.now() - t) / 1000;
  await table.optimize();
  const queries = Array.from({ length: nq }, point);
  let q = queries[0]!;
  const embedder = { id: 'bench', embed: async () => [q] };
  const timeAll = async (exact: boolean): Promise<{ ms: number[]; hits: string[][] }> => {
    const ms: number[] = [];
    const hits: string[][] = [];
    for (q of queries) {
      const t0 = performance.now();
      hits.push((await searchIndex({ db: dir, embedder, text: 'q', topK: 10, exact, ef: process.env['EF'] ? Number(process.env['EF']) : undefined })).map((h) => h.path));
      ms.push(performance.now() - t0);
    }
    return { ms, hits };
  };
  const pct = (ms: number[], p: number): string => [...ms].sort((a, b) => a - b)[Math.min(ms.length - 1, Math.floor(p * ms.length))]!.toFixed(1);
  const exact = await timeAll(true);
  t = performance.now();
  await maintainVectorIndex(table, n, 1, true);
  const buildS = (performance.now() - t) / 1000;
  const ann = await timeAll(false);
  let hit = 0;
  ann.hits.forEach((h, i) => (hit += h.filter((p) => exact.hits[i]!.includes(p)).length));
  console.log(`${n} × ${dim} float32, ${nq} queries, k=10 (load average ${loadavg()[0]!.toFixed(2)})`);
  console.log(`write: ${(n / writeS).toFixed(0)} rows/s; HNSW-SQ build ${buildS.toFixed(1)} s`);
  console.log(`exact:   p50 ${pct(exact.ms, 0.5)} ms, p99 ${pct(exact.ms, 0.99)} ms`);
  console.log(`indexed: p50 ${pct(ann.ms, 0.5)} ms, p99 ${pct(ann.ms, 0.99)} ms, recall@10 ${(hit / (10 * nq)).toFixed(3)}`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
