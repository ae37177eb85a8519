// The 24 MMEB-V2 visual-document tasks (docs/mmeb.md §2.3, §3.4, §12.2),
// in score-file order. All: BEIR-style repos (configs `queries`, `qrels`, `corpus`, implied by the
// parser kind), text query → page image, global ranking over the page corpus, ndcg_linear@5.
// Page images are cached under `visdoc-tasks/<root>/` (ViDoRe-V2 roots drop the `ViDoRe_` prefix).

import type { RegistryOptions } from './registry.ts';
import type { MetaTask, ParserKind, TaskDef } from './types.ts';

/** Instructions of both visdoc parsers at HEAD (§3.4); the image token is added by the prompt helper. */
export const VISDOC_QUERY_INSTRUCTION = 'Find a document image that matches the given query:';
export const VISDOC_CANDIDATE_INSTRUCTION = 'Understand the content of the provided document image.';

type Row = [name: string, meta: MetaTask, parser: ParserKind, repo: string, split: string, n: number, root: string];

function rows(opts: RegistryOptions): Row[] {
  const old = opts.pageData === 'old';
  return [
    ['ViDoRe_arxivqa', 'VDRv1', 'vidore', 'vidore/arxivqa_test_subsampled_beir', 'test', 500, 'ViDoRe_arxivqa'],
    ['ViDoRe_docvqa', 'VDRv1', 'vidore', 'vidore/docvqa_test_subsampled_beir', 'test', 451, 'ViDoRe_docvqa'],
    ['ViDoRe_infovqa', 'VDRv1', 'vidore', 'vidore/infovqa_test_subsampled_beir', 'test', 494, 'ViDoRe_infovqa'],
    ['ViDoRe_tabfquad', 'VDRv1', 'vidore', 'vidore/tabfquad_test_subsampled_beir', 'test', 280, 'ViDoRe_tabfquad'],
    ['ViDoRe_tatdqa', 'VDRv1', 'vidore', 'vidore/tatdqa_test_beir', 'test', 1646, 'ViDoRe_tatdqa'],
    ['ViDoRe_shiftproject', 'VDRv1', 'vidore', 'vidore/shiftproject_test_beir', 'test', 100, 'ViDoRe_shiftproject'],
    ['ViDoRe_syntheticDocQA_artificial_intelligence', 'VDRv1', 'vidore', 'vidore/syntheticDocQA_artificial_intelligence_test_beir', 'test', 100, 'ViDoRe_syntheticDocQA_artificial_intelligence'],
    ['ViDoRe_syntheticDocQA_energy', 'VDRv1', 'vidore', 'vidore/syntheticDocQA_energy_test_beir', 'test', 100, 'ViDoRe_syntheticDocQA_energy'],
    ['ViDoRe_syntheticDocQA_government_reports', 'VDRv1', 'vidore', 'vidore/syntheticDocQA_government_reports_test_beir', 'test', 100, 'ViDoRe_syntheticDocQA_government_reports'],
    ['ViDoRe_syntheticDocQA_healthcare_industry', 'VDRv1', 'vidore', 'vidore/syntheticDocQA_healthcare_industry_test_beir', 'test', 100, 'ViDoRe_syntheticDocQA_healthcare_industry'],
    ['ViDoRe_esg_reports_human_labeled_v2', 'VDRv2', 'vidore', 'vidore/esg_reports_human_labeled_v2', 'test', 52, 'esg_reports_human_labeled_v2'],
    ['ViDoRe_biomedical_lectures_v2_multilingual', 'VDRv2', 'vidore', 'vidore/biomedical_lectures_v2', 'test', 640, 'biomedical_lectures_v2_multilingual'],
    ['ViDoRe_economics_reports_v2_multilingual', 'VDRv2', 'vidore', 'vidore/economics_reports_v2', 'test', 232, 'economics_reports_v2_multilingual'],
    ['ViDoRe_esg_reports_v2_multilingual', 'VDRv2', 'vidore', 'vidore/esg_reports_v2', 'test', 228, 'esg_reports_v2_multilingual'],
    ['VisRAG_ArxivQA', 'VR', 'visrag', 'openbmb/VisRAG-Ret-Test-ArxivQA', 'train', 816, 'VisRAG_ArxivQA'],
    ['VisRAG_ChartQA', 'VR', 'visrag', 'openbmb/VisRAG-Ret-Test-ChartQA', 'train', 63, 'VisRAG_ChartQA'],
    ['VisRAG_MP-DocVQA', 'VR', 'visrag', 'openbmb/VisRAG-Ret-Test-MP-DocVQA', 'train', 591, 'VisRAG_MP-DocVQA'],
    ['VisRAG_SlideVQA', 'VR', 'visrag', 'openbmb/VisRAG-Ret-Test-SlideVQA', 'train', 556, 'VisRAG_SlideVQA'],
    ['VisRAG_InfoVQA', 'VR', 'visrag', 'openbmb/VisRAG-Ret-Test-InfoVQA', 'train', 718, 'VisRAG_InfoVQA'],
    ['VisRAG_PlotQA', 'VR', 'visrag', 'openbmb/VisRAG-Ret-Test-PlotQA', 'train', 863, 'VisRAG_PlotQA'],
    ['ViDoSeek-page', 'OOD', 'vidore', old ? 'VLM2Vec/ViDoSeek-page' : 'VLM2Vec/ViDoSeek-page-fixed', 'test', 1142, 'ViDoSeek-page'],
    ['ViDoSeek-doc', 'OOD', 'vidore', 'VLM2Vec/ViDoSeek', 'test', 1142, 'ViDoSeek-doc'],
    ['MMLongBench-page', 'OOD', 'vidore', old ? 'VLM2Vec/MMLongBench' : 'VLM2Vec/MMLongBench-page-fixed', 'test', 838, 'MMLongBench-page'],
    ['MMLongBench-doc', 'OOD', 'vidore', 'VLM2Vec/MMLongBench-doc', 'test', 838, 'MMLongBench-doc'],
  ];
}

