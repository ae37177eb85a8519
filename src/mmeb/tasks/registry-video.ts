// The 18 MMEB-V2 video tasks (docs/mmeb.md §2.2, §3.3, §12.2), in
// score-file order, plus MomentSeeker_1k8 (selectable by name, never averaged).
// `params.instruction` holds the instruction strings that are in the reference code (§3.3),
// character-exact (Breakfast's trailing space is part of it).

import type { RegistryOptions } from './registry.ts';
import type { MetaTask, ParserKind, SideModality, TaskDef, EvalType } from './types.ts';

const FRAMES = 'video-tasks/frames';

/** The 20 MVBench configs, concatenated in this order (§2.2). */
export const MVBENCH_CONFIGS: readonly string[] = [
  'episodic_reasoning', 'action_sequence', 'action_prediction', 'action_antonym', 'fine_grained_action',
  'unexpected_action', 'object_existence', 'object_interaction', 'object_shuffle', 'moving_direction',
  'action_localization', 'scene_transition', 'action_count', 'moving_count', 'moving_attribute',
  'state_change', 'fine_grained_pose', 'character_order', 'egocentric_navigation', 'counterfactual_inference',
];

/** Shared video-QA prompt P of §3.3 (trailing space; `process_query` adds one more). */
export const VIDEO_QA_PROMPT =
  'Given a video and a question, select the most accurate answer from the provided candidates. Return only the exact text of your chosen answer. Question: ';

interface Spec {
  name: string;
  meta: MetaTask;
  parser: ParserKind;
  repo: string;
  configs?: string[];
  split?: string;
  evalType: EvalType;
  query: SideModality;
  candidate: SideModality;
  numQueries: number;
  /** Folder under video-tasks/frames/. */
  frames: string;
  params?: Record<string, string | number | boolean>;
  notes?: string;
}

function def(s: Spec): TaskDef {
  const t: TaskDef = {
    name: s.name,
    modality: 'video',
    meta: s.meta,
    parser: s.parser,
    source: { repo: s.repo, split: s.split ?? 'test', ...(s.configs ? { configs: s.configs } : {}) },
    evalType: s.evalType,
    metric: 'hit@1',
    query: s.query,
    candidate: s.candidate,
    numQueries: s.numQueries,
    mediaRoot: `${FRAMES}/${s.frames}`,
  };
  if (s.params) t.params = s.params;
  if (s.notes) t.notes = s.notes;
  return t;
}

function cls(name: string, repo: string, frames: string, n: number, instruction: string, labels: number): TaskDef {
  return def({
    name, meta: 'CLS', parser: 'video_classification', repo, evalType: 'global', query: 'V', candidate: 'T',
    numQueries: n, frames, params: { instruction, numLabels: labels },
    notes: `Global ranking over the ${labels} hard-coded label strings (video_classification_utils.py).`,
  });
}

function ret(name: string, parser: ParserKind, repo: string, n: number, instruction: string, extra: Partial<Spec> = {}): TaskDef {
  return def({
    name, meta: 'RET', parser, repo, evalType: 'global', query: 'T', candidate: 'V', numQueries: n,
    frames: `video_ret/${name}`, params: { instruction }, ...extra,
  });
}

function qa(name: string, parser: ParserKind, repo: string, n: number, frames: string, extra: Partial<Spec> = {}): TaskDef {
  return def({
    name, meta: 'QA', parser, repo, evalType: 'local', query: 'V+T', candidate: 'T', numQueries: n,
    frames: `video_qa/${frames}`, params: { instruction: VIDEO_QA_PROMPT }, ...extra,
  });
}

function momentSeeker(numQueries: 1602 | 1800, name = 'MomentSeeker'): TaskDef {
  const old = numQueries === 1800;
  return def({
    name, meta: 'MRET', parser: 'momentseeker', repo: old ? 'VLM2Vec/MomentSeeker_1k8' : 'VLM2Vec/MomentSeeker',
    evalType: 'local', query: 'T|I+T|V+T', candidate: 'V', numQueries, frames: 'video_mret/MomentSeeker',
    notes: old
      ? 'Pre-dedup MomentSeeker (1800 queries), as scored in v2.0.0 (then read from a local momentseeker.jsonl) and stored as MomentSeeker_1k8 in v2.0.1+.'
      : 'Deduplicated MomentSeeker (1602 queries, v2.0.1+ and HEAD). Clip frames are not sampled: all saved frames are used.',
  });
}

