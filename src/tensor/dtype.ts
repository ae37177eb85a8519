// Element types of the engine and their mapping to JS typed arrays and ONNX TensorProto codes.
// bfloat16 is deliberately absent: ORT's JS API has no bf16 tensors, so checkpoints convert it on load.
// uint8 / int8 exist for quantized weights (packed 4-bit blocks, int8 matrices, zero points): no
// arithmetic primitive accepts them, only leaves, casts and the quantized matmul (ops/quant.ts).

import { Vlm2VecError } from '../errors.ts';

/** Element type of a tensor. */
export type DType = 'float32' | 'float16' | 'float64' | 'int64' | 'int32' | 'bool' | 'uint8' | 'int8';

export const DTYPES: readonly DType[] = ['float32', 'float16', 'float64', 'int64', 'int32', 'bool', 'uint8', 'int8'];

/** Typed array holding the elements of each dtype (float16 as raw IEEE half bits). */
export interface TypedArrayOf {
  float32: Float32Array;
  float16: Uint16Array;
  float64: Float64Array;
  int64: BigInt64Array;
  int32: Int32Array;
  bool: Uint8Array;
  uint8: Uint8Array;
  int8: Int8Array;
}
export type TypedArray = TypedArrayOf[DType];

/** ONNX TensorProto.DataType codes (onnx.proto). */
export const ONNX_DTYPE: Record<DType, number> = {
  float32: 1,
  bool: 9,
  int32: 6,
  int64: 7,
  float16: 10,
  float64: 11,
  uint8: 2,
  int8: 3,
};

/** Bytes per element. */
export const DTYPE_BYTES: Record<DType, number> = {
  float32: 4,
  float16: 2,
  float64: 8,
  int64: 8,
  int32: 4,
  bool: 1,
  uint8: 1,
  int8: 1,
};

export function isFloat(d: DType): boolean {
  return d === 'float32' || d === 'float16' || d === 'float64';
}

export function isInteger(d: DType): boolean {
  return d === 'int64' || d === 'int32';
}

/** Allocates a zero-filled typed array of `n` elements of dtype `d`. */
export function allocTyped(d: DType, n: number): TypedArray {
  switch (d) {
    case 'float32':
      return new Float32Array(n);
    case 'float16':
      return new Uint16Array(n);
    case 'float64':
      return new Float64Array(n);
    case 'int64':
      return new BigInt64Array(n);
    case 'int32':
      return new Int32Array(n);
    case 'bool':
    case 'uint8':
      return new Uint8Array(n);
    case 'int8':
      return new Int8Array(n);
    default: {
      const never: never = d;
      throw new Vlm2VecError('tensor', `unknown dtype ${String(never)}`);
    }
  }
}

/** Which dtype a given typed array most naturally holds (Uint16Array is read as float16). */
export function dtypeOfTyped(a: TypedArray): DType {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof BigInt64Array) return 'int64';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof Uint16Array) return 'float16';
  if (a instanceof Int8Array) return 'int8';
  return 'bool';
}

/** Whether `a` is the typed array that holds dtype `d` (a Uint8Array holds both bool and uint8). */
export function holdsDType(a: TypedArray, d: DType): boolean {
  return d === 'uint8' ? a instanceof Uint8Array : dtypeOfTyped(a) === d;
}

/** Converts one float to IEEE half bits (round to nearest even). */
export function floatToHalf(v: number): number {
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  f[0] = v;
  const x = u[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  e = half;
  return sign | e;
}

/** Converts IEEE half bits to a number. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Fills a typed array of dtype `d` from JS numbers/booleans. */
export function typedFromNumbers(d: DType, values: ArrayLike<number | boolean | bigint>): TypedArray {
  const out = allocTyped(d, values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (d === 'int64') (out as BigInt64Array)[i] = typeof v === 'bigint' ? v : BigInt(Math.trunc(Number(v)));
    else if (d === 'float16') (out as Uint16Array)[i] = floatToHalf(Number(v));
    else if (d === 'bool') (out as Uint8Array)[i] = v ? 1 : 0;
    else (out as Float32Array)[i] = Number(v);
  }
  return out;
}

/** Reads a typed array of dtype `d` as plain JS numbers (int64 via Number, float16 decoded). */
export function typedToNumbers(d: DType, a: TypedArray): number[] {
  const out = new Array<number>(a.length);
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    out[i] = d === 'float16' ? halfToFloat(v as number) : Number(v);
  }
  return out;
}
