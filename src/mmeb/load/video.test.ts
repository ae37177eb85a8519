// Video parsers on the fixture rows and frame folders. Expected prompts are written by hand from
// docs/mmeb.md §3.3; expected frame picks are worked out by hand from §4 (floor(i·(n−1)/7), natural sort).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { getTask } from '../tasks/registry.ts';
import { loadTask } from './index.ts';
import { FIXTURE_DATA, rel } from './fixtures.test-helper.ts';

const load = (name: string, extra: { style?: 'qwen2_vl' | 'llava_next' | 'phi3_v'; onWarning?: (m: string) => void } = {}) =>
  loadTask(getTask(name), { dataDir: FIXTURE_DATA, ...extra });
const P = 'Given a video and a question, select the most accurate answer from the provided candidates. Return only the exact text of your chosen answer. Question: ';
const CLS = 'video-tasks/frames/video_cls';

test('video_classification (Breakfast): trailing space kept, 8 of 10 frames, label list as corpus', async () => {
  const t = await load('Breakfast');
  const [a, b] = t.queries;
  assert.equal(a!.item.text, '<|video_pad|> Recognize the breakfast type that the person is cooking in the video. ');
  // n = 10: floor(i*9/7) = 0,1,2,3,5,6,7,9 → files 1,2,3,4,6,7,8,10
  assert.deepEqual(rel(FIXTURE_DATA, a!.item.video), [1, 2, 3, 4, 6, 7, 8, 10].map((i) => `${CLS}/Breakfast/P03_cereals/frame_${String(i).padStart(4, '0')}.jpg`));
  assert.deepEqual(a!.candidates, [{ key: 'cereal', item: { text: 'cereal' } }]);
  assert.deepEqual(a!.label, ['cereal']);
  // unpadded names 1..12 in natural order (not 1,10,11,12,2,…); n = 12: floor(i*11/7) = 0,1,3,4,6,7,9,11
  assert.deepEqual(rel(FIXTURE_DATA, b!.item.video), [1, 2, 4, 5, 7, 8, 10, 12].map((i) => `${CLS}/Breakfast/P05_coffee/${i}.jpg`));
  assert.deepEqual(t.corpus.map((c) => c.key), ['pancake', 'cereal', 'sandwich', 'scrambledegg', 'friedegg', 'coffee', 'milk', 'tea', 'juice', 'salad']);
  assert.deepEqual(t.corpus[0]!.item, { text: 'pancake' });
});

test('video classification label lists have the reference sizes', async () => {
  const { videoClassLabels } = await import('./video-cls.ts');
  assert.equal(videoClassLabels('K700').length, 700);
  assert.equal(videoClassLabels('UCF101').length, 101);
  assert.equal(videoClassLabels('HMDB51').length, 51);
  assert.equal(new Set(videoClassLabels('K700')).size, 700);
  assert.equal(videoClassLabels('K700')[0], 'waiting_in_line');
  assert.equal(videoClassLabels('HMDB51').at(-1), 'fall_floor');
});

test('ssv2: int64 video id, fewer than 8 frames kept, row options as local candidates', async () => {
  const q = (await load('SmthSmthV2')).queries[0]!;
  assert.equal(q.item.text, '<|video_pad|> What actions or object interactions are being performed by the person in the video?');
  assert.deepEqual(rel(FIXTURE_DATA, q.item.video), [1, 2, 3].map((i) => `${CLS}/SSv2/12345/frame_000${i}.jpg`));
  assert.deepEqual(q.candidates.map((c) => c.key), ['Holding something', 'Opening something', 'Closing something']);
  assert.deepEqual(q.label, ['Opening something']);
});

