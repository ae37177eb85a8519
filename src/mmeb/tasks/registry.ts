// The MMEB-V2 task registry as typed data: one record per task (78), in the order of the
// published score files (docs/mmeb.md §1.2, §2), plus the named benchmarks
// (mmeb-v2, mmeb-v1) built from it. Version-sensitive tasks (§10) are built from explicit options
// whose defaults equal the current reference HEAD (6e1e1d4).
// Selection by name/modality/group/glob (selectTasks) follows them, with did-you-mean suggestions.

import { Vlm2VecError } from '../../errors.ts';
import { closestName } from '../../util/text.ts';
import type { Modality, MetaTask, TaskDef } from './types.ts';
import { imageTasks } from './registry-image.ts';
import { videoTasks, momentSeeker1k8 } from './registry-video.ts';
import { visdocTasks } from './registry-visdoc.ts';
import { miniTasks } from './registry-mini.ts';

/** Data/version choices that change task definitions (§10). Defaults = reference HEAD. */
export interface RegistryOptions {
  /** `1602`: deduplicated MomentSeeker (v2.0.1+, HEAD); `1800`: the v2.0.0 data. */
  momentSeeker: '1602' | '1800';
  /** `fixed`: `VLM2Vec/*-page-fixed` repos (since 2025-11-03, HEAD); `old`: the v2.0.x repos. */
  pageData: 'fixed' | 'old';
  /** `nonempty`: vidore parser instructions as at HEAD; `empty`: as in v2.0.0/v2.0.1 code. */
  vidoreInstructions: 'nonempty' | 'empty';
}

export const DEFAULT_REGISTRY_OPTIONS: Readonly<RegistryOptions> = Object.freeze({
  momentSeeker: '1602',
  pageData: 'fixed',
  vidoreInstructions: 'nonempty',
});

/** Expected task counts per modality and meta-task; the registry walk test checks these. */
export const META_TASKS: Readonly<Record<Modality, readonly MetaTask[]>> = {
  image: ['CLS', 'QA', 'RET', 'VG'],
  video: ['CLS', 'QA', 'RET', 'MRET'],
  visdoc: ['VDRv1', 'VDRv2', 'VR', 'OOD'],
};

export const MODALITIES: readonly Modality[] = ['image', 'video', 'visdoc'];

/**
 * Build the 78 MMEB-V2 task records for the given version options.
 * Throws when two records share a name (a registry bug, caught at import time).
 *
 * @example
 * const v200 = buildRegistry({ momentSeeker: '1800', pageData: 'old', vidoreInstructions: 'empty' });
 * v200.find((t) => t.name === 'MomentSeeker')?.numQueries; // 1800
 */
export function buildRegistry(options: Partial<RegistryOptions> = {}): readonly TaskDef[] {
  const opts: RegistryOptions = { ...DEFAULT_REGISTRY_OPTIONS, ...options };
  const tasks = [...imageTasks(), ...videoTasks(opts), ...visdocTasks(opts)];
  return freezeUnique(tasks, 'MMEB-V2 registry');
}

/** Rejects duplicate names and freezes the records so no caller can mutate shared task data. */
export function freezeUnique(tasks: TaskDef[], what: string): readonly TaskDef[] {
  const seen = new Set<string>();
  for (const t of tasks) {
    if (seen.has(t.name)) throw new Vlm2VecError('mmeb', `${what}: duplicate task name '${t.name}'`);
    seen.add(t.name);
    Object.freeze(t.source);
    if (t.source.configs) Object.freeze(t.source.configs);
    if (t.params) Object.freeze(t.params);
    Object.freeze(t);
  }
  return Object.freeze(tasks);
}

/** The 78 MMEB-V2 tasks with the default (reference HEAD) version options. */
export const TASKS: readonly TaskDef[] = buildRegistry();

/**
 * Tasks outside the 78 that a user may still select by exact name (§1.2): `MomentSeeker_1k8`,
 * the pre-dedup MomentSeeker stored in the v2.0.1/v2.1 score files but never averaged.
 */
export const EXTRA_TASKS: readonly TaskDef[] = freezeUnique([momentSeeker1k8()], 'extra tasks');

