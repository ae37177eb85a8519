"""Group scores of the published MMEB-V2 score files, written without this project's code.

Reads test/fixtures/published-scores/<version>/*.json and prints, per version, the group table and
the V1-style table of test/fixtures/published-scores/aggregates.md (docs/mmeb.md §8): headline metric
per task (hit@1 image/video, ndcg_linear@5 visdoc) ×100, unweighted means over the tasks present in
each group, ALL over all tasks present (78, or 76 in v2.1), "(n=…)" when a group is incomplete.
Task lists and groups transcribe the tables of docs/mmeb.md §1 (upstream experiments/report_score_v2.py).
Standard library only:  python3 tools/reference/published_aggregates.py > /tmp/agg.md
"""
import json
import os

ROOT = os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'fixtures', 'published-scores')
VERSIONS = ['v2.0.0', 'v2.0.1', 'v2.1-baselines-visdoc-page-fixed']

IND = {
    'CLS': 'ImageNet-1K N24News HatefulMemes VOC2007 SUN397',
    'QA': 'OK-VQA A-OKVQA DocVQA InfographicsVQA ChartQA Visual7W',
    'RET': 'VisDial CIRR VisualNews_t2i VisualNews_i2t MSCOCO_t2i MSCOCO_i2t NIGHTS WebQA',
    'VG': 'MSCOCO',
}
OOD = {
    'CLS': 'Place365 ImageNet-A ImageNet-R ObjectNet Country211',
    'QA': 'ScienceQA VizWiz GQA TextVQA',
    'RET': 'FashionIQ Wiki-SS-NQ OVEN EDIS',
    'VG': 'RefCOCO RefCOCO-Matching Visual7W-Pointing',
}
VIDEO = {
    'CLS': 'K700 SmthSmthV2 HMDB51 UCF101 Breakfast',
    'QA': 'MVBench Video-MME NExTQA EgoSchema ActivityNetQA',
    'RET': 'DiDeMo MSR-VTT MSVD VATEX YouCook2',
    'MRET': 'QVHighlight Charades-STA MomentSeeker',
}
SYN = 'ViDoRe_syntheticDocQA_'
VISDOC = {
    'VDRv1': ['ViDoRe_arxivqa', 'ViDoRe_docvqa', 'ViDoRe_infovqa', 'ViDoRe_tabfquad', 'ViDoRe_tatdqa',
              'ViDoRe_shiftproject'] + [SYN + s for s in
                                        ['artificial_intelligence', 'energy', 'government_reports', 'healthcare_industry']],
    'VDRv2': ['ViDoRe_esg_reports_human_labeled_v2', 'ViDoRe_biomedical_lectures_v2_multilingual',
              'ViDoRe_economics_reports_v2_multilingual', 'ViDoRe_esg_reports_v2_multilingual'],
    'VR': 'VisRAG_ArxivQA VisRAG_ChartQA VisRAG_MP-DocVQA VisRAG_SlideVQA VisRAG_InfoVQA VisRAG_PlotQA'.split(),
    'OOD': 'ViDoSeek-page ViDoSeek-doc MMLongBench-page MMLongBench-doc'.split(),
}
META = ['CLS', 'QA', 'RET', 'VG']
COLS = ['image.CLS', 'image.QA', 'image.RET', 'image.VG', 'image', 'video.CLS', 'video.QA', 'video.RET', 'video.MRET',
        'video', 'visdoc.VDRv1', 'visdoc.VDRv2', 'visdoc.VR', 'visdoc.OOD', 'visdoc', 'ALL']


def groups():
    g = {}
    for m in META:
        g['image.' + m] = IND[m].split() + OOD[m].split()
    g['image'] = [t for m in META for t in g['image.' + m]]
    for m, ts in VIDEO.items():
        g['video.' + m] = ts.split()
    g['video'] = [t for m in VIDEO for t in g['video.' + m]]
    for m, ts in VISDOC.items():
        g['visdoc.' + m] = ts
    g['visdoc'] = [t for m in VISDOC for t in VISDOC[m]]
    g['ALL'] = g['image'] + g['video'] + g['visdoc']
    g['IND (20)'] = [t for m in META for t in IND[m].split()]
    g['OOD (16)'] = [t for m in META for t in OOD[m].split()]
    g['Overall (36)'] = g['image']
    return g


def headline(metrics):
    out = {}
    for modality, key in (('image', 'hit@1'), ('video', 'hit@1'), ('visdoc', 'ndcg_linear@5')):
        for task, scores in metrics.get(modality, {}).items():
            if isinstance(scores, dict) and isinstance(scores.get(key), (int, float)):
                out[task] = scores[key] * 100  # scaled before averaging, like the published tables
    return out


def cell(values, tasks):
    present = [values[t] for t in tasks if t in values]
    v = f'{sum(present) / len(present):.2f}'
    return v if len(present) == len(tasks) else f'{v} (n={len(present)})'


def main():
    g = groups()
    assert len(g['ALL']) == 78 and len(g['IND (20)']) == 20 and len(g['OOD (16)']) == 16
    for version in VERSIONS:
        print(f'## {version}\n')
        rows = []
        for f in sorted(os.listdir(os.path.join(ROOT, version))):
            with open(os.path.join(ROOT, version, f), encoding='utf-8') as fh:
                data = json.load(fh)
            rows.append((data['metadata']['model_name'], headline(data['metrics'])))
        print('| model | ' + ' | '.join(COLS) + ' |')
        print('|' + '---|' * (len(COLS) + 1))
        for name, values in rows:
            print(f'| {name} | ' + ' | '.join(cell(values, g[c]) for c in COLS) + ' |')
        print('\nV1-style groups (image tasks only, hit@1 ×100):\n')
        print('| model | IND (20) | OOD (16) | Overall (36) |\n|---|---|---|---|')
        for name, values in rows:
            print(f'| {name} | ' + ' | '.join(cell(values, g[c]) for c in ['IND (20)', 'OOD (16)', 'Overall (36)']) + ' |')
        print()


if __name__ == '__main__':
    main()