test('video retrieval: text query, video candidate keyed by name (all five parsers)', async () => {
  const cand = '<|video_pad|> Understand the content of the provided video.';
  const msr = (await load('MSR-VTT')).queries[0]!;
  assert.deepEqual(msr.item, { text: 'Find a video that contains the following visual content: a man is singing' });
  assert.equal(msr.candidates[0]!.item.text, cand);
  // n = 9: floor(i*8/7) = 0,1,2,3,4,5,6,8 → files 1..7, 9
  assert.deepEqual(rel(FIXTURE_DATA, msr.candidates[0]!.item.video), [1, 2, 3, 4, 5, 6, 7, 9].map((i) => `video-tasks/frames/video_ret/MSR-VTT/video7020/frame_000${i}.jpg`));
  assert.deepEqual(msr.label, ['video7020']);

  const warnings: string[] = [];
  const msvd = await load('MSVD', { onWarning: (m) => warnings.push(m) });
  assert.equal(msvd.queries.length, 1, 'the row without frames nor video is skipped');
  assert.match(warnings.join('\n'), /MSVD: skipped 1 rows/);
  assert.equal(msvd.queries[0]!.item.text, 'Find the video snippet that corresponds to the given summary: a cat plays the piano');
  assert.deepEqual(msvd.queries[0]!.label, ['-4wsuPCjDBc_5_15']);

  const didemo = await load('DiDeMo');
  assert.deepEqual(didemo.queries.map((q) => q.item.text), [
    'Find a video that includes the following described scenes: the dog jumps over the fence',
    'Find a video that includes the following described scenes: a child laughs',
  ]);
  assert.deepEqual(didemo.queries.map((q) => q.candidates[0]!.key), ['1234@N00_5', '98_77']);

  const yc = (await load('YouCook2')).queries[0]!;
  assert.equal(yc.item.text, 'Find a video that demonstrates the following action while making a recipe: cut the onion');
  assert.deepEqual(yc.label, ['GLd3aX16zBg_0']);

  const vatex = (await load('VATEX')).queries[0]!;
  assert.equal(vatex.item.text, 'Select a video that fits the description provided: A person dances.');
  assert.deepEqual(vatex.candidates.map((c) => c.key), ['abc_000010_000020']);
});

test('moment_retrieval: query clip + sub-folders as candidates (files skipped), positive label', async () => {
  const q = (await load('QVHighlight')).queries[0]!;
  const base = join(FIXTURE_DATA, 'video-tasks/frames/video_mret/QVHighlight/vid_A_60.0_210.0');
  assert.equal(q.item.text, '<|video_pad|> Find the clip that corresponds to the described scene in the given video: a woman cooks pasta');
  assert.deepEqual(rel(base, q.item.video), [1, 2, 3, 4, 5, 6, 7, 9].map((i) => `query/frame_000${i}.jpg`));
  assert.deepEqual([...q.candidates.map((c) => c.key)].sort(), ['negative_1', 'negative_2', 'positive_3'].map((n) => join(base, n)));
  assert.deepEqual(q.label, [join(base, 'positive_3')]);
  const neg1 = q.candidates.find((c) => c.key.endsWith('negative_1'))!;
  assert.equal(neg1.item.text, '<|video_pad|> Understand the content of the provided video.');
  assert.deepEqual(rel(base, neg1.item.video), ['negative_1/frame_0001.jpg', 'negative_1/frame_0002.jpg']);
});

test('momentseeker: video / image / text queries, all clip frames, positives first, list label', async () => {
  const t = await load('MomentSeeker');
  const root = join(FIXTURE_DATA, 'video-tasks/frames/video_mret/MomentSeeker');
  const [v, i, x] = t.queries;
  assert.equal(v!.item.text, '<|video_pad|> Find the clip that corresponds to the given sentence and video segment: what happens next');
  assert.deepEqual(rel(root, v!.item.video), [1, 2, 3].map((k) => `video_frames/ego4d_clip_a/frame_000${k}.jpg`));
  assert.deepEqual(rel(root, v!.candidates.map((c) => c.key)), ['video_frames/ego4d_clip_a_pos', 'video_frames/ego4d_clip_a_neg1']);
  // all 10 frames, natural order, no sampling
  assert.deepEqual(rel(root, v!.candidates[0]!.item.video), Array.from({ length: 10 }, (_, k) => `video_frames/ego4d_clip_a_pos/frame_${k + 1}.jpg`));
  assert.equal(v!.candidates[0]!.item.text, '<|video_pad|> Understand the content of the provided video clip.');
  assert.deepEqual(rel(root, v!.label), ['video_frames/ego4d_clip_a_pos']);

  assert.equal(i!.item.text, '<|image_pad|> Select the video clip that aligns with the given text and image: find the red car');
  assert.deepEqual(rel(root, i!.item.images), ['query_img_001.jpg']);
  assert.deepEqual(rel(root, i!.label), ['video_frames/cars_red_1', 'video_frames/cars_red_2']);
  assert.deepEqual(rel(root, i!.candidates.map((c) => c.key)), ['video_frames/cars_red_1', 'video_frames/cars_red_2', 'video_frames/cars_blue']);

  assert.deepEqual(x!.item, { text: 'Find the clip that corresponds to the given text: a man opens a door' });
  assert.deepEqual(rel(root, x!.candidates.map((c) => c.key)), ['video_frames/door_open']);
});

