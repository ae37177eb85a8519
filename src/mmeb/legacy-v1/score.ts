// Scoring of the legacy V1 harness (docs/mmeb.md §11; reference `v1:evaluation/eval_utils.py` get_pred
// and the scoring loop of `v1:eval.py`): per row, the query vector against its own candidate
// vectors, cosine (computed explicitly) with --normalize else the dot product, and the
// prediction is numpy's argmax — the FIRST maximum, so exact ties go to index 0, the positive.
// The row is correct iff the prediction is 0; acc = correct / rows.

import { pyFloat } from '../run/results.ts';
import { pyPairRepr } from './pyrepr.ts';

/**
 * Scores of `targets` against `query`: `t·q / (|t|·|q|)` when `normalize`, else `t·q`.
 * Accumulated in float64 (the reference uses float32 BLAS, whose rounding order we cannot
 * replay; identical vectors tie exactly either way). A zero vector gives NaN, as numpy's 0/0.
 *
 * @example
 * v1Scores(Float32Array.of(1, 0), [Float32Array.of(2, 0), Float32Array.of(0, 3)], false); // [2, 0]
 */
export function v1Scores(query: Float32Array, targets: readonly Float32Array[], normalize: boolean): Float64Array {
  const out = new Float64Array(targets.length);
  const qn = normalize ? Math.sqrt(dot(query, query)) : 1;
  targets.forEach((t, i) => {
    const d = dot(t, query);
    out[i] = normalize ? d / (Math.sqrt(dot(t, t)) * qn) : d;
  });
  return out;
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let k = 0; k < a.length; k++) s += a[k]! * b[k]!;
  return s;
}

/**
 * numpy's `argmax`: the index of the first maximum; a NaN counts as the maximum (the first NaN
 * wins), as numpy propagates it.
 *
 * @example
 * argmaxFirst([0.5, 0.5, 0.1]); // 0
 * argmaxFirst([0.1, NaN, 0.9]); // 1
 */
export function argmaxFirst(scores: ArrayLike<number>): number {
  let best = 0;
  for (let i = 0; i < scores.length; i++) {
    const v = scores[i]!;
    if (Number.isNaN(v)) return i;
    if (v > scores[best]!) best = i;
  }
  return best;
}

/** The `<subset>_score.json` record. */
export interface V1Score {
  acc: number;
  num_correct: number;
  num_pred: number;
}

/**
 * `json.dump({"acc": n/N, "num_correct": n, "num_pred": N}, f, indent=4)`, byte for byte
 * (Python float repr for acc, no trailing newline).
 *
 * @example
 * formatV1ScoreFile({ acc: 0.5, num_correct: 1, num_pred: 2 });
 * // '{\n    "acc": 0.5,\n    "num_correct": 1,\n    "num_pred": 2\n}'
 */
export function formatV1ScoreFile(s: V1Score): string {
  return `{\n    "acc": ${pyFloat(s.acc)},\n    "num_correct": ${s.num_correct},\n    "num_pred": ${s.num_pred}\n}`;
}

/**
 * `<subset>_pred.txt`: one `f"{(tgt_text, tgt_img_path)}\n"` line per row, the raw (stored,
 * un-replaced) pair of the predicted candidate.
 *
 * @example
 * formatV1PredFile([{ text: "it's", imgPath: '' }]); // `("it's", '')\n`
 */
export function formatV1PredFile(preds: readonly { text: string; imgPath: string }[]): string {
  return preds.map((p) => `${pyPairRepr(p.text, p.imgPath)}\n`).join('');
}
