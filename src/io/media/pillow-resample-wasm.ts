// WebAssembly SIMD passes of Pillow's BICUBIC resampler for 3-channel (RGB) uint8 images, assembled
// here from named opcodes (no binary blobs). Why: V8 runs the scalar JS passes 3–9× slower than
// Pillow's C loops; with i32x4 lanes the same integer arithmetic beats the C code on one core.
//
// Bit-exactness: every sum is Pillow's `int ss = 1 << 21; ss += pixel * k; ...` in 32-bit lanes.
// Lane arithmetic wraps modulo 2^32 like any int32 sum, and Pillow's true sums fit in int32 (see
// ./pillow-resample.ts), so each lane equals Pillow's sum exactly whatever the order of additions.
// clip8 is `shr_s 22`, then i32→i16 signed-saturating and i16→u8 unsigned-saturating narrowing,
// which together clamp to [0, 255] exactly as Pillow's clip8 table does.
//
// - hpass: two taps of one output pixel per step: a 16-byte load at the first tap's pixel is
//   swizzled to the i16 lanes (R0, R1, G0, G1, B0, B1, 0, 0) and i32x4.dot_i16x8_s multiplies
//   and adds each channel's pair into lanes (R, G, B, 0). The 22-bit weights are split into an
//   11-bit low part and a high part that both fit i16 (sum = (Σ p·hi)·2^11 + Σ p·lo, exact in
//   int32); this takes ~25% fewer instructions per tap than widening each pixel to i32x4 and
//   multiplying (measured: 4096×2304 → 1316×728 in 28 ms instead of 37 ms). Four rows run
//   together (independent accumulators share the weight loads). Each pixel stores exactly 3
//   bytes, so neighbouring rows are never touched.
// - vpass: lanes = 16 consecutive bytes of a row (four i32x4 accumulators); a whole output row is
//   swept in 16-byte chunks, each chunk summing its taps down the column. The last chunk of a row
//   may spill up to 15 bytes into the next row, which is written later; the output buffer has 16
//   bytes of slack for the last row.
//
// Memory: one shared instance whose linear memory grows on demand and is reused by later calls
// (it never shrinks: after a 4096×2304 → 1316×728 resize it holds ~13 MB; input rows go through a
// 1 MiB strip, so the input size itself is not retained).
// Reads past a buffer end (8-byte loads of the last pixel, 16-byte chunks) land in 16 bytes of
// padding that every region carries.

import { HALF, PRECISION_BITS, type AxisCoeffs } from './pillow-resample-coeffs.ts';
import { OP, SIMD, VOID, assembleModule, get, i32, instantiate, mem, set, simd, tee, uleb, type WasmMemory } from '../../util/wasm-asm.ts';

/** `local += step` for an i32 local. */
const addTo = (l: number, step: number[]) => [...get(l), ...step, OP.i32_add, ...set(l)];
/** i32x4 constant with the same value in all lanes (little-endian bytes). */
const splatConst = (v: number) => simd(SIMD.v128_const, ...new Array<number[]>(4).fill([v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff]).flat());
/** acc = acc + widened * k (the caller has pushed the widened pixel lanes). */
const mac = (acc: number, k: number) => [...get(k), ...simd(SIMD.i32x4_mul), ...get(acc), ...simd(SIMD.i32x4_add), ...set(acc)];
/** Pushes clip8 of four i32x4 sums packed into 16 bytes. */
const pack4 = (a: number, b: number, c: number, d: number) => [
  ...[a, b].flatMap((x) => [...get(x), ...i32(PRECISION_BITS), ...simd(SIMD.i32x4_shr_s)]), ...simd(SIMD.i16x8_narrow_i32x4_s),
  ...[c, d].flatMap((x) => [...get(x), ...i32(PRECISION_BITS), ...simd(SIMD.i32x4_shr_s)]), ...simd(SIMD.i16x8_narrow_i32x4_s),
  ...simd(SIMD.i8x16_narrow_i16x8_u),
];
/**
 * Stores clip8 of lanes 0..2 of `acc` (3 bytes) at the address `addr` pushes; `tmp` is scratch.
 * The narrowing ops take their second operand from `acc` too: those lanes land in bytes ≥ 4.
 */
const store3 = (addr: number[], acc: number, tmp: number) => [
  ...get(acc), ...i32(PRECISION_BITS), ...simd(SIMD.i32x4_shr_s), ...get(acc), ...simd(SIMD.i16x8_narrow_i32x4_s),
  ...get(acc), ...simd(SIMD.i8x16_narrow_i16x8_u), ...set(tmp),
  ...addr, ...get(tmp), ...simd(SIMD.v128_store16_lane, ...mem(0), 0),
  ...addr, ...get(tmp), ...simd(SIMD.v128_store8_lane, ...mem(0, 2), 2),
];