test('Video-MME: options joined, letter prefixes stripped from candidate texts, keys are the raw options', async () => {
  const q = (await load('Video-MME')).queries[0]!;
  assert.equal(q.item.text, `<|video_pad|> ${P} What is the man doing?\nA. Cooking.\nB. Running.\nC. Sleeping\nD. Reading a book.`);
  assert.ok(q.item.text.includes('Question:  What'), 'two spaces after "Question:"');
  assert.deepEqual(q.candidates.map((c) => c.key), ['A. Cooking.', 'B. Running.', 'C. Sleeping', 'D. Reading a book.']);
  assert.deepEqual(q.candidates.map((c) => c.item.text), ['Cooking', 'Running', 'Sleeping', 'Reading a book']);
  assert.deepEqual(q.label, ['B. Running.']);
  assert.equal(q.item.video!.length, 8);
});

test('NExTQA: qa_template lines, raw options as candidates, int answer', async () => {
  const q = (await load('NExTQA')).queries[0]!;
  assert.equal(q.item.text, `<|video_pad|> ${P} why did the boy run\nOptions:\n(A) to hide\n(B) to play\n(C) to catch the ball\n(D) he was scared\n(E) to eat`);
  assert.deepEqual(q.candidates.map((c) => c.key), ['to hide', 'to play', 'to catch the ball', 'he was scared', 'to eat']);
  assert.deepEqual(q.label, ['to catch the ball']);
  assert.deepEqual(rel(FIXTURE_DATA, q.item.video), [0, 1, 2, 3].map((k) => `video-tasks/frames/video_qa/NExTQA/4010069381/000${k}.jpeg`));
});

test('EgoSchema: options glued to the question, string answer index', async () => {
  const q = (await load('EgoSchema')).queries[0]!;
  assert.equal(q.item.text, `<|video_pad|> ${P} What is c doing?A. c cooks food. B. c washes dishes. C. c reads. D. c sleeps. E. c runs.`);
  assert.deepEqual(q.candidates.map((c) => c.item.text), ['c cooks food', 'c washes dishes', 'c reads', 'c sleeps', 'c runs']);
  assert.deepEqual(q.label, ['B. c washes dishes.']);
});

test('MVBench: configs concatenated in order, lettered candidates, unmatched answer gets "(@)"', async () => {
  const t = await load('MVBench');
  assert.equal(t.queries.length, 2);
  const [a, b] = t.queries;
  assert.equal(a!.item.text, `<|video_pad|> ${P} What did the man do?\nOptions:\n(A) sat down\n(B) stood up\n(C) left`);
  assert.deepEqual(a!.candidates.map((c) => c.key), ['(A) sat down', '(B) stood up', '(C) left']);
  assert.deepEqual(a!.label, ['(B) stood up']);
  // n = 16: floor(i*15/7) = 0,2,4,6,8,10,12,15
  assert.deepEqual(rel(FIXTURE_DATA, a!.item.video), [0, 2, 4, 6, 8, 10, 12, 15].map((k) => `video-tasks/frames/video_qa/MVBench/episodic_reasoning/s01e01_seg1/${String(k).padStart(4, '0')}.jpeg`));
  assert.deepEqual(b!.label, ['(@) jumped']);
  assert.deepEqual(rel(FIXTURE_DATA, b!.item.video), [0, 1, 2].map((k) => `video-tasks/frames/video_qa/MVBench/action_sequence/AB12C.mp4/000${k}.jpeg`));
});

