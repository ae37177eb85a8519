// safetensors element types and the float conversions we need around them.
//
// Node 20 has no Float16Array and no bfloat16 type, so F16 and BF16 tensors are carried as their
// raw 16-bit patterns in a Uint16Array and widened to float32 on demand. BF16 is storage-only in
// this project (checkpoints ship in bf16; all math runs in f32), so the helpers here are the only
// place that knows the bit layouts.

import { Vlm2VecError } from '../../errors.ts';

/** The dtypes we read and write (the subset of the safetensors spec that HF checkpoints use). */
export type SafetensorsDType = 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'U8' | 'BOOL';

/** Bytes per element of each dtype. */
export const DTYPE_BYTES = {
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  U8: 1,
  BOOL: 1,
} as const satisfies Record<SafetensorsDType, number>;

export const SAFETENSORS_DTYPES = Object.keys(DTYPE_BYTES) as SafetensorsDType[];

/**
 * The JS array that holds each dtype's elements: F16/BF16 as raw bit patterns (Uint16Array),
 * BOOL as one byte per element (0 or 1).
 */
export interface DTypeArrayMap {
  F32: Float32Array;
  F16: Uint16Array;
  BF16: Uint16Array;
  I64: BigInt64Array;
  I32: Int32Array;
  U8: Uint8Array;
  BOOL: Uint8Array;
}

export type TensorArray = DTypeArrayMap[SafetensorsDType];

export function isSafetensorsDType(s: string): s is SafetensorsDType {
  return Object.hasOwn(DTYPE_BYTES, s);
}

/**
 * Views `bytes` (little-endian tensor data, length a multiple of the element size) as the dtype's
 * typed array. Copies only when `bytes` is not aligned for the element size.
 */
export function viewAs<D extends SafetensorsDType>(dtype: D, bytes: Uint8Array): DTypeArrayMap[D] {
  const size = DTYPE_BYTES[dtype];
  if (bytes.byteLength % size !== 0) {
    throw new Vlm2VecError('safetensors', `${bytes.byteLength} bytes is not a whole number of ${dtype} elements`);
  }
  const aligned = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
  const { buffer, byteOffset } = aligned;
  const n = bytes.byteLength / size;
  const out: TensorArray = (() => {
    switch (dtype) {
      case 'F32':
        return new Float32Array(buffer, byteOffset, n);
      case 'F16':
      case 'BF16':
        return new Uint16Array(buffer, byteOffset, n);
      case 'I64':
        return new BigInt64Array(buffer, byteOffset, n);
      case 'I32':
        return new Int32Array(buffer, byteOffset, n);
      case 'U8':
      case 'BOOL':
        return new Uint8Array(buffer, byteOffset, n);
      default: {
        const never: never = dtype;
        throw new Error(`unreachable dtype ${String(never)}`);
      }
    }
  })();
  return out as DTypeArrayMap[D];
}

/** The raw bytes behind a typed array (no copy). */
export function bytesOf(a: TensorArray): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/**
 * Widens bfloat16 bit patterns to float32 (exact: bf16 is the top half of an f32).
 * @example bf16ToF32(new Uint16Array([0x3f80])) // Float32Array [1]
 */
export function bf16ToF32(src: Uint16Array): Float32Array {
  // Int32Array: `x << 16` is already an int32, so V8 stores it without a double conversion
  // (measurably faster than Uint32Array on the hot path of loading bf16 checkpoints).
  const bits = new Int32Array(src.length);
  for (let i = 0; i < src.length; i++) bits[i] = (src[i] as number) << 16;
  return new Float32Array(bits.buffer);
}

/**
 * Narrows float32 to bfloat16 bit patterns with round-to-nearest-even, as torch's `.to(bfloat16)`
 * does; NaNs stay (quiet) NaNs instead of rounding into infinity.
 * @example f32ToBf16(new Float32Array([1])) // Uint16Array [0x3f80]
 */
