import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, basename } from 'node:path';
import { naturalCompare, listFrames, sampleFrameIndices, sampleFramePaths, isFrameFile } from './frames.ts';

test('naturalCompare orders digit runs numerically and text case-insensitively', () => {
  const names = ['frame10.jpg', 'frame2.jpg', 'Frame1.jpg', 'frame_0100.png', 'frame_99.png', 'a.jpg', '10.jpg', '9.jpg'];
  // Python: sorted(names, key=lambda s: [int(t) if t.isdigit() else t.lower() for t in re.split(r'(\d+)', s)])
  assert.deepEqual([...names].sort(naturalCompare), [
    '9.jpg', '10.jpg', 'a.jpg', 'Frame1.jpg', 'frame2.jpg', 'frame10.jpg', 'frame_99.png', 'frame_0100.png',
  ]);
  // Digit runs beyond 2^53 still compare exactly.
  assert.equal(naturalCompare('f90071992547409931.jpg', 'f90071992547409930.jpg'), 1);
  // A shorter key that is a prefix sorts first ('f' < 'f1' since ['f'] < ['f', 1, '']).
  assert.equal(naturalCompare('f', 'f1'), -1);
  assert.equal(naturalCompare('x', 'x'), 0);
});

test('sampleFrameIndices follows int(np.linspace(0, n-1, 8))', () => {
  // Values computed with numpy: np.linspace(0, n-1, 8).astype(int)
  assert.deepEqual(sampleFrameIndices(8), [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(sampleFrameIndices(9), [0, 1, 2, 3, 4, 5, 6, 8]);
  assert.deepEqual(sampleFrameIndices(20), [0, 2, 5, 8, 10, 13, 16, 19]);
  assert.deepEqual(sampleFrameIndices(64), [0, 9, 18, 27, 36, 45, 54, 63]);
  assert.deepEqual(sampleFrameIndices(5), [0, 1, 2, 3, 4]);
  assert.deepEqual(sampleFrameIndices(0), []);
  assert.deepEqual(sampleFrameIndices(10, 4), [0, 3, 6, 9]);
  assert.throws(() => sampleFrameIndices(-1), /\[frames\] frame count/);
});

test('listFrames keeps .jpg/.jpeg/.png (any case) in natural order', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'frames-'));
  try {
    for (const n of ['frame_10.jpg', 'frame_2.JPG', 'frame_1.jpeg', 'frame_3.PNG', 'notes.txt', 'frame_4.gif']) {
      await writeFile(join(dir, n), '');
    }
    await mkdir(join(dir, 'frame_0.jpg'));
    const got = (await listFrames(dir)).map((p) => basename(p));
    assert.deepEqual(got, ['frame_1.jpeg', 'frame_2.JPG', 'frame_3.PNG', 'frame_10.jpg']);
    assert.equal(isFrameFile('X.JPEG'), true);
    assert.equal(isFrameFile('.jpg'), false); // os.path.splitext('.jpg') has no extension
    assert.equal(isFrameFile('.hidden.png'), true);
    assert.equal(isFrameFile('a.jpg.txt'), false);
    assert.deepEqual((await sampleFramePaths(dir, 2)).map((p) => basename(p)), ['frame_1.jpeg', 'frame_10.jpg']);
    assert.equal((await sampleFramePaths(dir)).length, 4); // fewer than 8: all frames
    await assert.rejects(listFrames(join(dir, 'missing')), /\[frames\] cannot read frame directory/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
