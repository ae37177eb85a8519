import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getBenchmark, isBenchmarkName, isPublishedBenchmark, selectTasks, TASKS } from './registry.ts';
import { BENCHMARK_GROUPS, groupMembers } from '../score/aggregate.ts';
import { MINI_TASK_NAMES } from './registry-mini.ts';

test('mini is a benchmark of its own six tasks, none of them an MMEB task', () => {
  assert.ok(isBenchmarkName('mini'));
  assert.equal(isPublishedBenchmark('mini'), false);
  const mini = getBenchmark('mini');
  assert.deepEqual(mini.tasks.map((t) => t.name), [
    'Mini-FashionMNIST', 'Mini-Emoji_t2i', 'Mini-Emoji_i2t', 'Mini-OpenClipart_t2i', 'Mini-DocPages', 'Mini-Video_t2v',
  ]);
  assert.deepEqual([...MINI_TASK_NAMES], mini.tasks.map((t) => t.name));
  const mmeb = new Set(TASKS.map((t) => t.name));
  for (const t of mini.tasks) assert.ok(!mmeb.has(t.name), t.name);
  assert.ok(Object.isFrozen(mini.tasks[0]));
});

test('mini tasks select by group and name like MMEB tasks, and an MMEB task is not part of it', () => {
  assert.deepEqual(selectTasks('mini', ['image/CLS']).map((t) => t.name), ['Mini-FashionMNIST']);
  assert.deepEqual(selectTasks('mini', ['*_t2i']).map((t) => t.name), ['Mini-Emoji_t2i', 'Mini-OpenClipart_t2i']);
  assert.deepEqual(selectTasks('mini', ['visdoc', 'video']).map((t) => t.name), ['Mini-DocPages', 'Mini-Video_t2v']);
  assert.throws(() => selectTasks('mini', ['MSCOCO_t2i']), /task 'MSCOCO_t2i' is not part of benchmark mini/);
});

test('every task of mini falls in one of its summary groups, and each group has members', () => {
  const tasks = getBenchmark('mini').tasks;
  const groups = BENCHMARK_GROUPS.mini.filter((g) => g !== 'all' && g.includes('/'));
  for (const t of tasks) assert.ok(groups.includes(`${t.modality}/${t.meta}` as never), `${t.name}: ${t.modality}/${t.meta}`);
  for (const g of BENCHMARK_GROUPS.mini) assert.ok(groupMembers(g, tasks).length > 0, g);
});
