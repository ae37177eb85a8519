// Typed-array helpers shared by the model, the processor and the embedder.

/**
 * The parts one after another in a new Float32Array (always a copy, even of a single part).
 *
 * @example
 * concatFloat32([new Float32Array([1, 2]), new Float32Array([3])]); // → Float32Array [1, 2, 3]
 */
export function concatFloat32(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