export type BenchmarkName = 'mmeb-v2' | 'mmeb-v1' | 'mini';

/** The benchmarks with published scores (leaderboard, report baselines, `data pull`). */
export type PublishedBenchmarkName = 'mmeb-v2' | 'mmeb-v1';

/** The `mini` benchmark's tasks (registry-mini.ts): not part of MMEB, built from open data. */
export const MINI_TASKS: readonly TaskDef[] = freezeUnique(miniTasks(), 'mini benchmark');

/** A benchmark is a named, ordered task list. */
export interface Benchmark {
  name: BenchmarkName;
  description: string;
  tasks: readonly TaskDef[];
}

/**
 * Build both benchmarks for a set of version options.
 * mmeb-v1 is the 36 image tasks (with their IND/OOD split). They are evaluated with the V2
 * harness data (`ziyjiang/MMEB_Test_Instruct`), which is how the published V1-style figures of
 * §13 are computed. The legacy `TIGER-Lab/MMEB-eval` harness (§11: its own data, argmax
 * scoring) lives apart in src/mmeb/legacy-v1/ (`vlm2vec eval-v1`). `mini` is the small benchmark
 * built from open data (docs/open-data.md); the version options do not apply to it.
 */
export function buildBenchmarks(tasks: readonly TaskDef[] = TASKS): Readonly<Record<BenchmarkName, Benchmark>> {
  return Object.freeze({
    'mmeb-v2': { name: 'mmeb-v2', description: 'MMEB-V2: 78 tasks (36 image, 18 video, 24 visdoc)', tasks },
    'mmeb-v1': {
      name: 'mmeb-v1',
      description: 'MMEB (V1): 36 image datasets (20 IND, 16 OOD)',
      tasks: Object.freeze(tasks.filter((t) => t.v1 !== undefined)),
    },
    mini: { name: 'mini', description: 'mini: 9 small tasks in MMEB formats from open data (docs/open-data.md)', tasks: MINI_TASKS },
  });
}

export const BENCHMARKS: Readonly<Record<BenchmarkName, Benchmark>> = buildBenchmarks();

export function isBenchmarkName(name: string): name is BenchmarkName {
  return name === 'mmeb-v2' || name === 'mmeb-v1' || name === 'mini';
}

/** A benchmark with published scores; `mini` has none. */
export function isPublishedBenchmark(name: string): name is PublishedBenchmarkName {
  return name === 'mmeb-v2' || name === 'mmeb-v1';
}

/** Resolve a benchmark by name, with a clear error for unknown names. */
export function getBenchmark(name: string): Benchmark {
  if (!isBenchmarkName(name)) {
    throw new Vlm2VecError('mmeb', `unknown benchmark '${name}': expected one of ${Object.keys(BENCHMARKS).join(', ')}`);
  }
  return BENCHMARKS[name];
}

/**
 * Look a task up by exact name among the 78 and the extra tasks.
 *
 * @example
 * getTask('MSCOCO_t2i').evalType; // 'local'
 * getTask('MSCOCO_t2');           // throws "[mmeb] unknown task 'MSCOCO_t2': did you mean MSCOCO_t2i?"
 */
export function getTask(name: string, tasks: readonly TaskDef[] = TASKS): TaskDef {
  const t = tasks.find((x) => x.name === name) ?? EXTRA_TASKS.find((x) => x.name === name);
  if (t) return t;
  throw new Vlm2VecError('mmeb', unknownTaskMessage(name, [...tasks, ...EXTRA_TASKS].map((x) => x.name)));
}

/** `unknown task 'X': did you mean Y?` (or without suggestion when nothing is close). */
export function unknownTaskMessage(name: string, candidates: readonly string[]): string {
  const best = closestName(name, candidates);
  return best ? `unknown task '${name}': did you mean ${best}?` : `unknown task '${name}'`;
}

const GROUP_RE = /^(image|video|visdoc|v1)\/([A-Za-z0-9]+)$/i;

