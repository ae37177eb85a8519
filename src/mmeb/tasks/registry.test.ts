import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  TASKS, BENCHMARKS, EXTRA_TASKS, buildRegistry, freezeUnique, getTask, selectTasks, META_TASKS,
} from './registry.ts';
import { Vlm2VecError } from '../../errors.ts';
import type { TaskDef } from './types.ts';

const ROOT = new URL('../../../', import.meta.url).pathname;
const PUBLISHED = join(ROOT, 'test', 'fixtures', 'published-scores');

const PARSERS = new Set([
  'image_cls', 'image_qa', 'image_i2t', 'image_t2i', 'image_i2i_vg', 'video_classification', 'ssv2', 'msrvtt', 'msvd',
  'didemo', 'youcook2', 'vatex', 'moment_retrieval', 'momentseeker', 'videomme', 'nextqa', 'egoschema', 'mvbench',
  'activitynetqa', 'vidore', 'visrag',
]);

function checkTask(t: TaskDef): void {
  const where = `task ${t.name}`;
  assert.match(t.name, /^[A-Za-z0-9_.-]+$/, where);
  assert.ok(META_TASKS[t.modality].includes(t.meta), `${where}: meta ${t.meta} not in ${t.modality}`);
  assert.ok(PARSERS.has(t.parser), `${where}: parser ${t.parser}`);
  assert.match(t.source.repo, /^[\w.-]+\/[\w.-]+$/, `${where}: repo`);
  assert.ok(['test', 'train', 'val'].includes(t.source.split), `${where}: split`);
  assert.equal(t.metric, t.modality === 'visdoc' ? 'ndcg_linear@5' : 'hit@1', where);
  assert.ok(Number.isInteger(t.numQueries) && t.numQueries > 0, where);
  assert.equal(t.v1 !== undefined, t.modality === 'image', `${where}: v1 split only for image tasks`);
  const root = { image: /^image-tasks$/, video: /^video-tasks\/frames\/video_(cls|ret|mret|qa)\/[\w-]+$/, visdoc: /^visdoc-tasks\/[\w.-]+$/ }[t.modality];
  assert.match(t.mediaRoot, root, `${where}: mediaRoot ${t.mediaRoot}`);
  if (t.modality === 'visdoc') assert.equal(t.evalType, 'global', where);
  if (t.modality === 'image') assert.equal(t.evalType, 'local', where);
  assert.ok(Object.isFrozen(t), `${where} must be frozen`);
}

test('registry walk: 78 valid unique tasks with the published counts', () => {
  assert.equal(TASKS.length, 78);
  assert.equal(new Set(TASKS.map((t) => t.name)).size, 78);
  TASKS.forEach(checkTask);
  EXTRA_TASKS.forEach(checkTask);
  const count = (f: (t: TaskDef) => boolean) => TASKS.filter(f).length;
  assert.deepEqual(['image', 'video', 'visdoc'].map((m) => count((t) => t.modality === m)), [36, 18, 24]);
  const metas = (m: 'image' | 'video' | 'visdoc') => META_TASKS[m].map((x) => count((t) => t.modality === m && t.meta === x));
  assert.deepEqual(metas('image'), [10, 10, 12, 4]);
  assert.deepEqual(metas('video'), [5, 5, 5, 3]);
  assert.deepEqual(metas('visdoc'), [10, 4, 6, 4]);
  assert.equal(count((t) => t.v1 === 'IND'), 20);
  assert.equal(count((t) => t.v1 === 'OOD'), 16);
  assert.equal(BENCHMARKS['mmeb-v2'].tasks.length, 78);
  assert.equal(BENCHMARKS['mmeb-v1'].tasks.length, 36);
});

test('task names and query counts equal the published v2.0.0 / v2.0.1 files', () => {
  for (const [version, opts] of [['v2.0.0', { momentSeeker: '1800' }], ['v2.0.1', { momentSeeker: '1602' }]] as const) {
    const doc = JSON.parse(readFileSync(join(PUBLISHED, version, 'VLM2Vec-V2.0-Qwen2VL-2B.json'), 'utf8')) as {
      metrics: Record<string, Record<string, { num_data: number }>>;
    };
    const reg = buildRegistry(opts);
    const published = Object.entries(doc.metrics).flatMap(([m, tasks]) =>
      Object.entries(tasks).filter(([n]) => n !== 'MomentSeeker_1k8').map(([n, s]) => ({ m, n, q: s.num_data })));
    assert.deepEqual(reg.map((t) => t.name), published.map((p) => p.n), version);
    for (const p of published) {
      const t = getTask(p.n, reg);
      assert.equal(t.modality, p.m, p.n);
      assert.equal(t.numQueries, p.q, `${version} ${p.n} num_data`);
    }
  }
  assert.equal(getTask('MomentSeeker_1k8').numQueries, 1800);
});

