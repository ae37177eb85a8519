// Reads the goldens of tools/reference/train_step.py (test/fixtures/train/step/).

import { join } from 'node:path';
import { readJsonFile } from '../io/weights/hf-configs.ts';
import { SafetensorsFile } from '../io/weights/safetensors.ts';

export const STEP_FIXTURES = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'train', 'step');

/** Every float32 tensor of one fixture file, by name. */
export async function readStepTensors(file: string): Promise<Map<string, Float32Array>> {
  const f = await SafetensorsFile.open(join(STEP_FIXTURES, file));
  try {
    const out = new Map<string, Float32Array>();
    for (const n of f.names()) {
      const t = await f.read(n);
      if (t.data instanceof Float32Array) out.set(n, t.data);
    }
    return out;
  } finally {
    await f.close();
  }
}

/** An int64 tensor of a fixture file as numbers. */
export async function readStepIds(file: string, name: string): Promise<number[]> {
  const f = await SafetensorsFile.open(join(STEP_FIXTURES, file));
  try {
    return Array.from((await f.read(name)).data as BigInt64Array, Number);
  } finally {
    await f.close();
  }
}

export async function readStepJson<T>(file: string): Promise<T> {
  return (await readJsonFile('test', join(STEP_FIXTURES, file))) as T;
}

export function need(m: Map<string, Float32Array>, k: string): Float32Array {
  const v = m.get(k);
  if (!v) throw new Error(`fixture tensor ${k} missing`);
  return v;
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** ‖a − b‖ / ‖b‖ */
export function relL2(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num / den);
}
