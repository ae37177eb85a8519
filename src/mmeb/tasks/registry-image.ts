// The 36 MMEB image tasks (docs/mmeb.md §1.1, §2.1), in score-file order.
// All: HF `ziyjiang/MMEB_Test_Instruct`, config = task name, split `test`, media under
// `image-tasks/`, local ranking, hit@1, 1000 queries; the positive is the row's first candidate.

import type { MetaTask, ParserKind, SideModality, TaskDef } from './types.ts';

type Row = [name: string, meta: MetaTask, parser: ParserKind, query: SideModality, cand: SideModality, v1: 'IND' | 'OOD'];

// [name, meta, parser, query, candidate, V1 split] — modalities from the §2.1 table.
const ROWS: readonly Row[] = [
  ['ImageNet-1K', 'CLS', 'image_cls', 'I', 'T', 'IND'],
  ['N24News', 'CLS', 'image_cls', 'I+T', 'T', 'IND'],
  ['HatefulMemes', 'CLS', 'image_cls', 'I', 'T', 'IND'],
  ['VOC2007', 'CLS', 'image_cls', 'I', 'T', 'IND'],
  ['SUN397', 'CLS', 'image_cls', 'I', 'T', 'IND'],
  ['Place365', 'CLS', 'image_cls', 'I', 'T', 'OOD'],
  ['ImageNet-A', 'CLS', 'image_cls', 'I', 'T', 'OOD'],
  ['ImageNet-R', 'CLS', 'image_cls', 'I', 'T', 'OOD'],
  ['ObjectNet', 'CLS', 'image_cls', 'I', 'T', 'OOD'],
  ['Country211', 'CLS', 'image_cls', 'I', 'T', 'OOD'],
  ['OK-VQA', 'QA', 'image_qa', 'I+T', 'T', 'IND'],
  ['A-OKVQA', 'QA', 'image_qa', 'I+T', 'T', 'IND'],
  ['DocVQA', 'QA', 'image_qa', 'I+T', 'T', 'IND'],
  ['InfographicsVQA', 'QA', 'image_qa', 'I+T', 'T', 'IND'],
  ['ChartQA', 'QA', 'image_qa', 'I+T', 'T', 'IND'],
  ['Visual7W', 'QA', 'image_qa', 'I+T', 'T', 'IND'],
  ['ScienceQA', 'QA', 'image_qa', 'I+T', 'T', 'OOD'],
  ['VizWiz', 'QA', 'image_qa', 'I+T', 'T', 'OOD'],
  ['GQA', 'QA', 'image_qa', 'I+T', 'T', 'OOD'],
  ['TextVQA', 'QA', 'image_qa', 'I+T', 'T', 'OOD'],
  ['VisDial', 'RET', 'image_t2i', 'T', 'I', 'IND'],
  ['CIRR', 'RET', 'image_i2i_vg', 'I+T', 'I', 'IND'],
  ['VisualNews_t2i', 'RET', 'image_t2i', 'T', 'I', 'IND'],
  ['VisualNews_i2t', 'RET', 'image_i2t', 'I', 'T', 'IND'],
  ['MSCOCO_t2i', 'RET', 'image_t2i', 'T', 'I', 'IND'],
  ['MSCOCO_i2t', 'RET', 'image_i2t', 'I', 'T', 'IND'],
  ['NIGHTS', 'RET', 'image_i2i_vg', 'I', 'I', 'IND'],
  ['WebQA', 'RET', 'image_t2i', 'T', 'I+T', 'IND'],
  ['FashionIQ', 'RET', 'image_i2i_vg', 'I+T', 'I', 'OOD'],
  ['Wiki-SS-NQ', 'RET', 'image_t2i', 'T', 'I', 'OOD'],
  ['OVEN', 'RET', 'image_i2i_vg', 'I+T', 'I+T', 'OOD'],
  ['EDIS', 'RET', 'image_t2i', 'T', 'I+T', 'OOD'],
  ['MSCOCO', 'VG', 'image_i2i_vg', 'I+T', 'I', 'IND'],
  ['RefCOCO', 'VG', 'image_i2i_vg', 'I+T', 'I', 'OOD'],
  ['RefCOCO-Matching', 'VG', 'image_i2i_vg', 'I+T', 'I+T', 'OOD'],
  ['Visual7W-Pointing', 'VG', 'image_i2i_vg', 'I+T', 'I', 'OOD'],
];

const NOTES: Readonly<Record<string, string>> = {
  VisDial: 'image_t2i: the query text gets one extra "\\n" (§3.2).',
  WebQA: 'Captioned candidates: per-candidate text from tgt_inst + caption (§3.2).',
  EDIS: 'Captioned candidates: per-candidate text from tgt_inst + caption (§3.2).',
  'RefCOCO-Matching': 'Captioned candidates; keys are `path:caption` so targets in one image stay distinct (§3.2).',
  'Wiki-SS-NQ': 'Candidates are page screenshots.',
  MSCOCO: 'Visual grounding: candidates are image crops (not the MSCOCO_t2i/i2t retrieval tasks).',
};

/** Fresh records of the 36 image tasks (the caller freezes them). */
export function imageTasks(): TaskDef[] {
  return ROWS.map(([name, meta, parser, query, candidate, v1]) => {
    const t: TaskDef = {
      name,
      modality: 'image',
      meta,
      parser,
      source: { repo: 'ziyjiang/MMEB_Test_Instruct', configs: [name], split: 'test' },
      evalType: 'local',
      metric: 'hit@1',
      query,
      candidate,
      numQueries: 1000,
      v1,
      mediaRoot: 'image-tasks',
    };
    const note = NOTES[name];
    if (note !== undefined) t.notes = note;
    return t;
  });
}
