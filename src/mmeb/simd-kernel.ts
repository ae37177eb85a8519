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

const OP = {
  block: 0x02, loop: 0x03, end: 0x0b, br: 0x0c, br_if: 0x0d,
  local_get: 0x20, local_set: 0x21, local_tee: 0x22,
  i32_const: 0x41, i32_ge_u: 0x4f, i32_add: 0x6a, i32_mul: 0x6c, i32_shl: 0x74,
  f32_store: 0x38, f32_add: 0x92,
  simd: 0xfd,
} as const;
const SIMD = { v128_load: 0x00, v128_const: 0x0c, f32x4_extract_lane: 0x1f, f32x4_add: 0xe4, f32x4_mul: 0xe6 } as const;
const VOID = 0x40;
const I32 = 0x7f;
const V128 = 0x7b;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}
function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) { out.push(b); return out; }
    out.push(b | 0x80);
  }
}
const simd = (op: number, ...imm: number[]) => [OP.simd, ...uleb(op), ...imm];
const get = (l: number) => [OP.local_get, ...uleb(l)];
const set = (l: number) => [OP.local_set, ...uleb(l)];
const i32 = (v: number) => [OP.i32_const, ...sleb(v)];
const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
const str = (s: string) => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];

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
  b.push(OP.end);
  return b;
}

function moduleBytes(): Uint8Array {
  const type = section(1, vec([[0x60, ...uleb(7), ...new Array<number>(7).fill(I32), 0]]));
  const imports = section(2, vec([[...str('env'), ...str('memory'), 0x02, 0x00, 1]]));
  const funcs = section(3, vec([[0]]));
  const exports = section(7, vec([[...str('scores'), 0x00, 0]]));
  const code = body();
  const locals = vec([[...uleb(N_I32_LOCALS), I32], [...uleb(N_V128_LOCALS), V128]]);
  const fn = [...locals, ...code];
  const codeSec = section(10, vec([[...uleb(fn.length), ...fn]]));
  return new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...type, ...imports, ...funcs, ...exports, ...codeSec]);
}

// The project's lib setting (ES2023, no DOM) has no WebAssembly typings, so the few members
// used here are declared locally.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Memory: new (d: { initial: number }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (m: object, imports: Record<string, Record<string, unknown>>) => { exports: Record<string, unknown> };
}
const Wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

export interface SimdKernel {
  memory: WasmMemory;
  /** S[i, j] for i < nq (multiple of 4), j < nc (multiple of 2); byte pointers; ostride in bytes. */
  scores(q: number, nq: number, c: number, nc: number, d4: number, out: number, ostride: number): void;
}

let cached: SimdKernel | null | undefined;

/** The SIMD kernel, or null where WebAssembly SIMD is unavailable (callers fall back to JS). */
export function simdKernel(): SimdKernel | null {
  if (cached !== undefined) return cached;
  if (!Wasm) return (cached = null);
  try {
    const memory = new Wasm.Memory({ initial: 1 });
    const mod = new Wasm.Module(moduleBytes());
    const inst = new Wasm.Instance(mod, { env: { memory } });
    const scores = inst.exports.scores as SimdKernel['scores'];
    cached = { memory, scores };
  } catch {
    cached = null;
  }
  return cached;
}
