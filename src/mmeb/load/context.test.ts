// Loader state lives in a load's context, not in module globals: two loads in one process (two
// runs, or a rerun after media were extracted) never see each other's memo of file checks.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getTask } from '../tasks/registry.ts';
import { exists, forgetExists } from './context.ts';
import { createLoaderCtx, loadTask } from './index.ts';
import { fixtureCopy } from './fixtures.test-helper.ts';

test('two contexts keep separate memos: a file created after one looked is seen by the other', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vec-ctx-'));
  const task = getTask('OK-VQA');
  const file = join(dir, 'late.jpg');
  const a = createLoaderCtx(task, { dataDir: dir });
  assert.equal(exists(a, file), false);
  writeFileSync(file, '');
  const b = createLoaderCtx(task, { dataDir: dir });
  assert.equal(exists(b, file), true);
  // Within one load the answer is memoised (one consistent view), until that load forgets it.
  assert.equal(exists(a, file), false);
  forgetExists(a);
  assert.equal(exists(a, file), true);
  assert.notEqual(a.existCache, b.existCache);
  assert.notEqual(a.imagePaths, b.imagePaths);
});

test('an image missing in one load and put there before the next is found by the next', async () => {
  const data = fixtureCopy();
  const img = join(data, 'image-tasks/OK-VQA/img_1.jpg');
  renameSync(img, `${img}.away`);
  await assert.rejects(loadTask(getTask('OK-VQA'), { dataDir: data }), /image .*OK-VQA\/img_1\.jpg .*not found/);
  copyFileSync(`${img}.away`, img);
  const t = await loadTask(getTask('OK-VQA'), { dataDir: data });
  assert.equal(t.queries[0]?.item.images?.[0], img);
});
