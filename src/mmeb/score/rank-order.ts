// Ranking order of one score row: descending score, exact ties by ascending candidate index
// (§6.3 of docs/mmeb.md: the reference's unstable argsort is
// implementation-defined on exact ties, so we fix the rule to candidate order).
//
// Why not `Array.prototype.sort` with a comparator: 1,000 rows × 10,000 scores take ~1–2 s that
// way, more than the matrix product itself on ORT. Instead every float32 score is mapped to a
// uint32 whose unsigned order is the descending score order, then
// - full lists (`_pred.jsonl`): an LSD radix sort, 3 passes of 11 bits; LSD is stable, so equal
//   keys keep ascending index — exactly the tie rule, with no comparison at all. Passes whose
//   digit is the same for every key are skipped, and the last pass writes only indices, straight
//   into the caller's buffer (rankOrderInto);
// - short prefixes (metrics need the top 10): a bounded max-heap of (key, index) over one pass;
// - tiny rows: the (key, index) pair packed exactly into one float64 and a native numeric sort.
// -0 ranks as +0 (numpy compares them equal) and NaN ranks last.

const F32 = new Float32Array(1);
const I32 = new Int32Array(F32.buffer);

/**
 * Key of a float32 (its bits as int32) for a *descending* ranking: the unsigned order of the
 * returned bit pattern is the ranking order (NaN → 0xffffffff, after everything). Returned as an
 * int32 so V8 keeps it unboxed in the radix passes (uint32 values above 2^31 are not small ints).
 * Floats ascend as unsigned ints once negatives have all bits flipped and the rest the sign bit;
 * descending is the complement: negatives keep their bits, non-negatives become 0x7fffffff - b.
 */
function descKeyI(b: number): number {
  if ((b & 0x7fffffff) > 0x7f800000) return -1; // NaN
  if (b === -0x80000000) return 0x7fffffff; // -0 ties with +0
  // Branch-free `b < 0 ? b : 0x7fffffff - b` (for b ≥ 0 the xor equals the subtraction): score
  // signs are random, and the mispredicted branch cost ~30 % of a full-row sort.
  return b ^ (~(b >> 31) & 0x7fffffff);
}

/** {@link descKeyI} as an unsigned number (for comparisons). */
function descKey(b: number): number {
  return descKeyI(b) >>> 0;
}

/** Rows up to this length use the packed-float64 native sort (radix passes cost 3 × 2,048 buckets). */
const SMALL = 512;
const PACK = 2 ** 21; // index bits of the packed float64 (n ≤ SMALL < 2^21)
const RADIX_BITS = 11;
const BUCKETS = 1 << RADIX_BITS;

// Scratch buffers reused across rows (ranking 1,000 rows must not allocate 4 arrays each time).
let keysA = new Int32Array(0);
let keysB = new Int32Array(0);
let idxA = new Int32Array(0);
let idxB = new Int32Array(0);
const PASSES = Math.ceil(32 / RADIX_BITS);
const counts = new Int32Array(PASSES * BUCKETS); // one histogram per pass, all filled in one sweep

function ensure(n: number): void {
  if (keysA.length >= n) return;
  keysA = new Int32Array(n);
  keysB = new Int32Array(n);
  idxA = new Int32Array(n);
  idxB = new Int32Array(n);
}

/** Bit view of a score array (same memory), so keys are built without a float→bits round trip. */
function bitsOf(scores: Float32Array): Int32Array {
  return new Int32Array(scores.buffer, scores.byteOffset, scores.length);
}

function smallSort(bits: Int32Array, off: number, n: number, k: number, out: Int32Array, at: number): void {
  const packed = new Float64Array(n);
  for (let i = 0; i < n; i++) packed[i] = descKey(bits[off + i] as number) * PACK + i;
  packed.sort();
  for (let i = 0; i < k; i++) out[at + i] = (packed[i] as number) % PACK;
}

function radixSort(bits: Int32Array, off: number, n: number, k: number, out: Int32Array, at: number): void {
  ensure(n);
  const M = BUCKETS - 1;
  counts.fill(0);
  const ks = keysA;
  for (let i = 0; i < n; i++) {
    const key = descKeyI(bits[off + i] as number);
    ks[i] = key;
    (counts[key & M] as number)++;
    (counts[BUCKETS + ((key >>> RADIX_BITS) & M)] as number)++;
    (counts[2 * BUCKETS + (key >>> (2 * RADIX_BITS))] as number)++;
  }
  // A pass where every key shares one digit would only copy: skip it (common for the top digit).
  const passes: number[] = [];
  for (let pass = 0; pass < PASSES; pass++) {
    if (counts[pass * BUCKETS + ((ks[0] as number) >>> (pass * RADIX_BITS) & M)] !== n) passes.push(pass);
  }
  if (passes.length === 0) {
    for (let i = 0; i < k; i++) out[at + i] = i;
    return;
  }
  let kIn = keysA, kOut = keysB;
  let iIn = idxA, iOut = idxB;
  for (let p = 0; p < passes.length; p++) {
    const pass = passes[p] as number;
    const base = pass * BUCKETS;
    const shift = pass * RADIX_BITS;
    let sum = 0;
    for (let b = base; b < base + BUCKETS; b++) {
      const c = counts[b] as number;
      counts[b] = sum;
      sum += c;
    }
    const first = p === 0;
    const last = p === passes.length - 1;
    // The last pass writes only indices, straight into `out` when the whole list is wanted.
    const direct = last && k === n;
    const dst = direct ? out : iOut;
    const d0 = direct ? at : 0;
    if (first && last) {
      for (let i = 0; i < n; i++) {
        const d = base + (((kIn[i] as number) >>> shift) & M);
        const q = counts[d] as number;
        counts[d] = q + 1;
        dst[d0 + q] = i;
      }
    } else if (first) {
      for (let i = 0; i < n; i++) {
        const key = kIn[i] as number;
        const d = base + ((key >>> shift) & M);
        const q = counts[d] as number;
        counts[d] = q + 1;
        kOut[q] = key;
        dst[q] = i;
      }
    } else if (last) {
      for (let i = 0; i < n; i++) {
        const d = base + (((kIn[i] as number) >>> shift) & M);
        const q = counts[d] as number;
        counts[d] = q + 1;
        dst[d0 + q] = iIn[i] as number;
      }
    } else {
      for (let i = 0; i < n; i++) {
        const key = kIn[i] as number;
        const d = base + ((key >>> shift) & M);
        const q = counts[d] as number;
        counts[d] = q + 1;
        kOut[q] = key;
        dst[q] = iIn[i] as number;
      }
    }
    if (last) {
      if (!direct) out.set(iOut.subarray(0, k), at);
      return;
    }
    [kIn, kOut] = [kOut, kIn];
    [iIn, iOut] = [iOut, iIn];
  }
}

