// Typed access to dataset row fields. A missing or mistyped field is a clear error naming the
// task, the file, the row and the field, and what type was expected.

import { Vlm2VecError } from '../../errors.ts';
import type { RowRef } from './read.ts';

const dec = new TextDecoder('utf-8', { fatal: false });

function describe(v: unknown): string {
  if (v === undefined) return 'missing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (v instanceof Uint8Array) return 'bytes';
  return `a ${typeof v}`;
}

function fail(task: string, r: RowRef, field: string, expected: string, v: unknown): never {
  throw new Vlm2VecError('data', `task ${task}: ${r.file} row ${r.index}: field '${field}' should be ${expected}, found ${describe(v)}`);
}

function asString(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  // Byte arrays without a UTF8 annotation (we read with utf8:false so images stay bytes).
  if (v instanceof Uint8Array) return dec.decode(v);
  return undefined;
}

/** A string field. */
export function str(r: RowRef, field: string, task: string): string {
  const v = r.data[field];
  const s = asString(v);
  if (s === undefined) fail(task, r, field, 'a string', v);
  return s;
}

/** A string field that may be null/missing (→ undefined). */
export function optStr(r: RowRef, field: string, task: string): string | undefined {
  const v = r.data[field];
  if (v === null || v === undefined) return undefined;
  return str(r, field, task);
}

/** A list<string> field. */
export function strList(r: RowRef, field: string, task: string, { nonEmpty = false } = {}): string[] {
  const v = r.data[field];
  if (!Array.isArray(v)) fail(task, r, field, 'a list of strings', v);
  const out = v.map((x) => asString(x));
  if (out.some((x) => x === undefined)) fail(task, r, field, 'a list of strings', v.find((x) => asString(x) === undefined));
  if (nonEmpty && out.length === 0) {
    throw new Vlm2VecError('data', `task ${task}: ${r.file} row ${r.index}: field '${field}' is an empty list (expected at least one entry)`);
  }
  return out as string[];
}

/** An integer field (parquet INT64 arrives as bigint). */
export function int(r: RowRef, field: string, task: string): number {
  const v = r.data[field];
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) return Number(v.trim());
  return fail(task, r, field, 'an integer', v);
}

/** A number field (int or float). */
export function num(r: RowRef, field: string, task: string): number {
  const v = r.data[field];
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  return fail(task, r, field, 'a number', v);
}

/** An id that may be stored as a string or an integer (BEIR ids); returned as its string form. */
export function id(r: RowRef, field: string, task: string): string {
  const v = r.data[field];
  if (typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v))) return String(v);
  const s = asString(v);
  if (s === undefined) fail(task, r, field, 'a string or integer id', v);
  return s;
}

/**
 * The Python type an id field had in the dataset: `int` for an integer column (parquet INT32 /
 * INT64, a JSON number), `str` for a string column — even when the text is all digits. The
 * reference keeps that type, and it changes CPython's set order and how json.dumps writes the id.
 *
 * @example
 * idKind({ data: { 'corpus-id': 12n }, file: 'c.parquet', index: 0 }, 'corpus-id', 'T'); // 'int'
 */
export function idKind(r: RowRef, field: string, task: string): 'int' | 'str' {
  const v = r.data[field];
  if (typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v))) return 'int';
  if (asString(v) !== undefined) return 'str';
  return fail(task, r, field, 'a string or integer id', v);
}

/** A list of structs (e.g. MomentSeeker `positive_frames`), each checked to be an object. */
export function structList(r: RowRef, field: string, task: string): Record<string, unknown>[] {
  const v = r.data[field];
  if (!Array.isArray(v) || v.some((x) => x === null || typeof x !== 'object' || Array.isArray(x) || x instanceof Uint8Array)) {
    fail(task, r, field, 'a list of structs', v);
  }
  return v as Record<string, unknown>[];
}

/** The string member `key` of struct `s` found in `field` (for error messages on nested data). */
export function structStr(s: Record<string, unknown>, key: string, r: RowRef, field: string, task: string): string {
  const v = asString(s[key]);
  if (v === undefined) fail(task, r, `${field}[].${key}`, 'a string', s[key]);
  return v;
}

/** An HF `Image` column value: `{bytes, path}` struct (or raw bytes). */
export function imageBytes(r: RowRef, field: string, task: string): { bytes: Uint8Array; path: string | undefined } {
  const v = r.data[field];
  if (v instanceof Uint8Array) return { bytes: v, path: undefined };
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    const b = o['bytes'];
    const p = typeof o['path'] === 'string' ? o['path'] : o['path'] instanceof Uint8Array ? dec.decode(o['path']) : undefined;
    if (b instanceof Uint8Array) return { bytes: b, path: p };
    return fail(task, r, `${field}.bytes`, 'image bytes', b);
  }
  return fail(task, r, field, 'an image {bytes, path} struct', v);
}
