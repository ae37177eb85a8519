// String helpers for did-you-mean suggestions: the task registry, the benchmark groups and the
// checkpoint tensor names all suggest the closest valid name for a misspelt one.

/**
 * Levenshtein distance (insert, delete and substitute each cost 1), in O(|b|) memory.
 *
 * @example
 * editDistance('kitten', 'sitting'); // → 3
 */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] as number;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j] as number;
      prev[j] = Math.min(up + 1, (prev[j - 1] as number) + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length] as number;
}

/**
 * The candidate closest to `name` by case-insensitive edit distance (the first one on a tie),
 * if within a third of the name's length (at least 2); else undefined.
 *
 * @example
 * closestName('mscoco_t2', ['MSCOCO_t2i', 'MSCOCO_i2t']); // → 'MSCOCO_t2i'
 */
export function closestName(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  const a = name.toLowerCase();
  for (const c of candidates) {
    const d = editDistance(a, c.toLowerCase());
    if (d < bestD) { bestD = d; best = c; }
  }
  const limit = Math.max(2, Math.ceil(name.length / 3));
  return bestD <= limit ? best : undefined;
}
