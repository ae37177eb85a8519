// Candidate pool of a task (docs/mmeb.md §6.1): the queries' own
// candidates in query order, then the corpus; the first occurrence of each key wins, so a key is
// embedded once, from the input of its first occurrence (the reference's `cand_name → vector` map).

import type { Candidate, LoadedTask } from '../tasks/types.ts';

/**
 * Build the deduplicated candidate pool of a loaded task. For global tasks its order is the
 * ranking order of ties and the column order of Q·Cᵀ; for local tasks it is the set of vectors
 * to embed (each query still ranks its own list, duplicates kept).
 *
 * @example
 * const pool = buildCandidatePool(loaded);
 * pool.map((c) => c.key); // ['cat', 'dog', ...] first-seen order
 */
export function buildCandidatePool(loaded: LoadedTask): Candidate[] {
  const seen = new Map<string, Candidate>();
  for (const q of loaded.queries) {
    for (const c of q.candidates) if (!seen.has(c.key)) seen.set(c.key, c);
  }
  for (const c of loaded.corpus) if (!seen.has(c.key)) seen.set(c.key, c);
  return [...seen.values()];
}