/**
 * Select tasks of a benchmark. Each spec (comma-separated lists are split) is one of:
 * a task name (`MSCOCO_t2i`; case-insensitive fallback), a modality (`video`), a group
 * `modality/META` (`video/MRET`, `image/VG`, `visdoc/OOD`) or `v1/IND` / `v1/OOD`, a glob
 * (`ViDoRe_*`, `MSCOCO_?2?`), or `all`. Extra tasks (MomentSeeker_1k8) are accepted by exact name
 * for mmeb-v2. The result keeps the benchmark's order, without duplicates; no specs = all tasks.
 *
 * @example
 * selectTasks('mmeb-v2', ['video/MRET']).map((t) => t.name); // ['QVHighlight', 'Charades-STA', 'MomentSeeker']
 * selectTasks('mmeb-v2', ['MSCOCO_t2']); // throws "[mmeb] unknown task 'MSCOCO_t2': did you mean MSCOCO_t2i?"
 */
export function selectTasks(benchmark: BenchmarkName | Benchmark, specs: readonly string[] = []): TaskDef[] {
  const bench = typeof benchmark === 'string' ? getBenchmark(benchmark) : benchmark;
  const pool = bench.tasks;
  const extras = bench.name === 'mmeb-v2' ? EXTRA_TASKS : [];
  const parts = specs.flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s.length > 0);
  if (parts.length === 0) return [...pool];
  const chosen = new Set<string>();
  for (const spec of parts) {
    for (const t of matchSpec(spec, bench, extras)) chosen.add(t.name);
  }
  return [...pool, ...extras].filter((t) => chosen.has(t.name));
}

function matchSpec(spec: string, bench: Benchmark, extras: readonly TaskDef[]): readonly TaskDef[] {
  const pool = bench.tasks;
  const lower = spec.toLowerCase();
  if (lower === 'all') return pool;
  const exact = pool.find((t) => t.name === spec) ?? extras.find((t) => t.name === spec);
  if (exact) return [exact];
  if (lower === 'image' || lower === 'video' || lower === 'visdoc') {
    const hit = pool.filter((t) => t.modality === lower);
    if (hit.length === 0) throw new Vlm2VecError('mmeb', `modality '${spec}' has no task in benchmark ${bench.name}`);
    return hit;
  }
  const g = GROUP_RE.exec(spec);
  if (g) return matchGroup(spec, (g[1] ?? '').toLowerCase(), (g[2] ?? '').toUpperCase(), bench);
  if (/[*?]/.test(spec)) {
    const re = globToRegExp(spec);
    const hit = [...pool, ...extras].filter((t) => re.test(t.name));
    if (hit.length === 0) throw new Vlm2VecError('mmeb', `pattern '${spec}' matches no task of benchmark ${bench.name}`);
    return hit;
  }
  const ci = pool.find((t) => t.name.toLowerCase() === lower);
  if (ci) return [ci];
  const elsewhere = TASKS.find((t) => t.name.toLowerCase() === lower);
  if (elsewhere) throw new Vlm2VecError('mmeb', `task '${elsewhere.name}' is not part of benchmark ${bench.name}`);
  throw new Vlm2VecError('mmeb', unknownTaskMessage(spec, [...pool, ...extras].map((t) => t.name)));
}

function matchGroup(spec: string, modality: string, meta: string, bench: Benchmark): readonly TaskDef[] {
  const pool = bench.tasks;
  let hit: TaskDef[];
  let valid: string[];
  if (modality === 'v1') {
    valid = ['v1/IND', 'v1/OOD', 'v1/overall'];
    hit = pool.filter((t) => t.v1 !== undefined && (meta === 'OVERALL' || t.v1 === meta));
  } else {
    const metas = META_TASKS[modality as Modality];
    valid = metas.map((m) => `${modality}/${m}`);
    const m = metas.find((x) => x.toUpperCase() === meta);
    hit = m === undefined ? [] : pool.filter((t) => t.modality === modality && t.meta === m);
  }
  if (hit.length > 0) return hit;
  const best = closestName(spec, valid);
  throw new Vlm2VecError('mmeb', `unknown group '${spec}' in benchmark ${bench.name}${best ? `: did you mean ${best}?` : ` (groups: ${valid.join(', ')})`}`);
}

/** `*` = any run of characters, `?` = one character; everything else literal, case-insensitive. */
export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'i');
}