/**
 * Top `k` by a bounded heap whose root is the *worst* kept entry: a candidate enters only if it
 * ranks before the root ((key, index) lexicographic, so ties prefer the lower index).
 */
function heapTop(bits: Int32Array, off: number, n: number, k: number, out: Int32Array, at: number): void {
  const hk = new Float64Array(k); // keys (uint32 fits exactly)
  const hi = new Int32Array(k);
  // "a ranks after b": larger key, or equal key and larger index.
  const after = (ka: number, ia: number, kb: number, ib: number) => ka > kb || (ka === kb && ia > ib);
  const siftDown = (p: number, size: number) => {
    for (;;) {
      const l = 2 * p + 1;
      if (l >= size) return;
      let w = l;
      const r = l + 1;
      if (r < size && after(hk[r] as number, hi[r] as number, hk[l] as number, hi[l] as number)) w = r;
      if (!after(hk[w] as number, hi[w] as number, hk[p] as number, hi[p] as number)) return;
      const tk = hk[p] as number, ti = hi[p] as number;
      hk[p] = hk[w] as number; hi[p] = hi[w] as number;
      hk[w] = tk; hi[w] = ti;
      p = w;
    }
  };
  for (let i = 0; i < k; i++) {
    hk[i] = descKey(bits[off + i] as number);
    hi[i] = i;
  }
  for (let p = (k >> 1) - 1; p >= 0; p--) siftDown(p, k);
  // Fast reject on the float itself: a later index enters only with a strictly greater score
  // (exact ties and -0 vs +0 lose to the kept, earlier index). A NaN root admits any number.
  const scores = new Float32Array(bits.buffer, bits.byteOffset, bits.length);
  let rootVal = scores[off + (hi[0] as number)] as number;
  for (let i = k; i < n; i++) {
    const v = scores[off + i] as number;
    if (!(v > rootVal) && !(Number.isNaN(rootVal) && !Number.isNaN(v))) continue;
    hk[0] = descKey(bits[off + i] as number);
    hi[0] = i;
    siftDown(0, k);
    rootVal = scores[off + (hi[0] as number)] as number;
  }
  // Pop worst-first into the back of the output.
  for (let size = k; size > 0; size--) {
    out[at + size - 1] = hi[0] as number;
    hk[0] = hk[size - 1] as number;
    hi[0] = hi[size - 1] as number;
    siftDown(0, size - 1);
  }
}

/**
 * Indices of `scores[off .. off+n)` sorted by descending score, ties by ascending index, cut to
 * the first `topK`.
 *
 * @example
 * rankOrder(new Float32Array([0.1, 0.9, 0.9]), 0, 3); // Int32Array [1, 2, 0]
 * rankOrder(new Float32Array([0.1, 0.9, 0.9]), 0, 3, 1); // Int32Array [1]
 */
export function rankOrder(scores: Float32Array, off: number, n: number, topK = n): Int32Array {
  const out = new Int32Array(rankLength(n, topK));
  rankOrderInto(scores, off, n, out, 0);
  return out;
}

/** Length of a ranked list of `n` scores cut to `topK` (what {@link rankOrderInto} writes). */
export function rankLength(n: number, topK = n): number {
  return Math.max(0, Math.min(n, topK));
}

/**
 * {@link rankOrder} written into `out[at ..]` instead of a new array: the first
 * `out.length - at` ranked indices, at most `n` (so `topK` is implied by the room given). Lets
 * the worker pool (rank-pool.ts) fill one buffer per block of rows without an allocation per row.
 */
export function rankOrderInto(scores: Float32Array, off: number, n: number, out: Int32Array, at: number, topK = n): void {
  const k = Math.max(0, Math.min(n, topK, out.length - at));
  if (k === 0) return;
  const bits = bitsOf(scores);
  if (k * 16 <= n && n > 64) heapTop(bits, off, n, k, out, at);
  else if (n <= SMALL) smallSort(bits, off, n, k, out, at);
  else radixSort(bits, off, n, k, out, at);
}

/** The ranking key of one float (exported for tests): smaller key = ranked earlier. */
export function rankKey(x: number): number {
  F32[0] = x;
  return descKey(I32[0] as number);
}