// hpass(src, srcStride, rows, outW, bounds, pairs, pairStride, dst): rows of `srcStride` bytes from
// `src` → rows of outW·3 bytes at `dst`. bounds: [outW, 2] i32 (byte offset of the first tap, tap
// pair count); pairs: [outW, pairStride/8] tap pairs, each as two i32 (high parts, low parts).
/** Rows swept together: their accumulators are independent and share each tap pair's weight loads. */
const HROWS = 4;
/** Extra SIMD opcodes the horizontal pass uses. */
const SWIZZLE = 0x0e;
const I32X4_SHL = 0xab;
const I32X4_DOT_I16X8_S = 0xba;
/** Bits of a weight's low part: k = hi·2^11 + lo with 0 ≤ lo < 2^11 and |hi| < 2^15. */
const LO_BITS = 11;
/**
 * i8x16.swizzle mask turning 16 bytes from a pair of RGB pixels (R0 G0 B0 R1 G1 B1 …) into the
 * i16 lanes (R0, R1, G0, G1, B0, B1, 0, 0); index 0x80 (out of range) gives 0.
 */
const PAIR_MASK = [0, 0x80, 3, 0x80, 1, 0x80, 4, 0x80, 2, 0x80, 5, 0x80, 0x80, 0x80, 0x80, 0x80];
const H = (() => {
  const i32Names = ['y', 'xx', 'p', 'c', 'n', 'd', 'pb', 'kb', 'ostride', 'rowSrc'] as const;
  let next = 8; // after the 8 parameters
  const l = Object.fromEntries(i32Names.map((nm) => [nm, next++])) as Record<(typeof i32Names)[number], number>;
  const s = Array.from({ length: HROWS }, (_, j) => (j === 0 ? -1 : next++)); // byte offset of row j's input
  const o = Array.from({ length: HROWS }, (_, j) => (j === 0 ? -1 : next++)); // and of its output
  const nI32 = next - 8;
  const hi = Array.from({ length: HROWS }, () => next++);
  const lo = Array.from({ length: HROWS }, () => next++);
  const kh = next++;
  const kl = next++;
  const mask = next++;
  const px = next++;
  return { src: 0, stride: 1, rows: 2, outW: 3, bounds: 4, kk: 5, pairStride: 6, dst: 7, ...l, s, o, hi, lo, kh, kl, mask, px, nI32, nV128: next - 8 - nI32 };
})();

/**
 * Horizontal pass with i32x4.dot_i16x8_s: each step takes two taps of one pixel. The 22-bit weights
 * do not fit i16 lanes, so each is split as k = hi·2^11 + lo and the two parts are summed apart:
 * Σ p·k = (Σ p·hi)·2^11 + Σ p·lo, exact in int32 lanes (modulo 2^32, and Pillow's sum fits int32).
 * An odd tap count ends with a pair whose second weight is 0 (its pixel is read, then multiplied by 0).
 */
