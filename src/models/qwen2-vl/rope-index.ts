// Position ids of the language model (docs/vlm2vec.md §2.5), as transformers 4.x's Qwen2-VL computed them
// for VLM2Vec (4.52) and GME-style prompts:
//   - per row, over its real tokens only; pads get position 1 on every axis;
//   - a row without <|vision_start|> gets 1-D positions 0..n-1 on all three axes (every VLM2Vec
//     prompt: its image/video placeholders are NOT treated as a 2-D block);
//   - each <|vision_start|> followed by an image/video placeholder run gets a (t, h, w) block of
//     (grid_t, grid_h/m, grid_w/m) positions offset by the running start; the next text starts at
//     max + 1 (4.x). transformers 5 instead advances by max(h, w)/m, ignoring t: the two differ for
//     videos whose grid_t exceeds both merged sides.
// Grids are taken from the row's own media, in order. (4.x consumed one batch-wide grid list
// only at <|vision_start|> blocks, which misassigns grids when a VLM2Vec-style image row precedes
// a GME row in one batch; per-row grids are what that code meant and agree whenever it worked.)

import { Vlm2VecError } from '../../errors.ts';
import type { GridThw } from './rope.ts';

/** Token ids that drive the algorithm. */
export interface RopeIndexTokens {
  imageTokenId: number;
  videoTokenId: number;
  visionStartTokenId: number;
}

/** One row: its unpadded ids and the grids of its own images and videos (in prompt order). */
export interface RopeIndexRow {
  ids: readonly number[];
  imageGrids: readonly GridThw[];
  videoGrids: readonly GridThw[];
}

/**
 * Positions [3, n] (row-major t, h, w) of one unpadded row.
 *
 * @example
 * // "<vs><img>×4<ve>x" with an image grid [1, 4, 4] (2×2 merged):
 * rowPositions({ ids: [VS, I, I, I, I, VE, 9], imageGrids: [[1, 4, 4]], videoGrids: [] }, tok, 2)
 * // t: [0, 1,1,1,1, 3, 4]  h: [0, 1,1,2,2, 3, 4]  w: [0, 1,2,1,2, 3, 4]
 */
export function rowPositions(row: RopeIndexRow, tok: RopeIndexTokens, mergeSize: number): Int32Array[] {
  const ids = row.ids;
  const n = ids.length;
  const out = [new Int32Array(n), new Int32Array(n), new Int32Array(n)];
  let img = 0;
  let vid = 0;
  let pos = 0; // next text position
  let i = 0;
  const put = (k: number, t: number, h: number, w: number): void => {
    out[0]![k] = t;
    out[1]![k] = h;
    out[2]![k] = w;
  };
  while (i < n) {
    const id = ids[i]!;
    const prevIsStart = i > 0 && ids[i - 1] === tok.visionStartTokenId;
    if (prevIsStart && (id === tok.imageTokenId || id === tok.videoTokenId)) {
      const isImage = id === tok.imageTokenId;
      const grid = isImage ? row.imageGrids[img++] : row.videoGrids[vid++];
      if (grid === undefined) {
        throw new Vlm2VecError('rope_index', `row has more <|vision_start|> ${isImage ? 'image' : 'video'} blocks than ${isImage ? 'image' : 'video'} grids`);
      }
      const [gt, gh0, gw0] = grid;
      const gh = gh0 / mergeSize;
      const gw = gw0 / mergeSize;
      const count = gt * gh * gw;
      for (let k = 0; k < count; k++) {
        if (ids[i + k] !== id) {
          throw new Vlm2VecError('rope_index', `vision block at token ${i} has fewer than ${count} placeholder tokens for grid [${grid.join(', ')}]`);
        }
        const t = Math.floor(k / (gh * gw));
        const r = k % (gh * gw);
        put(i + k, pos + t, pos + Math.floor(r / gw), pos + (r % gw));
      }
      pos += Math.max(gt, gh, gw); // 4.x: next start = max + 1 over the block
      i += count;
      continue;
    }
    // Placeholders outside a <|vision_start|> block are plain 1-D positions (VLM2Vec prompts).
    put(i, pos, pos, pos);
    pos++;
    i++;
  }
  return out;
}

/**
 * Position ids [3, B, L] (int64, row-major) of a padded batch; pads are 1 on every axis.
 *
 * @example
 * const pos = ropeIndex(rows, mask, [2, 7], tok, 2); // BigInt64Array of 3·2·7 positions
 */
export function ropeIndex(
  rows: readonly RopeIndexRow[], attentionMask: BigInt64Array, shape: readonly [number, number], tok: RopeIndexTokens, mergeSize: number,
): BigInt64Array {
  const [b, l] = shape;
  if (rows.length !== b || attentionMask.length !== b * l) {
    throw new Vlm2VecError('rope_index', `${rows.length} rows and a mask of ${attentionMask.length} do not match the batch shape [${b}, ${l}]`);
  }
  const out = new BigInt64Array(3 * b * l).fill(1n);
  rows.forEach((row, r) => {
    const p = rowPositions(row, tok, mergeSize);
    let k = 0;
    for (let j = 0; j < l; j++) {
      if (attentionMask[r * l + j] !== 1n) continue;
      if (k >= row.ids.length) throw new Vlm2VecError('rope_index', `row ${r}: attention mask has more tokens than the row's ${row.ids.length} ids`);
      for (let a = 0; a < 3; a++) out[a * b * l + r * l + j] = BigInt(p[a]![k]!);
      k++;
    }
    if (k !== row.ids.length) throw new Vlm2VecError('rope_index', `row ${r}: attention mask has ${k} tokens, the row has ${row.ids.length} ids`);
  });
  return out;
}