/** Tasks with graded (non-binary) qrels, where the set-order quirk of §7 matters. */
export const GRADED_VISDOC_TASKS: readonly string[] = ['ViDoRe_esg_reports_human_labeled_v2', 'ViDoSeek-doc', 'MMLongBench-doc'];

/** Fresh records of the 24 visdoc tasks for the given version options. */
export function visdocTasks(opts: RegistryOptions): TaskDef[] {
  return rows(opts).map(([name, meta, parser, repo, split, numQueries, root]) => {
    // visrag always used the instructions; vidore had empty ones until 2025-11-03 (§3.4).
    const empty = parser === 'vidore' && opts.vidoreInstructions === 'empty';
    const notes: string[] = [];
    if (parser === 'vidore') {
      notes.push(empty
        ? 'vidore instructions empty (v2.0.0/v2.0.1 code): query text " " + query, candidate text IT + " ".'
        : 'vidore instructions non-empty (reference HEAD, since 55b056a / 2025-11-03).');
    }
    if (name.endsWith('-page')) {
      notes.push(opts.pageData === 'old'
        ? 'Old page data (v2.0.0/v2.0.1 scores); replaced by the -page-fixed repo on 2025-11-03.'
        : 'Page-fixed data (v2.1 re-scores, HEAD); HEAD reports this task as `<name>-fixed`.');
    }
    if (GRADED_VISDOC_TASKS.includes(name)) notes.push('Graded qrels: graded nDCG with the set-order quirk (§7).');
    if (name.endsWith('_multilingual')) notes.push('No language filter: every query is used.');
    const t: TaskDef = {
      name,
      modality: 'visdoc',
      meta,
      parser,
      source: { repo, split },
      evalType: 'global',
      metric: 'ndcg_linear@5',
      query: 'T',
      candidate: 'I',
      numQueries,
      mediaRoot: `visdoc-tasks/${root}`,
      params: {
        queryInstruction: empty ? '' : VISDOC_QUERY_INSTRUCTION,
        candidateInstruction: empty ? '' : VISDOC_CANDIDATE_INSTRUCTION,
      },
      notes: notes.join(' '),
    };
    return t;
  });
}
