// M-RoPE position ids vs the reference: transformers 4.52's get_rope_index (what VLM2Vec / GME
// ran; ported in tools/reference/model_qwen2vl.py) and transformers 5.18's own get_rope_index,
// which agrees for images and differs for a video whose grid_t exceeds its merged sides.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { GridThw } from './rope.ts';
import { goldenArray, goldenCase } from './fixtures.test-helper.ts';
import { ropeIndex, rowPositions, type RopeIndexRow } from './rope-index.ts';

const TOK = { imageTokenId: 151655, videoTokenId: 151656, visionStartTokenId: 151652 };

function rowsOf(name: string): { rows: RopeIndexRow[]; mask: BigInt64Array; shape: [number, number] } {
  const c = goldenCase(name);
  const ids = goldenArray(c, 'input_ids')!;
  const mask = goldenArray(c, 'attention_mask')!.data as BigInt64Array;
  const [b, l] = ids.shape as [number, number];
  const grid = (key: string): GridThw[] => {
    const a = goldenArray(c, key);
    if (!a) return [];
    const d = Array.from(a.data as BigInt64Array, Number);
    return Array.from({ length: a.shape[0]! }, (_, i) => [d[3 * i]!, d[3 * i + 1]!, d[3 * i + 2]!] as const);
  };
  const img = grid('image_grid_thw');
  const vid = grid('video_grid_thw');
  const rows = c.items.map((it, r) => {
    const row: number[] = [];
    for (let j = 0; j < l; j++) if (mask[r * l + j] === 1n) row.push(Number((ids.data as BigInt64Array)[r * l + j]));
    return { ids: row, imageGrids: img.splice(0, it.images?.length ?? 0), videoGrids: vid.splice(0, it.video ? 1 : 0) };
  });
  assert.equal(rows.length, b);
  return { rows, mask, shape: [b, l] };
}

test('GME batch (image row, video+image row, text row, left padded) = transformers 4.x get_rope_index', () => {
  const { rows, mask, shape } = rowsOf('a_gme');
  const got = ropeIndex(rows, mask, shape, TOK, 2);
  const want = goldenArray(goldenCase('a_gme'), 'position_ids')!.data as BigInt64Array;
  assert.deepEqual(Array.from(got), Array.from(want));
});

test('transformers 5.18 get_rope_index agrees on image and text rows, differs after a long video', () => {
  const { rows, mask, shape } = rowsOf('a_gme');
  const [b, l] = shape;
  const got = ropeIndex(rows, mask, shape, TOK, 2);
  const tf5 = goldenArray(goldenCase('a_gme'), 'position_ids_tf5')!.data as BigInt64Array;
  const rowEq = (r: number): boolean => {
    for (let a = 0; a < 3; a++) {
      for (let j = 0; j < l; j++) {
        if (mask[r * l + j] === 1n && got[a * b * l + r * l + j] !== tf5[a * b * l + r * l + j]) return false;
      }
    }
    return true;
  };
  assert.ok(rowEq(0), 'image row');
  assert.ok(rowEq(2), 'text row');
  // Row 1's video grid is [4, 4, 6] → merged t 4 > max(h, w) 3: 4.x continues at +4, 5.x at +3.
  assert.ok(!rowEq(1), 'video row should differ between 4.x and 5.x');
});

test('rows without <|vision_start|> get 1-D positions over their tokens (VLM2Vec prompts)', () => {
  const { rows, mask, shape } = rowsOf('a_mixed_left');
  const got = ropeIndex(rows, mask, shape, TOK, 2);
  const want = goldenArray(goldenCase('a_mixed_left'), 'position_ids')!.data as BigInt64Array; // [B, L] 1-D
  const [b, l] = shape;
  for (let a = 0; a < 3; a++) assert.deepEqual(Array.from(got.subarray(a * b * l, (a + 1) * b * l)), Array.from(want));
});

test('hand example: image block of a 2×2 merged grid, then text', () => {
  const [VS, I, VE] = [151652, 151655, 151653];
  const p = rowPositions({ ids: [7, VS, I, I, I, I, VE, 9], imageGrids: [[1, 4, 4]], videoGrids: [] }, TOK, 2);
  assert.deepEqual(Array.from(p[0]!), [0, 1, 2, 2, 2, 2, 4, 5]);
  assert.deepEqual(Array.from(p[1]!), [0, 1, 2, 2, 3, 3, 4, 5]);
  assert.deepEqual(Array.from(p[2]!), [0, 1, 2, 3, 2, 3, 4, 5]);
  assert.throws(() => rowPositions({ ids: [VS, I, I, VE], imageGrids: [[1, 4, 4]], videoGrids: [] }, TOK, 2), /fewer than 4 placeholder/);
});
