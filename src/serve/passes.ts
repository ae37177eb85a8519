// How the server's model thread splits a batch into forward passes: by rows and by padded
// tokens, so one batch of long items (many image patches) does not build one huge activation.

/**
 * Rows of length-sorted items split into forward passes of at most `rows` rows and `tokens`
 * padded tokens (rows × the longest row); a row longer than the budget goes alone.
 *
 * @example passes([2, 3, 5, 9], 8, 12) // [[0, 1], [2], [3]]: 3 rows × 5 = 15 > 12 tokens
 */
export function passes(lengths: readonly number[], rows: number, tokens: number): number[][] {
  const out: number[][] = [];
  let cur: number[] = [];
  lengths.forEach((len, i) => {
    if (cur.length > 0 && (cur.length >= rows || (cur.length + 1) * len > tokens)) {
      out.push(cur);
      cur = [];
    }
    cur.push(i);
  });
  if (cur.length > 0) out.push(cur);
  return out;
}