test('ActivityNetQA: yes/no candidates, v_ frame folder', async () => {
  const q = (await load('ActivityNetQA')).queries[0]!;
  assert.equal(q.item.text, `<|video_pad|> ${P} is the person outdoors? (A) yes; (B) no.`);
  assert.deepEqual(q.candidates.map((c) => c.key), ['yes', 'no']);
  assert.deepEqual(q.label, ['yes']);
  // n = 10 → 0,1,2,3,5,6,7,9
  assert.deepEqual(rel(FIXTURE_DATA, q.item.video), [0, 1, 2, 3, 5, 6, 7, 9].map((k) => `video-tasks/frames/video_qa/ActivityNetQA/v_abc123/000${k}.jpeg`));
});

test('llava_next uses <image> for videos; phi3_v cannot take a video', async () => {
  assert.equal((await load('Breakfast', { style: 'llava_next' })).queries[0]!.item.text, '<image> Recognize the breakfast type that the person is cooking in the video. ');
  await assert.rejects(load('Breakfast', { style: 'phi3_v' }), /phi3_v' has no video token/);
});

test('Python slicing quirks of the QA parsers', async () => {
  const { stripOptionLetter, qaTemplate } = await import('./video-qa.ts');
  assert.equal(stripOptionLetter('A. Cooking.'), 'Cooking');
  assert.equal(stripOptionLetter('D. 3.5 m. '), '3.5 m');
  // no ". " at all: o[-1:] keeps only the last character
  assert.equal(stripOptionLetter('no dot'), 't');
  assert.equal(stripOptionLetter('E.'), '');
  // duplicate candidates: the loop does not break, so the last match names the answer
  assert.deepEqual(qaTemplate('Q', ['x', 'y', 'x'], 'x'), { query: 'Q\nOptions:\n(A) x\n(B) y\n(C) x', options: ['(A) x', '(B) y', '(C) x'], answer: '(C) x' });
  assert.equal(qaTemplate('Q', ['x'], 'z').answer, '(@) z');
  // rstrip removes trailing whitespace of the last option too
  assert.equal(qaTemplate('Q', ['x  '], 'x').query, 'Q\nOptions:\n(A) x');
});

test('loader instructions agree with the registry records (two transcriptions of docs/mmeb.md §3.3)', async () => {
  const { TASKS } = await import('../tasks/registry.ts');
  const { VIDEO_CLS_INSTRUCTIONS } = await import('./video-cls.ts');
  const { VIDEO_RET_INSTRUCTIONS } = await import('./video-ret.ts');
  const { VIDEO_QA_PROMPT } = await import('../tasks/registry-video.ts');
  let checked = 0;
  for (const t of TASKS.filter((x) => x.modality === 'video' && typeof x.params?.['instruction'] === 'string')) {
    const inst = t.params!['instruction'];
    if (t.parser === 'video_classification' || t.parser === 'ssv2') assert.equal(VIDEO_CLS_INSTRUCTIONS[t.name === 'K700' ? 'Kinetics-700' : t.name], inst, t.name);
    else if (t.meta === 'RET') assert.equal(VIDEO_RET_INSTRUCTIONS[t.parser], inst, t.name);
    else if (t.meta === 'QA') assert.equal(VIDEO_QA_PROMPT, inst, t.name);
    else continue;
    checked++;
  }
  assert.equal(checked, 15);
});

test('the video-QA prompt and the MVBench config list are defined once (registry), not copied into loaders', async () => {
  const { readdirSync, readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const root = new URL('..', import.meta.url).pathname; // src/mmeb
  const sources = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [join(dir, e.name)] : []);
  const files = sources(root);
  for (const literal of ['select the most accurate answer from the provided candidates', "'episodic_reasoning'", "'counterfactual_inference'"]) {
    const holders = files.filter((f) => readFileSync(f, 'utf8').includes(literal)).map((f) => f.slice(root.length));
    assert.deepEqual(holders, ['tasks/registry-video.ts'], literal);
  }
  const qa = await import('./video-qa.ts');
  const reg = await import('../tasks/registry-video.ts');
  assert.equal('MVBENCH_CONFIGS' in qa, false);
  assert.equal(reg.MVBENCH_CONFIGS.length, 20);
});

test('missing frames are extracted with ffmpeg from video-tasks/videos/… when the raw video is there (§4)', async () => {
  const { execFileSync } = await import('node:child_process');
  const { existsSync, mkdirSync, readdirSync, rmSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { fixtureCopy } = await import('./fixtures.test-helper.ts');
  const { ffmpegPath } = await import('../../io/media/video.ts');
  const data = fixtureCopy();
  try {
    // A 10-frame clip stands in for Breakfast's P03_cereals, whose frame folder is removed.
    const frames = join(data, CLS, 'Breakfast/P03_cereals');
    rmSync(frames, { recursive: true });
    const videos = join(data, 'video-tasks/videos/video_cls/Breakfast');
    mkdirSync(videos, { recursive: true });
    execFileSync(ffmpegPath(), ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=32x32:rate=10', '-frames:v', '10', '-c:v', 'mpeg4',
      join(videos, 'P03_cereals.mp4')]);
    const warnings: string[] = [];
    const t = await loadTask(getTask('Breakfast'), { dataDir: data, onWarning: (m) => warnings.push(m) });
    // ≤ 64 frames: all 10 are saved as frame_0001..0010.jpg; the 8-frame sampling picks
    // floor(i·9/7) = 0,1,2,3,5,6,7,9 → frames 1,2,3,4,6,7,8,10.
    assert.equal(readdirSync(frames).filter((f) => /^frame_\d{4}\.jpg$/.test(f)).length, 10);
    assert.deepEqual(rel(data, t.queries[0]!.item.video), [1, 2, 3, 4, 6, 7, 8, 10].map((i) => `${CLS}/Breakfast/P03_cereals/frame_${String(i).padStart(4, '0')}.jpg`));
    assert.match(warnings.join('\n'), /extracted frames of .*P03_cereals\.mp4/);
    // Neither frames nor video: the clear error names both.
    rmSync(frames, { recursive: true });
    rmSync(join(videos, 'P03_cereals.mp4'));
    await assert.rejects(loadTask(getTask('Breakfast'), { dataDir: data }),
      /task Breakfast: video 'P03_cereals' .*frame folder .*P03_cereals not found .*; the raw video .*videos\/video_cls\/Breakfast\/P03_cereals\.mp4 to extract them from is not there either/);
    assert.equal(existsSync(frames), false);
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
});

test('retrieval: an empty frame folder is filled from the raw video (> 64 frames: 64 saved), then sampled', async () => {
  const { execFileSync } = await import('node:child_process');
  const { mkdirSync, readdirSync, rmSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { fixtureCopy } = await import('./fixtures.test-helper.ts');
  const { ffmpegPath } = await import('../../io/media/video.ts');
  const data = fixtureCopy();
  try {
    const frames = join(data, 'video-tasks/frames/video_ret/MSR-VTT/video7020');
    rmSync(frames, { recursive: true });
    mkdirSync(frames); // present but empty, as after an interrupted extraction
    const videos = join(data, 'video-tasks/videos/video_ret/MSR-VTT');
    mkdirSync(videos, { recursive: true });
    // The row's `video` field names the file: video7020.mp4, 70 frames.
    execFileSync(ffmpegPath(), ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=32x32:rate=10', '-frames:v', '70', '-c:v', 'mpeg4',
      join(videos, 'video7020.mp4')]);
    const t = await loadTask(getTask('MSR-VTT'), { dataDir: data, onWarning: () => {} });
    // 70 > 64: frames floor(i·70/64), i < 64, saved as frame_0001..0064; then floor(i·63/7) picks 8.
    assert.equal(readdirSync(frames).length, 64);
    assert.deepEqual(rel(data, t.queries[0]!.candidates[0]!.item.video), [1, 10, 19, 28, 37, 46, 55, 64].map((i) => `video-tasks/frames/video_ret/MSR-VTT/video7020/frame_${String(i).padStart(4, '0')}.jpg`));
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
});
