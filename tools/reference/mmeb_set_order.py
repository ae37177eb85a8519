#!/usr/bin/env python3
"""Golden fixtures for the MMEB metrics (src/mmeb/score/pyorder.ts, src/mmeb/score/metrics.ts).

Writes test/fixtures/mmeb/set-order.json with
  - `set_order`: random integer label lists and CPython's `list(set(labels))` for each (ids as
    decimal strings so 64-bit values survive JSON); sizes cross several table resizes, values
    cover small ids, large ids (perturbed probing), negatives, -1 and values >= 2**61 - 1;
  - `np_mean`: float lists and `float(np.mean(x))` (numpy pairwise summation);
  - `metrics`: random ranking cases (duplicates in predictions and labels, multiple positives,
    empty label lists, graded integer-id qrels) and the scores computed with CPython sets and
    numpy means following the reference `RankingMetrics` semantics (docs/mmeb.md §7).

  - `str_set_order`: random str label lists (ASCII, Latin-1, BMP and astral characters, the
    empty string) and `list(set(labels))` under PYTHONHASHSEED=0 (CPython >= 3.11: SipHash-1-3
    with a zero key), plus `hash(s)` of each string;
  - a graded metrics task with str ids, scored under PYTHONHASHSEED=0.

Regenerate (from the repo root):  tools/reference/.venv/bin/python tools/reference/mmeb_set_order.py
Deterministic: fixed random seed; the script re-executes itself with PYTHONHASHSEED=0.
"""
import json
import math
import os
import random
import sys

import numpy as np

if os.environ.get('PYTHONHASHSEED') != '0':
    os.execve(sys.executable, [sys.executable] + sys.argv, {**os.environ, 'PYTHONHASHSEED': '0'})

OUT = os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'fixtures', 'mmeb', 'set-order.json')
rng = random.Random(20260126)