export function f32ToBf16(src: Float32Array): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const b = bits[i] as number;
    if ((b & 0x7fffffff) > 0x7f800000) {
      out[i] = (b >>> 16) | 0x0040; // keep sign and payload top bits, force quiet
      continue;
    }
    const lsb = (b >>> 16) & 1;
    out[i] = ((b + 0x7fff + lsb) >>> 16) & 0xffff;
  }
  return out;
}

/**
 * Widens IEEE half-precision bit patterns (including subnormals, ±inf, NaN) to float32 (exact).
 * @example f16ToF32(new Uint16Array([0x3c00])) // Float32Array [1]
 */
export function f16ToF32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const h = src[i] as number;
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const man = h & 0x3ff;
    if (exp === 0) out[i] = sign * man * 2 ** -24;
    else if (exp === 31) out[i] = man === 0 ? sign * Infinity : NaN;
    else out[i] = sign * (1 + man / 1024) * 2 ** (exp - 15);
  }
  return out;
}

/**
 * Narrows float32 to IEEE half bit patterns with round-to-nearest-even (overflow → ±inf,
 * underflow → subnormals / ±0), matching numpy's and torch's `astype(float16)`.
 * @example f32ToF16(new Float32Array([65520])) // Uint16Array [0x7c00] (rounds to inf)
 */
export function f32ToF16(src: Float32Array): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const b = bits[i] as number;
    const sign = (b >>> 16) & 0x8000;
    const exp = (b >>> 23) & 0xff;
    let man = b & 0x7fffff;
    if (exp === 0xff) {
      out[i] = sign | 0x7c00 | (man ? 0x200 | (man >>> 13) : 0);
      continue;
    }
    const e = exp - 127 + 15; // rebiased exponent
    if (e >= 31) {
      out[i] = sign | 0x7c00;
      continue;
    }
    if (e <= 0) {
      // Subnormal half (or zero): shift the full significand (with implicit 1) into place.
      if (e < -10) {
        out[i] = sign;
        continue;
      }
      man |= 0x800000;
      const shift = 14 - e; // 13 for the mantissa width difference + (1 - e)
      const half = man >>> shift;
      const rem = man & ((1 << shift) - 1);
      const mid = 1 << (shift - 1);
      const up = rem > mid || (rem === mid && (half & 1) === 1);
      out[i] = sign | (half + (up ? 1 : 0));
      continue;
    }
    const half = (e << 10) | (man >>> 13);
    const rem = man & 0x1fff;
    const up = rem > 0x1000 || (rem === 0x1000 && (half & 1) === 1);
    // A carry out of the mantissa correctly bumps the exponent (up to inf).
    out[i] = sign | (half + (up ? 1 : 0));
  }
  return out;
}

/**
 * Converts a float tensor's elements (F32, F16 or BF16) to a Float32Array. F32 input is returned
 * as is (no copy).
 */
export function toFloat32(dtype: SafetensorsDType, data: TensorArray, what: string): Float32Array {
  switch (dtype) {
    case 'F32':
      return data as Float32Array;
    case 'F16':
      return f16ToF32(data as Uint16Array);
    case 'BF16':
      return bf16ToF32(data as Uint16Array);
    default:
      throw new Vlm2VecError('safetensors', `${what}: expected a float tensor (F32, F16 or BF16), found ${dtype}`);
  }
}

/**
 * Converts a float tensor's elements (F32, F16 or BF16) to IEEE half bit patterns, rounding to
 * nearest even (BF16 goes through its exact float32 value, so there is one rounding only). F16
 * input is returned as is (no copy). Values beyond ±65504 become ±inf, as torch's `.half()` does.
 *
 * @example toFloat16('BF16', new Uint16Array([0x3f80]), 'w') // Uint16Array [0x3c00] (1.0)
 */
export function toFloat16(dtype: SafetensorsDType, data: TensorArray, what: string): Uint16Array {
  switch (dtype) {
    case 'F16':
      return data as Uint16Array;
    case 'F32':
      return f32ToF16(data as Float32Array);
    case 'BF16':
      return f32ToF16(bf16ToF32(data as Uint16Array));
    default:
      throw new Vlm2VecError('safetensors', `${what}: expected a float tensor (F32, F16 or BF16), found ${dtype}`);
  }
}
