// A tiny WebAssembly assembler: named opcodes, LEB128 immediates, and a module builder for
// kernels that import one linear memory and export i32-parameter functions. Our SIMD kernels
// (ranking scores, Pillow's bicubic passes) are written with it as readable instruction lists
// instead of binary blobs. Spec: https://webassembly.github.io/spec/core/binary/

/** Core opcodes used by our kernels. */
export const OP = {
  block: 0x02, loop: 0x03, end: 0x0b, br: 0x0c, br_if: 0x0d, select: 0x1b,
  local_get: 0x20, local_set: 0x21, local_tee: 0x22,
  i32_load: 0x28, f32_store: 0x38,
  i32_const: 0x41, i32_lt_u: 0x49, i32_ge_u: 0x4f,
  i32_add: 0x6a, i32_sub: 0x6b, i32_mul: 0x6c, i32_shl: 0x74,
  f32_add: 0x92,
  simd: 0xfd,
} as const;

/** SIMD (0xfd-prefixed) opcodes used by our kernels. */
export const SIMD = {
  v128_load: 0x00, v128_load8x8_u: 0x02, v128_load32_splat: 0x09, v128_store: 0x0b, v128_const: 0x0c,
  f32x4_extract_lane: 0x1f,
  v128_store8_lane: 0x58, v128_store16_lane: 0x59,
  i8x16_narrow_i16x8_u: 0x66, i16x8_narrow_i32x4_s: 0x85,
  i16x8_extend_low_i8x16_u: 0x89, i16x8_extend_high_i8x16_u: 0x8a,
  i32x4_extend_low_i16x8_u: 0xa9, i32x4_extend_high_i16x8_u: 0xaa,
  i32x4_shr_s: 0xac, i32x4_add: 0xae, i32x4_mul: 0xb5,
  f32x4_add: 0xe4, f32x4_mul: 0xe6,
} as const;

/** Block type "no result", and the value types. */
export const VOID = 0x40;
export const I32 = 0x7f;
export const V128 = 0x7b;

/** Unsigned LEB128. */
export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 (32-bit). */
export function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

export const simd = (op: number, ...imm: number[]): number[] => [OP.simd, ...uleb(op), ...imm];
/** A memory access immediate: alignment hint (log2 bytes; 0 = unaligned is always valid) + offset. */
export const mem = (align: number, offset = 0): number[] => [...uleb(align), ...uleb(offset)];
export const get = (l: number): number[] => [OP.local_get, ...uleb(l)];
export const set = (l: number): number[] => [OP.local_set, ...uleb(l)];
export const tee = (l: number): number[] => [OP.local_tee, ...uleb(l)];
export const i32 = (v: number): number[] => [OP.i32_const, ...sleb(v)];

const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const str = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];

/** One exported function: `params` i32 parameters, extra i32 and v128 locals, and its code. */
export interface WasmFunction {
  name: string;
  params: number;
  i32Locals: number;
  v128Locals: number;
  /** Instructions, without the final `end` (added here). */
  code: number[];
}

/**
 * Assembles a module that imports `env.memory` (initial 1 page) and exports the given functions,
 * each `(i32 × params) → ()`.
 *
 * @example
 * const bytes = assembleModule([{ name: 'noop', params: 0, i32Locals: 0, v128Locals: 0, code: [] }]);
 */
export function assembleModule(fns: readonly WasmFunction[]): Uint8Array {
  const type = section(1, vec(fns.map((f) => [0x60, ...uleb(f.params), ...new Array<number>(f.params).fill(I32), 0])));
  const imports = section(2, vec([[...str('env'), ...str('memory'), 0x02, 0x00, 1]]));
  const funcs = section(3, vec(fns.map((_, i) => uleb(i))));
  const exports = section(7, vec(fns.map((f, i) => [...str(f.name), 0x00, ...uleb(i)])));
  const bodies = fns.map((f) => {
    const body = [...vec([[...uleb(f.i32Locals), I32], [...uleb(f.v128Locals), V128]]), ...f.code, OP.end];
    return [...uleb(body.length), ...body];
  });
  const code = section(10, vec(bodies));
  return new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...type, ...imports, ...funcs, ...exports, ...code]);
}

// The project's lib setting (ES2023, no DOM) has no WebAssembly typings: the members we use.
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Memory: new (d: { initial: number; maximum?: number }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (m: object, imports: Record<string, Record<string, unknown>>) => { exports: Record<string, unknown> };
}
const Wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

/**
 * Instantiates assembled bytes over a fresh memory of `initialPages` pages; null where
 * WebAssembly (or its SIMD proposal) is unavailable, so callers fall back to JavaScript.
 */
export function instantiate(bytes: Uint8Array, initialPages: number): { memory: WasmMemory; exports: Record<string, unknown> } | null {
  if (!Wasm) return null;
  try {
    const memory = new Wasm.Memory({ initial: initialPages });
    const inst = new Wasm.Instance(new Wasm.Module(bytes), { env: { memory } });
    return { memory, exports: inst.exports };
  } catch {
    return null;
  }
}
