// Placeholder expansion of Qwen2VLProcessor: each `<|image_pad|>` (resp. `<|video_pad|>`) in the
// prompt becomes grid_t·grid_h·grid_w / merge² copies of itself, consuming grids in order.

import { Vlm2VecError } from '../../errors.ts';

export const IMAGE_PAD = '<|image_pad|>';
export const VIDEO_PAD = '<|video_pad|>';

function expandOne(text: string, token: string, grids: readonly (readonly number[])[], mergeSize: number, what: string): string {
  const pieces = text.split(token);
  const count = pieces.length - 1;
  if (count !== grids.length) {
    throw new Vlm2VecError('processor', `prompt has ${count} ${token} placeholder(s) but ${grids.length} ${what} grid(s) were given`);
  }
  let out = pieces[0]!;
  for (let i = 0; i < count; i++) {
    const g = grids[i]!;
    const n = g.reduce((a, b) => a * b, 1);
    const merge = mergeSize * mergeSize;
    if (g.length !== 3 || n % merge !== 0) {
      throw new Vlm2VecError('processor', `${what} grid ${i} [${g.join(', ')}] is not a (t, h, w) whose product is divisible by ${merge}`);
    }
    out += token.repeat(n / merge) + pieces[i + 1]!;
  }
  return out;
}

/**
 * Expands image/video placeholders to one token per merged patch, in order across the prompt.
 *
 * @example
 * expandPlaceholders('<|image_pad|> Represent the image', { imageGrids: [[1, 4, 4]] })
 * // → '<|image_pad|><|image_pad|><|image_pad|><|image_pad|> Represent the image'
 */
export function expandPlaceholders(
  text: string,
  grids: { imageGrids?: readonly (readonly number[])[]; videoGrids?: readonly (readonly number[])[]; mergeSize?: number },
): string {
  const m = grids.mergeSize ?? 2;
  let out = expandOne(text, IMAGE_PAD, grids.imageGrids ?? [], m, 'image');
  // Videos are expanded after images; image tokens never contain the video token, so order holds.
  out = expandOne(out, VIDEO_PAD, grids.videoGrids ?? [], m, 'video');
  return out;
}