def rand_int_labels():
    n = rng.choice([1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 19, 20, 25, 40, 77, 78, 120, 300])
    kind = rng.choice(['small', 'mid', 'big', 'neg', 'huge', 'mixed'])
    out = []
    for _ in range(n):
        if kind == 'small':
            v = rng.randint(0, 40)
        elif kind == 'mid':
            v = rng.randint(0, 100000)
        elif kind == 'big':
            v = rng.randint(0, 2 ** 63 - 1)
        elif kind == 'neg':
            v = rng.randint(-50, 50)
        elif kind == 'huge':
            v = rng.choice([2 ** 61 - 1, 2 ** 61, 2 ** 64 + 3, -(2 ** 61) - 5, -1, -2, 0]) + rng.randint(0, 3)
        else:
            v = rng.choice([rng.randint(0, 20), rng.randint(0, 2 ** 40), -rng.randint(0, 9)])
        out.append(v)
    if len(out) > 1 and rng.random() < 0.5:  # duplicates
        out += rng.sample(out, k=max(1, len(out) // 3))
        rng.shuffle(out)
    return out


def set_order_cases():
    cases = [[12, 15, 40], [40, 12, 15], [8, 0, 16], [1, 9, 17, 25, 33]]
    cases += [rand_int_labels() for _ in range(600)]
    return [{'labels': [str(v) for v in c], 'order': [str(v) for v in list(set(c))]} for c in cases]


ALPHABETS = ['abcdefghij0123456789_-.', 'ab\u00e9\u00fc\u00ff', 'x\u4e2d\u6587\u0101', 'q\U0001F600\u00e9']


def rand_str():
    alpha = rng.choice(ALPHABETS)
    return ''.join(rng.choice(alpha) for _ in range(rng.choice([0, 1, 3, 7, 8, 9, 15, 16, 17, 40])))


def str_set_order_cases():
    out = []
    for _ in range(300):
        n = rng.choice([2, 3, 4, 5, 6, 8, 12, 20, 30])
        labels = [rand_str() for _ in range(n)]
        if rng.random() < 0.3:
            labels += rng.sample(labels, k=max(1, n // 3))
        out.append({'labels': labels, 'order': list(set(labels)), 'hashes': [str(hash(x) & (2 ** 64 - 1)) for x in labels]})
    return out


def mean_cases():
    out = []
    for n in [1, 2, 7, 8, 9, 15, 16, 17, 127, 128, 129, 255, 256, 257, 1000, 1083, 4478]:
        xs = [rng.random() ** 3 for _ in range(n)]
        out.append({'values': xs, 'mean': float(np.mean(xs))})
    return out


# ---- metrics, following the reference RankingMetrics semantics (docs/mmeb.md §7) ----

def dcg(rels, exponential):
    return sum(((2 ** r - 1) if exponential else r) / np.log2(i + 2) for i, r in enumerate(rels))


def query_metrics(pred, label, rel_scores, corrected):
    labels = list(set(label))
    L = set(labels)
    m = {}
    for k in (1, 5, 10):
        pk = pred[:k]
        inter = len(set(pk) & L)
        p = inter / k if L else 0.0
        r = inter / len(L) if L else 1.0
        m[f'hit@{k}'] = 1.0 if (L and inter > 0) else 0.0
        m[f'precision@{k}'] = p
        m[f'recall@{k}'] = r
        m[f'f1@{k}'] = 0.0 if p + r == 0 else 2 * (p * r) / (p + r)
        if rel_scores is None:
            rel = [1 if x in L else 0 for x in pk]
            ideal = [1] * min(len(L), k)
        else:
            if corrected:
                grades = {}
                for l, g in zip(label, rel_scores):
                    grades[l] = max(grades.get(l, g), g)
            else:
                grades = dict(zip(labels, rel_scores))
            rel = [grades.get(x, 0) for x in pk]
            ideal = sorted(grades.values(), reverse=True)[:k]
        for form, ex in (('linear', False), ('exponential', True)):
            d = dcg(rel, ex)
            idcg = dcg(ideal, ex) if ideal else 1
            m[f'ndcg_{form}@{k}'] = float(d / idcg) if idcg > 0 else 0.0
        hits, ap, rr = 0, 0.0, 0.0
        for i, x in enumerate(pk):
            if x in L:
                hits += 1
                ap += hits / (i + 1.0)
                if rr == 0.0:
                    rr = 1.0 / (i + 1)
        m[f'map@{k}'] = 0.0 if (not hits or not L) else ap / min(len(L), k)
        m[f'mrr@{k}'] = rr
    return m


KEYS = [f'{m}@{k}' for m in ['hit', 'ndcg_linear', 'ndcg_exponential', 'precision', 'recall', 'f1', 'map', 'mrr'] for k in (1, 5, 10)]


def score(cases, corrected=False):
    per = [query_metrics(c['prediction_py'], c['label_py'], c['rel_scores'], corrected) for c in cases]
    return {key: float(np.mean([q[key] for q in per])) for key in KEYS}


def metric_task(kind, nq):
    cases = []
    for _ in range(nq):
        if kind == 'local_dups':
            pool = [f'c{i}' for i in range(rng.randint(1, 12))]
            pred = [rng.choice(pool) for _ in range(rng.randint(1, 14))]
            label = [rng.choice(pool)]
            if rng.random() < 0.2:
                label = label * 2
            rel = None
        elif kind == 'multi':
            pool = [str(i) for i in range(rng.randint(3, 30))]
            pred = rng.sample(pool, k=len(pool))
            label = rng.sample(pool, k=rng.randint(0, min(6, len(pool))))
            rel = None
        elif kind == 'graded_str':
            pool = list(dict.fromkeys(f'page_{rng.randint(0, 500)}.png' for _ in range(rng.randint(3, 30))))
            pred = rng.sample(pool, k=len(pool))
            label = rng.sample(pool, k=rng.randint(1, min(7, len(pool))))
            rel = [rng.choice([1, 1, 2, 3]) for _ in label]
        else:  # graded integer ids
            pool = [str(rng.randint(0, 3000)) for _ in range(rng.randint(3, 40))]
            pool = list(dict.fromkeys(pool))
            pred = rng.sample(pool, k=len(pool))
            label = rng.sample(pool, k=rng.randint(1, min(7, len(pool))))
            rel = [rng.choice([1, 1, 2, 3]) for _ in label]
        cases.append({'prediction': pred, 'label': label, 'rel_scores': rel})
    for c in cases:
        ints = kind == 'graded'
        c['prediction_py'] = [int(x) for x in c['prediction']] if ints else c['prediction']
        c['label_py'] = [int(x) for x in c['label']] if ints else c['label']
    out = {'kind': kind, 'cases': [{k: c[k] for k in ('prediction', 'label', 'rel_scores')} for c in cases],
           'scores': score(cases)}
    if kind.startswith('graded'):
        out['scores_corrected'] = score(cases, corrected=True)
    return out


def main():
    doc = {
        'generator': 'tools/reference/mmeb_set_order.py',
        'python': sys.version.split()[0],
        'numpy': np.__version__,
        'set_order': set_order_cases(),
        'str_set_order': str_set_order_cases(),
        'np_mean': mean_cases(),
        'metrics': [metric_task('local_dups', 300), metric_task('multi', 200), metric_task('graded', 200),
                    metric_task('graded_str', 150)],
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, 'w') as f:
        json.dump(doc, f, separators=(',', ':'))
    print(f'wrote {OUT}: {len(doc["set_order"])} set-order cases')


if __name__ == '__main__':
    main()
