// numpy's `np.random.default_rng(seed)` bit for bit: SeedSequence → PCG64 (XSL-RR 128/64), its
// `random()` doubles and `choice(n, size, p)` with replacement. The reference's mixture
// (hf_datasets.py, as HF `datasets.interleave_datasets`) draws the source of each run of examples
// from exactly this generator, so matching it reproduces the reference's source order for a seed.
// numpy: numpy/random/bit_generator.pyx (SeedSequence), src/pcg64/pcg64.h, _generator.pyx (choice).

const M32 = 0xffffffffn;
const M64 = 0xffffffffffffffffn;
const M128 = (1n << 128n) - 1n;
const PCG_MULT = (2549297995355413924n << 64n) + 4865540595714422341n;

// SeedSequence constants (bit_generator.pyx).
const INIT_A = 0x43b0d7e5;
const MULT_A = 0x931e8875;
const INIT_B = 0x8b51f9dd;
const MULT_B = 0x58f38ded;
const MIX_MULT_L = 0xca01f9dd;
const MIX_MULT_R = 0x4973f715;
const POOL_SIZE = 4;

const mul32 = (a: number, b: number): number => Math.imul(a, b) >>> 0;

/** The uint32 words numpy makes of a non-negative integer seed (least significant first). */
function seedWords(seed: bigint): number[] {
  const out: number[] = [];
  let s = seed;
  do {
    out.push(Number(s & M32));
    s >>= 32n;
  } while (s > 0n);
  return out;
}

/** `SeedSequence(seed).generate_state(nWords, np.uint32)`. */
export function seedSequenceState(seed: number | bigint, nWords: number): number[] {
  const entropy = seedWords(BigInt(seed));
  let hashConst = INIT_A;
  const hashmix = (v: number): number => {
    let value = (v ^ hashConst) >>> 0;
    hashConst = mul32(hashConst, MULT_A);
    value = mul32(value, hashConst);
    return (value ^ (value >>> 16)) >>> 0;
  };
  const mix = (x: number, y: number): number => {
    const r = (mul32(MIX_MULT_L, x) - mul32(MIX_MULT_R, y)) >>> 0;
    return (r ^ (r >>> 16)) >>> 0;
  };
  const pool = new Array<number>(POOL_SIZE);
  for (let i = 0; i < POOL_SIZE; i++) pool[i] = hashmix(i < entropy.length ? entropy[i]! : 0);
  for (let src = 0; src < POOL_SIZE; src++) {
    for (let dst = 0; dst < POOL_SIZE; dst++) if (src !== dst) pool[dst] = mix(pool[dst]!, hashmix(pool[src]!));
  }
  for (let src = POOL_SIZE; src < entropy.length; src++) {
    for (let dst = 0; dst < POOL_SIZE; dst++) pool[dst] = mix(pool[dst]!, hashmix(entropy[src]!));
  }
  const out: number[] = [];
  let hc = INIT_B;
  for (let i = 0; i < nWords; i++) {
    let v = (pool[i % POOL_SIZE]! ^ hc) >>> 0;
    hc = mul32(hc, MULT_B);
    v = mul32(v, hc);
    out.push((v ^ (v >>> 16)) >>> 0);
  }
  return out;
}

/** Snapshot of a {@link NumpyRng}, for checkpoints (decimal strings: JSON has no 128-bit ints). */
export interface NumpyRngState {
  state: string;
  inc: string;
}

/** numpy's default bit generator (PCG64) seeded as `np.random.default_rng(seed)` seeds it. */
export class NumpyRng {
  private state: bigint;
  private inc: bigint;

  constructor(seed: number | bigint) {
    if (typeof seed === 'number' && (!Number.isSafeInteger(seed) || seed < 0)) {
      throw new RangeError(`seed must be a non-negative integer, got ${seed}`);
    }
    if (typeof seed === 'bigint' && seed < 0n) throw new RangeError(`seed must be non-negative, got ${seed}`);
    // generate_state(4, uint64): word pairs, low half first; seed = (w0 << 64) | w1, inc = (w2 << 64) | w3.
    const w = seedSequenceState(seed, 8);
    const u64 = (k: number): bigint => (BigInt(w[2 * k + 1]!) << 32n) | BigInt(w[2 * k]!);
    const initState = (u64(0) << 64n) | u64(1);
    const initSeq = (u64(2) << 64n) | u64(3);
    // pcg_setseq_128_srandom_r
    this.inc = ((initSeq << 1n) | 1n) & M128;
    this.state = 0n;
    this.step();
    this.state = (this.state + initState) & M128;
    this.step();
  }

  private step(): void {
    this.state = (this.state * PCG_MULT + this.inc) & M128;
  }

  /** The next raw 64-bit word (`bit_generator.random_raw()`). */
  nextUint64(): bigint {
    this.step();
    const s = this.state;
    const x = ((s >> 64n) ^ s) & M64;
    const rot = s >> 122n;
    return ((x >> rot) | (x << ((64n - rot) & 63n))) & M64;
  }

  /** `Generator.random()`: a double in [0, 1) from the top 53 bits. */
  random(): number {
    return Number(this.nextUint64() >> 11n) * (1.0 / 9007199254740992.0);
  }

  getState(): NumpyRngState {
    return { state: this.state.toString(), inc: this.inc.toString() };
  }

  setState(s: NumpyRngState): void {
    this.state = BigInt(s.state);
    this.inc = BigInt(s.inc);
  }
}

/**
 * The cumulative table `Generator.choice(n, p=p)` searches: `cdf = p.cumsum(); cdf /= cdf[-1]`
 * (numpy's 1-D cumsum adds left to right, as here).
 */
export function choiceCdf(p: readonly number[]): Float64Array {
  const cdf = new Float64Array(p.length);
  let acc = 0;
  for (let i = 0; i < p.length; i++) {
    acc += p[i]!;
    cdf[i] = acc;
  }
  const last = cdf[p.length - 1]!;
  for (let i = 0; i < p.length; i++) cdf[i] = cdf[i]! / last;
  return cdf;
}

/** One draw of `choice(len(p), p=p)`: `cdf.searchsorted(random(), side='right')`. */
export function choiceIndex(rng: NumpyRng, cdf: Float64Array): number {
  const u = rng.random();
  let lo = 0;
  let hi = cdf.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cdf[mid]! <= u) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
