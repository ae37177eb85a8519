// Result files in the reference layout (docs/mmeb.md §9):
// `OUT/<modality>/<Task>_score.json` (json.dump(indent=4): the 24 metrics in reference order,
// then num_pred and num_data) and `<Task>_pred.jsonl` (one json.dumps line per query). Numbers
// and strings are written the way Python writes them (`1.0`, `1e-05`, `\u00e9`), so our files
// diff cleanly against the reference's. Both are written atomically; the score file is written
// last and is the marker that a task is finished.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../util/fs.ts';
import { Vlm2VecError } from '../../errors.ts';
import { isIntegerKey } from '../score/pyorder.ts';
import { METRIC_KEYS, type PredLine, type ScoreDict, type TaskDef } from '../tasks/types.ts';

export function scorePath(outDir: string, task: TaskDef): string {
  return join(outDir, task.modality, `${task.name}_score.json`);
}

export function predPath(outDir: string, task: TaskDef): string {
  return join(outDir, task.modality, `${task.name}_pred.jsonl`);
}

/**
 * Python's `repr(float)`: shortest round-trip digits (as JavaScript), but scientific notation
 * when the exponent is < -4 or ≥ 16, a two-digit signed exponent, and `.0` on integral values.
 *
 * @example
 * pyFloat(1); // '1.0'
 * pyFloat(0.00001); // '1e-05'
 * pyFloat(1e16); // '1e+16'
 */
export function pyFloat(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mant, expStr] = x.toExponential().split('e') as [string, string];
  const exp = Number(expStr);
  const neg = mant.startsWith('-');
  const digits = mant.replace('-', '').replace('.', '');
  const sign = neg ? '-' : '';
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return `${sign}${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  if (digits.length <= exp + 1) return `${sign}${digits}${'0'.repeat(exp + 1 - digits.length)}.0`;
  return `${sign}${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
}

/**
 * A string as Python's json module writes it (ensure_ascii: everything outside space..tilde is
 * escaped, with the short forms for \n \r \t \b \f).
 *
 * @example
 * pyString('café "x"'); // '"caf\\u00e9 \\"x\\""'
 */
export function pyString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ch = s[i]!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (c >= 0x20 && c <= 0x7e) out += ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else out += `\\u${c.toString(16).padStart(4, '0')}`;
  }
  return `${out}"`;
}

function pyValue(v: unknown, ints: boolean): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return pyString(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return ints && Number.isInteger(v) ? String(v) : pyFloat(v);
  if (Array.isArray(v)) return `[${v.map((x) => pyValue(x, ints)).join(', ')}]`;
  throw new TypeError(`pyValue: unsupported ${typeof v}`);
}

/**
 * The `_score.json` text: `json.dump(scores, f, indent=4)` of the reference's dict (metrics as
 * Python floats, counts as ints), plus optional flags (e.g. `graded_ndcg`) after the counts.
 */
export function formatScoreFile(scores: ScoreDict, flags: Record<string, string | number> = {}): string {
  const lines: string[] = [];
  for (const k of METRIC_KEYS) lines.push(`    ${pyString(k)}: ${pyFloat(scores[k])}`);
  lines.push(`    "num_pred": ${Math.trunc(scores.num_pred)}`, `    "num_data": ${Math.trunc(scores.num_data)}`);
  for (const [k, v] of Object.entries(flags)) lines.push(`    ${pyString(k)}: ${pyValue(v, true)}`);
  return `{\n${lines.join(',\n')}\n}`;
}

/** Ids as the reference's json.dumps writes them: JSON numbers for Python ints, else strings. */
function pyIds(ids: readonly string[], kind: PredLine['labelKind'], field: string): string {
  if (kind !== 'int') return pyValue(ids, true);
  // The decimal text is written as is (no Number round trip), so 64-bit ids stay exact.
  const bad = ids.find((s) => !isIntegerKey(s));
  if (bad !== undefined) throw new Vlm2VecError('mmeb', `_pred.jsonl: ${field} id '${bad}' is not an integer, but the ids were declared int`);
  return `[${ids.join(', ')}]`;
}

/**
 * One `_pred.jsonl` line as `json.dumps` writes it (`, ` and `: ` separators). With
 * `labelKind: 'int'` the ids of `prediction` and `label` are written as numbers.
 *
 * @example
 * formatPredLine({ prediction: ['12', '3'], label: ['12'], rel_scores: [1], labelKind: 'int' });
 * // '{"prediction": [12, 3], "label": [12], "rel_scores": [1]}'
 */
export function formatPredLine(p: PredLine): string {
  return `{"prediction": ${pyIds(p.prediction, p.labelKind, 'prediction')}, "label": ${pyIds(p.label, p.labelKind, 'label')}, "rel_scores": ${pyValue(p.rel_scores, true)}}`;
}

/** Write `_pred.jsonl` then `_score.json`, each atomically (the score file marks completion). */
export async function writeTaskResults(
  outDir: string,
  task: TaskDef,
  scores: ScoreDict,
  preds: readonly PredLine[],
  flags: Record<string, string | number> = {},
): Promise<{ scoreFile: string; predFile: string }> {
  const predFile = predPath(outDir, task);
  const scoreFile = scorePath(outDir, task);
  await writeFileAtomic(predFile, preds.map((p) => `${formatPredLine(p)}\n`).join(''));
  await writeFileAtomic(scoreFile, formatScoreFile(scores, flags));
  return { scoreFile, predFile };
}

/**
 * The finished score record of a task, or undefined when it has not finished (or is unreadable).
 * A record scored with the other graded-nDCG pairing (its `graded_ndcg` flag differs from
 * `gradedNdcg`, default `reference`) does not count as finished: the task is scored again (its
 * embeddings come from the cache) instead of silently keeping numbers of the other mode.
 */
export function readFinishedScores(
  outDir: string,
  task: TaskDef,
  gradedNdcg: 'reference' | 'corrected' = 'reference',
): Record<string, number> | undefined {
  const f = scorePath(outDir, task);
  if (!existsSync(f)) return undefined;
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(readFileSync(f, 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof json[task.metric] !== 'number') return undefined;
  if (typeof json.graded_ndcg === 'string' && json.graded_ndcg !== gradedNdcg) return undefined;
  return json as Record<string, number>;
}
