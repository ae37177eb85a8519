// The in-memory image every part of the pipeline passes around: 8-bit RGB, interleaved, row-major.
// It is what Pillow's `np.array(img.convert("RGB"))` holds, so golden comparisons are byte-for-byte.

/** An 8-bit RGB image: `data[(y * width + x) * 3 + c]`, c = 0 (R), 1 (G), 2 (B). */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  /** [height, width, 3] */
  readonly data: Uint8Array;
}