test('version options: defaults are the reference HEAD', () => {
  assert.equal(getTask('MomentSeeker').numQueries, 1602);
  assert.equal(getTask('ViDoSeek-page').source.repo, 'VLM2Vec/ViDoSeek-page-fixed');
  assert.equal(getTask('MMLongBench-page').source.repo, 'VLM2Vec/MMLongBench-page-fixed');
  assert.equal(getTask('ViDoRe_arxivqa').params?.queryInstruction, 'Find a document image that matches the given query:');
  const old = buildRegistry({ momentSeeker: '1800', pageData: 'old', vidoreInstructions: 'empty' });
  assert.equal(getTask('MomentSeeker', old).numQueries, 1800);
  assert.equal(getTask('ViDoSeek-page', old).source.repo, 'VLM2Vec/ViDoSeek-page');
  assert.equal(getTask('MMLongBench-page', old).source.repo, 'VLM2Vec/MMLongBench');
  assert.equal(getTask('ViDoRe_arxivqa', old).params?.queryInstruction, '');
  // visrag always had its instructions
  assert.equal(getTask('VisRAG_ArxivQA', old).params?.queryInstruction, 'Find a document image that matches the given query:');
  assert.equal(getTask('Breakfast').params?.instruction, 'Recognize the breakfast type that the person is cooking in the video. ');
  assert.equal(getTask('YouCook2').source.split, 'val');
  assert.equal(getTask('MVBench').source.configs?.length, 20);
  assert.equal(getTask('esg_reports_v2_multilingual'.replace(/^/, 'ViDoRe_')).mediaRoot, 'visdoc-tasks/esg_reports_v2_multilingual');
  assert.equal(getTask('K700').mediaRoot, 'video-tasks/frames/video_cls/K700');
  assert.equal(getTask('MSR-VTT').mediaRoot, 'video-tasks/frames/video_ret/MSR-VTT');
  assert.equal(getTask('QVHighlight').mediaRoot, 'video-tasks/frames/video_mret/QVHighlight');
  assert.equal(getTask('MVBench').mediaRoot, 'video-tasks/frames/video_qa/MVBench');
});

test('building rejects duplicate names', () => {
  const t = { ...getTask('K700') } as TaskDef;
  assert.throws(() => freezeUnique([t, { ...t }], 'test registry'), /duplicate task name 'K700'/);
});

test('selection by name, modality, group, glob; did-you-mean', () => {
  const names = (specs: string[], b: 'mmeb-v2' | 'mmeb-v1' = 'mmeb-v2') => selectTasks(b, specs).map((t) => t.name);
  assert.deepEqual(names(['video/MRET']), ['QVHighlight', 'Charades-STA', 'MomentSeeker']);
  assert.deepEqual(names(['image/VG']), ['MSCOCO', 'RefCOCO', 'RefCOCO-Matching', 'Visual7W-Pointing']);
  assert.equal(names(['v1/IND']).length, 20);
  assert.equal(names(['v1/OOD'], 'mmeb-v1').length, 16);
  assert.equal(names(['v1/overall']).length, 36);
  assert.throws(() => selectTasks('mmeb-v2', ['v1/INDD']), /unknown group 'v1\/INDD'.*did you mean v1\/IND\?/);
  assert.equal(names(['video']).length, 18);
  assert.equal(names([]).length, 78);
  assert.deepEqual(names(['MSCOCO_*']), ['MSCOCO_t2i', 'MSCOCO_i2t']);
  assert.equal(names(['ViDoRe_*']).length, 14);
  // order follows the benchmark, duplicates collapse, comma lists split
  assert.deepEqual(names(['NIGHTS,ImageNet-1K', 'ImageNet-1K']), ['ImageNet-1K', 'NIGHTS']);
  assert.deepEqual(names(['visdoc/ood']), ['ViDoSeek-page', 'ViDoSeek-doc', 'MMLongBench-page', 'MMLongBench-doc']);
  assert.deepEqual(names(['MomentSeeker_1k8']), ['MomentSeeker_1k8']);
  assert.deepEqual(names(['msCOCO_T2I']), ['MSCOCO_t2i']);
  assert.throws(() => selectTasks('mmeb-v2', ['MSCOCO_t2']), (e: unknown) =>
    e instanceof Vlm2VecError && e.message === "[mmeb] unknown task 'MSCOCO_t2': did you mean MSCOCO_t2i?");
  assert.throws(() => selectTasks('mmeb-v2', ['Qwerty123456']), /^Vlm2VecError: \[mmeb\] unknown task 'Qwerty123456'$|unknown task 'Qwerty123456'$/);
  assert.throws(() => selectTasks('mmeb-v2', ['video/MRT']), /unknown group 'video\/MRT'.*did you mean video\/MRET\?/);
  assert.throws(() => selectTasks('mmeb-v2', ['Zzz*']), /pattern 'Zzz\*' matches no task/);
  assert.throws(() => selectTasks('mmeb-v1', ['K700']), /task 'K700' is not part of benchmark mmeb-v1/);
  assert.throws(() => selectTasks('mmeb-v3' as 'mmeb-v2', []), /unknown benchmark 'mmeb-v3'/);
});