function hpassBody(): number[] {
  const b: number[] = [];
  b.push(...simd(SIMD.v128_const, ...PAIR_MASK), ...set(H.mask));
  b.push(...get(H.outW), ...i32(3), OP.i32_mul, ...set(H.ostride));
  b.push(...i32(0), ...set(H.y));
  b.push(OP.block, VOID, OP.loop, VOID); // rows, HROWS at a time
  b.push(...get(H.y), ...get(H.rows), OP.i32_ge_u, OP.br_if, 1);
  // Row y + j of the group; past the last row it aliases row y (same bytes written twice).
  for (let j = 1; j < HROWS; j++) {
    const has = [...get(H.y), ...i32(j), OP.i32_add, ...get(H.rows), OP.i32_lt_u];
    b.push(...get(H.stride), ...i32(j), OP.i32_mul, ...i32(0), ...has, OP.select, ...set(H.s[j]!));
    b.push(...get(H.ostride), ...i32(j), OP.i32_mul, ...i32(0), ...has, OP.select, ...set(H.o[j]!));
  }
  b.push(...get(H.dst), ...get(H.y), ...get(H.ostride), OP.i32_mul, OP.i32_add, ...set(H.d));
  b.push(...get(H.src), ...get(H.y), ...get(H.stride), OP.i32_mul, OP.i32_add, ...set(H.rowSrc));
  b.push(...get(H.bounds), ...set(H.pb), ...get(H.kk), ...set(H.kb), ...i32(0), ...set(H.xx));
  b.push(OP.block, VOID, OP.loop, VOID); // output pixels
  b.push(...get(H.xx), ...get(H.outW), OP.i32_ge_u, OP.br_if, 1);
  b.push(...get(H.rowSrc), ...get(H.pb), OP.i32_load, ...mem(2), OP.i32_add, ...set(H.p));
  b.push(...get(H.pb), OP.i32_load, ...mem(2, 4), ...set(H.n));
  b.push(...get(H.kb), ...set(H.c));
  b.push(...splatConst(0));
  for (const acc of [...H.hi, ...H.lo].slice(0, -1)) b.push(OP.local_tee, ...uleb(acc));
  b.push(...set(H.lo[HROWS - 1]!));
  b.push(OP.loop, VOID); // tap pairs (n ≥ 1 always: every window holds at least one input pixel)
  b.push(...get(H.c), ...simd(SIMD.v128_load32_splat, ...mem(2)), ...set(H.kh));
  b.push(...get(H.c), ...simd(SIMD.v128_load32_splat, ...mem(2, 4)), ...set(H.kl));
  for (let j = 0; j < HROWS; j++) {
    const addr = j === 0 ? get(H.p) : [...get(H.p), ...get(H.s[j]!), OP.i32_add];
    b.push(...addr, ...simd(SIMD.v128_load, ...mem(0)), ...get(H.mask), ...simd(SWIZZLE), ...set(H.px));
    b.push(...get(H.px), ...get(H.kh), ...simd(I32X4_DOT_I16X8_S), ...get(H.hi[j]!), ...simd(SIMD.i32x4_add), ...set(H.hi[j]!));
    b.push(...get(H.px), ...get(H.kl), ...simd(I32X4_DOT_I16X8_S), ...get(H.lo[j]!), ...simd(SIMD.i32x4_add), ...set(H.lo[j]!));
  }
  b.push(...addTo(H.p, i32(6)), ...addTo(H.c, i32(8)));
  b.push(...get(H.n), ...i32(1), OP.i32_sub, ...tee(H.n), OP.br_if, 0, OP.end);
  for (let j = 0; j < HROWS; j++) {
    // sum = HALF + (Σ p·hi << 11) + Σ p·lo, kept in the `hi` local, then clipped and stored.
    b.push(...get(H.hi[j]!), ...i32(LO_BITS), ...simd(I32X4_SHL), ...get(H.lo[j]!), ...simd(SIMD.i32x4_add));
    b.push(...splatConst(HALF), ...simd(SIMD.i32x4_add), ...set(H.hi[j]!));
    b.push(...store3(j === 0 ? get(H.d) : [...get(H.d), ...get(H.o[j]!), OP.i32_add], H.hi[j]!, H.px));
  }
  b.push(...addTo(H.d, i32(3)), ...addTo(H.pb, i32(8)), ...addTo(H.kb, get(H.pairStride)), ...addTo(H.xx, i32(1)));
  b.push(OP.br, 0, OP.end, OP.end);
  b.push(...addTo(H.y, i32(HROWS)), OP.br, 0, OP.end, OP.end);
  return b;
}

/**
 * The horizontal pass's tables: per output pixel the byte offset of its first tap and its number
 * of tap pairs, and per pair the (hi, lo) weight parts packed as i16 pairs in two i32.
 */
function pairTables(c: AxisCoeffs): { bounds: Int32Array; pairs: Int32Array; stride: number } {
  const outSize = c.bounds.length / 2;
  const np = Math.ceil(c.ksize / 2);
  const bounds = new Int32Array(outSize * 2);
  const pairs = new Int32Array(outSize * np * 2);
  for (let xx = 0; xx < outSize; xx++) {
    const n = c.bounds[xx * 2 + 1]!;
    bounds[xx * 2] = c.bounds[xx * 2]! * 3;
    bounds[xx * 2 + 1] = Math.ceil(n / 2);
    for (let t = 0; t < n; t += 2) {
      const k0 = c.kk[xx * c.ksize + t]!;
      const k1 = t + 1 < n ? c.kk[xx * c.ksize + t + 1]! : 0;
      const at = (xx * np + t / 2) * 2;
      pairs[at] = ((k0 >> LO_BITS) & 0xffff) | ((k1 >> LO_BITS) << 16);
      pairs[at + 1] = (k0 & ((1 << LO_BITS) - 1)) | ((k1 & ((1 << LO_BITS) - 1)) << 16);
    }
  }
  return { bounds, pairs, stride: np * 8 };
}

