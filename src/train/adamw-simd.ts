// AdamW's element loop as a WebAssembly SIMD kernel (4 float32 lanes), for full fine-tuning
// where the trainable set has billions of values. Every lane operation is an IEEE float32
// operation (add, sub, mul, div, sqrt: correctly rounded, denormals kept), in the same order as
// the scalar loop of optim.ts, whose Math.fround chain computes each float32 operation through a
// double and rounds once: exact for +, −, ×, ÷ and √ of float32 operands. So the kernel gives the
// scalar loop's bits (optim.test.ts checks it on edge values) several times faster.
//
// The module is written out as bytes here (about 200), not built by a toolchain: one exported
// function adamw(w, g, m, v, n, keep, a1, b2, a2, negStep, bc2, eps) over byte offsets into its
// imported memory, n a multiple of 4. The caller streams a tensor through that memory in chunks,
// since master weights and moments of a 2B model would not fit in a 32-bit wasm memory.

// LEB128 of an unsigned integer.
const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
};
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const str = (s: string): number[] => [...uleb(s.length), ...[...s].map((c) => c.charCodeAt(0))];

// Opcodes.
const LOCAL_GET = 0x20;
const LOCAL_SET = 0x21;
const LOCAL_TEE = 0x22;
const I32_CONST = 0x41;
const I32_ADD = 0x6a;
const I32_SHL = 0x74;
const I32_LT_U = 0x49;
const I32_GE_U = 0x4f;
const simd = (op: number): number[] => [0xfd, ...uleb(op)];
const V128_LOAD = [...simd(0x00), 0, 0]; // memarg: align hint 1, offset 0
const V128_STORE = [...simd(0x0b), 0, 0];
const F32X4_SPLAT = simd(0x13);
const F32X4_SQRT = simd(0xe3);
const F32X4_ADD = simd(0xe4);
const F32X4_SUB = simd(0xe5);
const F32X4_MUL = simd(0xe6);
const F32X4_DIV = simd(0xe7);

// Parameters 0–3: byte offsets of w, g, m, v; 4: n; 5–11: keep, a1, b2, a2, negStep, bc2, eps.
// Locals: 12 offset, 13 end, 14–20 the splatted scalars, 21 g, 22 m (old), 23 m (new), 24 v (new).
const [W, G, M, V, N] = [0, 1, 2, 3, 4];
const [OFF, END, KEEP, A1, B2, A2, NEG, BC2, EPS, GV, MO, MI, VI] = [12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24];
const get = (i: number): number[] => [LOCAL_GET, i];
const at = (base: number): number[] => [...get(base), ...get(OFF), I32_ADD];

function kernelBytes(): Uint8Array {
  const body = [
    // locals: 2 × i32, 11 × v128
    ...uleb(2), ...uleb(2), 0x7f, ...uleb(11), 0x7b,
    ...[KEEP, A1, B2, A2, NEG, BC2, EPS].flatMap((l, k) => [...get(5 + k), ...F32X4_SPLAT, LOCAL_SET, l]),
    ...get(N), I32_CONST, 2, I32_SHL, LOCAL_SET, END,
    I32_CONST, 0, LOCAL_SET, OFF,
    0x02, 0x40, // block
    ...get(OFF), ...get(END), I32_GE_U, 0x0d, 0, // br_if 0: nothing to do
    0x03, 0x40, // loop
    ...at(G), ...V128_LOAD, LOCAL_SET, GV,
    ...at(M), ...V128_LOAD, LOCAL_SET, MO,
    // m' = m + a1·(g − m)   (exp_avg.lerp_(grad, 1 − β1))
    ...get(MO), ...get(A1), ...get(GV), ...get(MO), ...F32X4_SUB, ...F32X4_MUL, ...F32X4_ADD, LOCAL_SET, MI,
    // v' = v·β2 + (a2·g)·g  (exp_avg_sq.mul_(β2).addcmul_(g, g, 1 − β2))
    ...at(V), ...V128_LOAD, ...get(B2), ...F32X4_MUL, ...get(A2), ...get(GV), ...F32X4_MUL, ...get(GV), ...F32X4_MUL, ...F32X4_ADD, LOCAL_SET, VI,
    ...at(M), ...get(MI), ...V128_STORE,
    ...at(V), ...get(VI), ...V128_STORE,
    // w' = w·keep + (negStep·m') / (√v' / bc2 + eps)
    ...at(W),
    ...at(W), ...V128_LOAD, ...get(KEEP), ...F32X4_MUL,
    ...get(NEG), ...get(MI), ...F32X4_MUL,
    ...get(VI), ...F32X4_SQRT, ...get(BC2), ...F32X4_DIV, ...get(EPS), ...F32X4_ADD,
    ...F32X4_DIV, ...F32X4_ADD,
    ...V128_STORE,
    ...get(OFF), I32_CONST, 16, I32_ADD, LOCAL_TEE, OFF, ...get(END), I32_LT_U, 0x0d, 0, // br_if 0: next 4 lanes
    0x0b, // end loop
    0x0b, // end block
    0x0b, // end function
  ];
  const type = [0x60, ...uleb(12), 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7d, 0x7d, 0x7d, 0x7d, 0x7d, 0x7d, 0x7d, 0x00];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, ...type]),
    ...section(2, [1, ...str('e'), ...str('m'), 0x02, 0x00, 1]), // import memory e.m, min 1 page
    ...section(3, [1, 0]),
    ...section(7, [1, ...str('adamw'), 0x00, 0]),
    ...section(10, [1, ...uleb(body.length), ...body]),
  ]);
}