/** MomentSeeker_1k8: in the v2.0.1/v2.1 score files but not among the 78 (§1.2). */
export function momentSeeker1k8(): TaskDef {
  return momentSeeker(1800, 'MomentSeeker_1k8');
}

/** Fresh records of the 18 video tasks for the given version options. */
export function videoTasks(opts: RegistryOptions): TaskDef[] {
  return [
    cls('K700', 'VLM2Vec/Kinetics-700', 'video_cls/K700', 1000, 'Recognize the category of the video content.', 700),
    def({
      name: 'SmthSmthV2', meta: 'CLS', parser: 'ssv2', repo: 'VLM2Vec/SmthSmthV2', evalType: 'local', query: 'V', candidate: 'T',
      numQueries: 1000, frames: 'video_cls/SSv2',
      params: { instruction: 'What actions or object interactions are being performed by the person in the video?', maxRows: 1000 },
      notes: 'First 1000 rows; candidates are the row\'s neg_text list (local ranking).',
    }),
    cls('HMDB51', 'VLM2Vec/HMDB51', 'video_cls/HMDB51', 1000, 'What actions or objects interactions are the person in the video doing?', 51),
    cls('UCF101', 'VLM2Vec/UCF101', 'video_cls/UCF101', 1000, 'What activities or sports are being performed by the person in the video?', 101),
    cls('Breakfast', 'VLM2Vec/Breakfast', 'video_cls/Breakfast', 433, 'Recognize the breakfast type that the person is cooking in the video. ', 10),
    qa('MVBench', 'mvbench', 'VLM2Vec/MVBench', 4000, 'MVBench', {
      configs: [...MVBENCH_CONFIGS], split: 'train',
      notes: '20 configs concatenated in order; frames at <subset>/<video>/; unmatched answers get label "(@) …".',
    }),
    qa('Video-MME', 'videomme', 'VLM2Vec/Video-MME', 2700, 'Video-MME'),
    qa('NExTQA', 'nextqa', 'VLM2Vec/NExTQA', 8564, 'NExTQA', { configs: ['MC'] }),
    qa('EgoSchema', 'egoschema', 'VLM2Vec/EgoSchema', 500, 'EgoSchema', { configs: ['Subset'] }),
    qa('ActivityNetQA', 'activitynetqa', 'VLM2Vec/ActivityNetQA', 1000, 'ActivityNetQA', { notes: 'Frames at v_<video_name>/.' }),
    ret('DiDeMo', 'didemo', 'VLM2Vec/DiDeMo', 1004, 'Find a video that includes the following described scenes:'),
    ret('MSR-VTT', 'msrvtt', 'VLM2Vec/MSR-VTT', 1000, 'Find a video that contains the following visual content:', { configs: ['test_1k'] }),
    ret('MSVD', 'msvd', 'VLM2Vec/MSVD', 670, 'Find the video snippet that corresponds to the given summary:', { notes: 'Uses caption[0].' }),
    ret('VATEX', 'vatex', 'VLM2Vec/VATEX', 4478, 'Select a video that fits the description provided:', { notes: 'Uses enCap[0].' }),
    ret('YouCook2', 'youcook2', 'lmms-lab/YouCook2', 3179, 'Find a video that demonstrates the following action while making a recipe:', {
      split: 'val', notes: 'Source is lmms-lab/YouCook2, split val (not a VLM2Vec repo).',
    }),
    def({
      name: 'QVHighlight', meta: 'MRET', parser: 'moment_retrieval', repo: 'VLM2Vec/QVHighlight', evalType: 'local',
      query: 'V+T', candidate: 'V', numQueries: 1083, frames: 'video_mret/QVHighlight',
      notes: '1 positive + 9 negative clip folders per query; label = folder starting with "positive".',
    }),
    def({
      name: 'Charades-STA', meta: 'MRET', parser: 'moment_retrieval', repo: 'VLM2Vec/Charades-STA', evalType: 'local',
      query: 'V+T', candidate: 'V', numQueries: 727, frames: 'video_mret/Charades_STA',
      notes: 'Frame folder is Charades_STA (underscore), the task name uses a hyphen.',
    }),
    momentSeeker(opts.momentSeeker === '1800' ? 1800 : 1602),
  ];
}