// vpass(src, rowLen, outH, bounds, kk, ksize4, dst, shift): `src` holds input rows shift, shift+1,
// ... of rowLen bytes; writes outH rows of rowLen bytes at `dst`.
const V = { src: 0, rowLen: 1, outH: 2, bounds: 3, kk: 4, ksize4: 5, dst: 6, shift: 7, yy: 8, base: 9, n: 10, i: 11, p: 12, c: 13, t: 14, pb: 15, kb: 16, d: 17, a0: 18, a1: 19, a2: 20, a3: 21, k: 22, lo: 23, hi: 24 } as const;

function vpassBody(): number[] {
  const b: number[] = [];
  b.push(...get(V.bounds), ...set(V.pb), ...get(V.kk), ...set(V.kb), ...get(V.dst), ...set(V.d), ...i32(0), ...set(V.yy));
  b.push(OP.block, VOID, OP.loop, VOID); // output rows
  b.push(...get(V.yy), ...get(V.outH), OP.i32_ge_u, OP.br_if, 1);
  b.push(...get(V.src), ...get(V.pb), OP.i32_load, ...mem(2), ...get(V.shift), OP.i32_sub, ...get(V.rowLen), OP.i32_mul, OP.i32_add, ...set(V.base));
  b.push(...get(V.pb), OP.i32_load, ...mem(2, 4), ...set(V.n));
  b.push(...i32(0), ...set(V.i));
  b.push(OP.block, VOID, OP.loop, VOID); // 16-byte chunks of the row
  b.push(...get(V.i), ...get(V.rowLen), OP.i32_ge_u, OP.br_if, 1);
  b.push(...splatConst(HALF), OP.local_tee, V.a0, OP.local_tee, V.a1, OP.local_tee, V.a2, ...set(V.a3));
  b.push(...get(V.base), ...get(V.i), OP.i32_add, ...set(V.p), ...get(V.kb), ...set(V.c), ...get(V.n), ...set(V.t));
  b.push(OP.loop, VOID); // taps down the column
  b.push(...get(V.c), ...simd(SIMD.v128_load32_splat, ...mem(2)), ...set(V.k));
  b.push(...get(V.p), ...simd(SIMD.v128_load, ...mem(0)), OP.local_tee, V.lo, ...simd(SIMD.i16x8_extend_high_i8x16_u), ...set(V.hi));
  b.push(...get(V.lo), ...simd(SIMD.i16x8_extend_low_i8x16_u), ...set(V.lo));
  b.push(...get(V.lo), ...simd(SIMD.i32x4_extend_low_i16x8_u), ...mac(V.a0, V.k));
  b.push(...get(V.lo), ...simd(SIMD.i32x4_extend_high_i16x8_u), ...mac(V.a1, V.k));
  b.push(...get(V.hi), ...simd(SIMD.i32x4_extend_low_i16x8_u), ...mac(V.a2, V.k));
  b.push(...get(V.hi), ...simd(SIMD.i32x4_extend_high_i16x8_u), ...mac(V.a3, V.k));
  b.push(...addTo(V.p, get(V.rowLen)), ...addTo(V.c, i32(4)));
  b.push(...get(V.t), ...i32(1), OP.i32_sub, ...tee(V.t), OP.br_if, 0, OP.end);
  b.push(...get(V.d), ...get(V.i), OP.i32_add, ...pack4(V.a0, V.a1, V.a2, V.a3), ...simd(SIMD.v128_store, ...mem(0)));
  b.push(...addTo(V.i, i32(16)), OP.br, 0, OP.end, OP.end);
  b.push(...addTo(V.d, get(V.rowLen)), ...addTo(V.pb, i32(8)), ...addTo(V.kb, get(V.ksize4)), ...addTo(V.yy, i32(1)));
  b.push(OP.br, 0, OP.end, OP.end);
  return b;
}

function moduleBytes(): Uint8Array {
  return assembleModule([
    { name: 'hpass', params: 8, i32Locals: H.nI32, v128Locals: H.nV128, code: hpassBody() },
    { name: 'vpass', params: 8, i32Locals: V.a0 - 8, v128Locals: V.hi - V.a0 + 1, code: vpassBody() },
  ]);
}

type Pass = (a: number, b: number, c: number, d: number, e: number, f: number, g: number, h: number) => void;
interface Kernel { memory: WasmMemory; hpass: Pass; vpass: Pass }