/** The float32 scalars of one AdamW update (optim.ts rounds them as torch passes them). */
export interface AdamWScalars {
  keep: number;
  a1: number;
  b2: number;
  a2: number;
  negStep: number;
  bc2: number;
  eps: number;
}

type KernelFn = (w: number, g: number, m: number, v: number, n: number, keep: number, a1: number, b2: number, a2: number, negStep: number, bc2: number, eps: number) => void;

/** Values per chunk streamed through the wasm memory (4 arrays × 1 MB). */
const CHUNK = 1 << 18;

// The project's TypeScript libs (no DOM) do not declare WebAssembly; the part used here.
interface WasmApi {
  Memory: new (d: { initial: number }) => { buffer: ArrayBuffer };
  Module: new (bytes: Uint8Array) => object;
  Instance: new (m: object, imports: object) => { exports: Record<string, unknown> };
}
const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

let kernel: { fn: KernelFn; heap: Float32Array } | null | undefined;

/** The compiled kernel, or null where WebAssembly SIMD is unavailable (the scalar loop runs then). */
function load(): { fn: KernelFn; heap: Float32Array } | null {
  if (kernel !== undefined) return kernel;
  try {
    if (wasm === undefined) throw new Error('no WebAssembly');
    const memory = new wasm.Memory({ initial: (4 * CHUNK * 4) / 65536 });
    const inst = new wasm.Instance(new wasm.Module(kernelBytes()), { e: { m: memory } });
    kernel = { fn: inst.exports['adamw'] as KernelFn, heap: new Float32Array(memory.buffer) };
  } catch {
    kernel = null;
  }
  return kernel;
}

/**
 * One AdamW update of w, m, v (in place) with gradient g, through the SIMD kernel. Returns how
 * many leading values it updated (a multiple of 4; 0 without SIMD): the caller does the rest.
 */
export function adamwSimd(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, s: AdamWScalars): number {
  const k = load();
  if (k === null) return 0;
  const n = w.length - (w.length % 4);
  const { fn, heap } = k;
  for (let a = 0; a < n; a += CHUNK) {
    const len = Math.min(CHUNK, n - a);
    const b = a + len;
    heap.set(w.subarray(a, b), 0);
    heap.set(g.subarray(a, b), CHUNK);
    heap.set(m.subarray(a, b), 2 * CHUNK);
    heap.set(v.subarray(a, b), 3 * CHUNK);
    fn(0, 4 * CHUNK, 8 * CHUNK, 12 * CHUNK, len, s.keep, s.a1, s.b2, s.a2, s.negStep, s.bc2, s.eps);
    w.set(heap.subarray(0, len), a);
    m.set(heap.subarray(2 * CHUNK, 2 * CHUNK + len), a);
    v.set(heap.subarray(3 * CHUNK, 3 * CHUNK + len), a);
  }
  return n;
}

/** Whether the kernel compiled here (Node ≥ 16.4 has WebAssembly SIMD). */
export function adamwSimdAvailable(): boolean {
  return load() !== null;
}
