// V1 paper aggregates over the legacy harness's per-subset accuracies (docs/mmeb.md §8.2): the four
// meta-tasks (Classification 10, VQA 10, Retrieval 12, Grounding 4), IND (20), OOD (16) and
// Overall (36), each the unweighted mean of its datasets' acc, ×100. Overall is the mean over
// datasets, not over the meta-task means. A group missing datasets is still averaged over those
// present and flagged partial, so a half-finished run is never mistaken for a full one.

import { join } from 'node:path';
import { BENCHMARKS } from '../tasks/registry.ts';
import { writeFileAtomic } from '../../util/fs.ts';
import { readV1Score } from './run.ts';

/** Group names in display order. */
export const V1_GROUPS = ['Classification', 'VQA', 'Retrieval', 'Grounding', 'IND', 'OOD', 'Overall'] as const;
export type V1Group = (typeof V1_GROUPS)[number];

const META_GROUP: Record<string, V1Group> = { CLS: 'Classification', QA: 'VQA', RET: 'Retrieval', VG: 'Grounding' };

/** Which groups each of the 36 datasets belongs to. */
function groupsOf(): Map<string, V1Group[]> {
  const m = new Map<string, V1Group[]>();
  for (const t of BENCHMARKS['mmeb-v1'].tasks) m.set(t.name, [META_GROUP[t.meta]!, t.v1!, 'Overall']);
  return m;
}

export interface V1Summary {
  model: string;
  /** Group → mean acc ×100 over the datasets present. */
  scores: Partial<Record<V1Group, number>>;
  /** Groups with datasets missing: how many are present out of how many. */
  partial: Partial<Record<V1Group, { n: number; expected: number }>>;
  /** Subset → acc ×100, every finished subset (the 36 and any other). */
  subsets: Record<string, number>;
}

/**
 * Aggregate per-subset accuracies (0–1) into the V1 paper's groups.
 *
 * @example
 * summarizeV1('m', { 'ImageNet-1K': 0.5, 'MSCOCO': 1 }).scores.Overall; // 75
 */
export function summarizeV1(model: string, accs: Readonly<Record<string, number>>): V1Summary {
  const member = groupsOf();
  const sums = new Map<V1Group, { sum: number; n: number; expected: number }>();
  for (const g of V1_GROUPS) sums.set(g, { sum: 0, n: 0, expected: 0 });
  for (const gs of member.values()) for (const g of gs) sums.get(g)!.expected++;
  for (const [name, acc] of Object.entries(accs)) {
    for (const g of member.get(name) ?? []) {
      const s = sums.get(g)!;
      s.sum += acc;
      s.n++;
    }
  }
  const out: V1Summary = { model, scores: {}, partial: {}, subsets: {} };
  for (const [g, s] of sums) {
    if (s.n === 0) continue;
    out.scores[g] = (s.sum / s.n) * 100;
    if (s.n < s.expected) out.partial[g] = { n: s.n, expected: s.expected };
  }
  for (const [name, acc] of Object.entries(accs)) out.subsets[name] = acc * 100;
  return out;
}

/**
 * Summarize every finished subset in `outDir` (the 36 plus `extra` names, e.g. this run's other
 * subsets) and write `OUT/summary-v1.json` atomically.
 *
 * @example
 * const { summary, file } = await writeV1Summary('runs/v1', 'vlm2vec:VLM2Vec-Qwen2VL-2B');
 */
export async function writeV1Summary(outDir: string, model: string, extra: readonly string[] = []): Promise<{ summary: V1Summary; file: string }> {
  const accs: Record<string, number> = {};
  for (const name of new Set([...groupsOf().keys(), ...extra])) {
    const s = readV1Score(outDir, name);
    if (s) accs[name] = s.acc;
  }
  const summary = summarizeV1(model, accs);
  const file = join(outDir, 'summary-v1.json');
  await writeFileAtomic(file, `${JSON.stringify(summary, null, 2)}\n`);
  return { summary, file };
}