const PAGE = 65536;
const PAD = 16;
/** Input rows are copied into linear memory in strips of about this many bytes (cache-sized). */
const STRIP_BYTES = 1 << 20;
let cached: Kernel | null | undefined;

function kernel(): Kernel | null {
  if (cached !== undefined) return cached;
  // null: no WebAssembly SIMD in this runtime, callers use the JS passes.
  const inst = instantiate(moduleBytes(), 16);
  cached = inst && { memory: inst.memory, hpass: inst.exports['hpass'] as Pass, vpass: inst.exports['vpass'] as Pass };
  return cached;
}

/** True when the WebAssembly SIMD passes can run here. */
export function wasmResampleAvailable(): boolean {
  return kernel() !== null;
}

/** Bump allocator over linear memory for one call: 16-byte aligned regions with 16 bytes of slack. */
class Arena {
  private top = 0;
  alloc(bytes: number): number {
    const at = this.top;
    this.top += Math.ceil((bytes + PAD) / 16) * 16;
    return at;
  }
  /** A view of linear memory covering every region, or null when memory cannot grow that far. */
  ensure(k: Kernel): Uint8Array | null {
    const need = Math.ceil(this.top / PAGE) - k.memory.buffer.byteLength / PAGE;
    if (need > 0) {
      try {
        k.memory.grow(need);
      } catch {
        return null; // beyond wasm32's 4 GiB (or the engine's limit): the JS passes take over
      }
    }
    return new Uint8Array(k.memory.buffer);
  }
}

function putCoeffs(heap: Uint8Array, c: AxisCoeffs, boundsAt: number, kkAt: number): void {
  const i32 = new Int32Array(heap.buffer);
  i32.set(c.bounds, boundsAt >> 2);
  i32.set(c.kk, kkAt >> 2);
}

/**
 * One separable resize of interleaved RGB (horizontal pass on the rows the vertical pass reads,
 * then vertical pass), or null without WebAssembly SIMD or enough linear memory. `vert` / `horiz`
 * are the tap tables of ./pillow-resample-coeffs.ts for this size change, null for an axis whose
 * size is unchanged (that pass is skipped, as in Pillow).
 *
 * @example
 * const out = resampleSeparableRgbWasm(rgb, 640, 480, 308, 252,
 *   precomputeCoeffs(480, 0, 480, 252), precomputeCoeffs(640, 0, 640, 308)); // or null
 */
export function resampleSeparableRgbWasm(
  data: Uint8Array, inW: number, inH: number, outW: number, outH: number, vert: AxisCoeffs | null, horiz: AxisCoeffs | null,
): Uint8Array | null {
  const k = kernel();
  if (!k) return null;
  const yFirst = vert ? vert.bounds[0]! : 0;
  const yLast = vert ? vert.bounds[outH * 2 - 2]! + vert.bounds[outH * 2 - 1]! : inH;
  const rows = yLast - yFirst;
  const inRow = inW * 3;
  const midRow = (horiz ? outW : inW) * 3;
  const a = new Arena();
  const ht = horiz ? pairTables(horiz) : null;
  const hb = ht ? a.alloc(ht.bounds.length * 4) : 0;
  const hk = ht ? a.alloc(ht.pairs.length * 4) : 0;
  const vb = vert ? a.alloc(vert.bounds.length * 4) : 0;
  const vk = vert ? a.alloc(vert.kk.length * 4) : 0;
  const stripRows = horiz ? Math.max(2, Math.min(rows, Math.floor(STRIP_BYTES / inRow))) : rows;
  const strip = a.alloc(stripRows * inRow);
  const mid = horiz ? a.alloc(rows * midRow) : strip;
  const out = vert ? a.alloc(outH * midRow) : mid;
  const heap = a.ensure(k);
  if (!heap) return null;
  if (ht) {
    const i32 = new Int32Array(heap.buffer);
    i32.set(ht.bounds, hb >> 2);
    i32.set(ht.pairs, hk >> 2);
    for (let y = 0; y < rows; y += stripRows) {
      const n = Math.min(stripRows, rows - y);
      heap.set(data.subarray((yFirst + y) * inRow, (yFirst + y + n) * inRow), strip);
      k.hpass(strip, inRow, n, outW, hb, hk, ht.stride, mid + y * midRow);
    }
  } else {
    heap.set(data.subarray(yFirst * inRow, yLast * inRow), strip);
  }
  if (vert) {
    putCoeffs(heap, vert, vb, vk);
    k.vpass(mid, midRow, outH, vb, vk, vert.ksize * 4, out, yFirst);
  }
  return heap.slice(out, out + outH * midRow);
}
