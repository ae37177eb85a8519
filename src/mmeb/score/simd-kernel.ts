// A WebAssembly SIMD kernel for the scoring matrix S = Q·Cᵀ (float32), assembled here from named
// opcodes (no binary blobs). Why: V8 runs the scalar JS loop at ~1 GFLOP/s; f32x4 lanes with a
// 4-query × 2-candidate register block run several times faster on one core, and
// scoring 1,000 × 10,000 × 1,536 becomes a few seconds instead of half a minute.
//
// Numerics: each lane accumulates every 4th product in float32, then the 4 lanes are summed
// ((l0 + l1) + l2) + l3. The reference's numpy sgemm also accumulates in float32 (in a
// BLAS-specific order), so neither path is bit-identical to it; both are deterministic.
//
// Layout contract: rows are padded to a multiple of 4 floats (16 bytes), Q blocks to a multiple
// of 4 rows and candidate tiles to a multiple of 2 rows (zero padding), pointers 16-byte aligned.

import { OP, SIMD, VOID, assembleModule, get, i32, instantiate, set, simd, uleb, type WasmMemory } from '../../util/wasm-asm.ts';

// Parameters and locals of `scores(q, nq, c, nc, d4, out, ostride)`.
const P = { q: 0, nq: 1, c: 2, nc: 3, d4: 4, out: 5, ostride: 6 } as const;
const L = { i: 7, j: 8, k: 9, rb: 10, q0: 11, q1: 12, q2: 13, q3: 14, c0: 15, c1: 16, o: 17, acc: 18, x0: 26, x1: 27, y: 28 } as const;
const N_I32_LOCALS = 11; // i .. o
const N_V128_LOCALS = 11; // acc0..7, x0, x1, y

function body(): number[] {
  const b: number[] = [];
  const acc = (r: number) => L.acc + r;
  // rb = row bytes = d4 << 4
  b.push(...get(P.d4), ...i32(4), OP.i32_shl, ...set(L.rb));
  b.push(...i32(0), ...set(L.i));
  b.push(OP.block, VOID, OP.loop, VOID); // i loop
  b.push(...get(L.i), ...get(P.nq), OP.i32_ge_u, OP.br_if, 1);
  // q0..q3 = q + (i + r) * rb
  b.push(...get(P.q), ...get(L.i), ...get(L.rb), OP.i32_mul, OP.i32_add, OP.local_tee, L.q0);
  b.push(...get(L.rb), OP.i32_add, OP.local_tee, L.q1, ...get(L.rb), OP.i32_add, OP.local_tee, L.q2);
  b.push(...get(L.rb), OP.i32_add, ...set(L.q3));
  b.push(...i32(0), ...set(L.j));
  b.push(OP.block, VOID, OP.loop, VOID); // j loop
  b.push(...get(L.j), ...get(P.nc), OP.i32_ge_u, OP.br_if, 1);
  b.push(...get(P.c), ...get(L.j), ...get(L.rb), OP.i32_mul, OP.i32_add, OP.local_tee, L.c0, ...get(L.rb), OP.i32_add, ...set(L.c1));
  for (let r = 0; r < 8; r++) b.push(...simd(SIMD.v128_const, ...new Array<number>(16).fill(0)), ...set(acc(r)));
  b.push(...i32(0), ...set(L.k));
  b.push(OP.block, VOID, OP.loop, VOID); // k loop (byte offset within a row)
  b.push(...get(L.k), ...get(L.rb), OP.i32_ge_u, OP.br_if, 1);
  const load = (base: number) => [...get(base), ...get(L.k), OP.i32_add, ...simd(SIMD.v128_load, 4, 0)];
  b.push(...load(L.c0), ...set(L.x0), ...load(L.c1), ...set(L.x1));
  const qs = [L.q0, L.q1, L.q2, L.q3];
  qs.forEach((qb, r) => {
    b.push(...load(qb), ...set(L.y));
    b.push(...get(acc(2 * r)), ...get(L.y), ...get(L.x0), ...simd(SIMD.f32x4_mul), ...simd(SIMD.f32x4_add), ...set(acc(2 * r)));
    b.push(...get(acc(2 * r + 1)), ...get(L.y), ...get(L.x1), ...simd(SIMD.f32x4_mul), ...simd(SIMD.f32x4_add), ...set(acc(2 * r + 1)));
  });
  b.push(...get(L.k), ...i32(16), OP.i32_add, ...set(L.k), OP.br, 0, OP.end, OP.end);
  // o = out + i*ostride + j*4; store the lane sums of the 8 accumulators.
  b.push(...get(P.out), ...get(L.i), ...get(P.ostride), OP.i32_mul, OP.i32_add, ...get(L.j), ...i32(2), OP.i32_shl, OP.i32_add, ...set(L.o));
  for (let r = 0; r < 4; r++) {
    for (let s = 0; s < 2; s++) {
      b.push(...get(L.o));
      const a = acc(2 * r + s);
      b.push(...get(a), ...simd(SIMD.f32x4_extract_lane, 0), ...get(a), ...simd(SIMD.f32x4_extract_lane, 1), OP.f32_add);
      b.push(...get(a), ...simd(SIMD.f32x4_extract_lane, 2), OP.f32_add, ...get(a), ...simd(SIMD.f32x4_extract_lane, 3), OP.f32_add);
      b.push(OP.f32_store, 2, ...uleb(4 * s)); // memarg: align 2^2, offset 4·s bytes
    }
    b.push(...get(L.o), ...get(P.ostride), OP.i32_add, ...set(L.o));
  }
  b.push(...get(L.j), ...i32(2), OP.i32_add, ...set(L.j), OP.br, 0, OP.end, OP.end);
  b.push(...get(L.i), ...i32(4), OP.i32_add, ...set(L.i), OP.br, 0, OP.end, OP.end);
  return b;
}

function moduleBytes(): Uint8Array {
  return assembleModule([{ name: 'scores', params: 7, i32Locals: N_I32_LOCALS, v128Locals: N_V128_LOCALS, code: body() }]);
}

export interface SimdKernel {
  memory: WasmMemory;
  /** S[i, j] for i < nq (multiple of 4), j < nc (multiple of 2); byte pointers; ostride in bytes. */
  scores(q: number, nq: number, c: number, nc: number, d4: number, out: number, ostride: number): void;
}

let cached: SimdKernel | null | undefined;

/** The SIMD kernel, or null where WebAssembly SIMD is unavailable (callers fall back to JS). */
export function simdKernel(): SimdKernel | null {
  if (cached !== undefined) return cached;
  const inst = instantiate(moduleBytes(), 1);
  cached = inst && { memory: inst.memory, scores: inst.exports['scores'] as SimdKernel['scores'] };
  return cached;
}
