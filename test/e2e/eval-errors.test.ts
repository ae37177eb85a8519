// Bad input to `vlm2vec eval`, as a user meets it from a shell (bin/vlm2vec.js, spawned): each case
// must end with exit code 1 and one clear line naming the folder/option/task/item at fault — no
// stack trace, no 60-line help dump — and, where the input is checked up front, before any
// endpoint is contacted. Also Ctrl-C: exit 130 with a resume hint, and the rerun finishes.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashVector, startEmbedServer, type EmbedServer, type EmbedServerOptions } from './embed-server.ts';
import { MediaError } from '../../src/embed/media-error.ts';
import { copyFixtureData, ROOT, runCli, type Run } from './cli-run.ts';

// A port nothing listens on: connecting to it fails at once (ECONNREFUSED).
const DEAD_URL = 'http://127.0.0.1:9/v1';

let work: string;
let data: string;
const servers: EmbedServer[] = [];

before(() => {
  work = mkdtempSync(join(tmpdir(), 'v2v-e2e-err-'));
  data = copyFixtureData(join(work, 'data'));
});
after(async () => {
  for (const s of servers) await s.close();
  rmSync(work, { recursive: true, force: true });
});

async function server(opts: EmbedServerOptions = {}): Promise<EmbedServer> {
  const s = await startEmbedServer({ dim: 8, ...opts });
  servers.push(s);
  return s;
}

/** Exit 1, the expected message, and no stack trace or help dump. */
function assertCleanFailure(r: Run, pattern: RegExp): void {
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at .*\(.*:\d+:\d+\)/, 'no stack trace');
  assert.doesNotMatch(r.stderr, /Usage: vlm2vec eval/, 'no help dump');
}

test('a --data folder that does not exist is reported before any endpoint is contacted', async () => {
  const missing = join(work, 'no-such-data');
  const r = await runCli(['eval', '--model', DEAD_URL, '--tasks', 'OK-VQA', '--data', missing, '--out', join(work, 'o1')]);
  assertCleanFailure(r, new RegExp(`\\[eval\\] data folder ${missing} does not exist: expected the MMEB data`));
  assert.ok(!existsSync(join(work, 'o1')), 'no output folder is created for a run that cannot start');
});

test('an --out that is a file is reported (with or without the cache), and nothing is written', async () => {
  const file = join(work, 'out-file');
  writeFileSync(file, 'not a folder');
  for (const extra of [[], ['--no-cache']]) {
    const r = await runCli(['eval', '--model', DEAD_URL, '--tasks', 'OK-VQA', '--data', data, '--out', file, ...extra]);
    assertCleanFailure(r, new RegExp(`\\[eval\\] output folder \\(--out\\) ${file} is a file: expected a folder`));
  }
  // A folder below a file cannot be created either.
  const below = join(file, 'run');
  const r = await runCli(['eval', '--model', DEAD_URL, '--tasks', 'OK-VQA', '--data', data, '--out', below]);
  assertCleanFailure(r, new RegExp(`\\[eval\\] cannot create the output folder \\(--out\\) ${below}: ${file} is a file, not a folder`));
});

// Node 20's recursive mkdir loops forever under /proc: these must fail at once, before any
// endpoint is contacted, for every output path of the command.
test('an --out or --cache-dir under /proc or /sys is refused in one line instead of hanging', { skip: existsSync('/proc/self') ? false : 'no /proc here' }, async () => {
  const r1 = await runCli(['eval', '--model', DEAD_URL, '--tasks', 'OK-VQA', '--data', data, '--out', '/proc/vlm2vec-x']);
  assertCleanFailure(r1, /\[eval\] output folder \(--out\) \/proc\/vlm2vec-x: \/proc is on the proc kernel filesystem/);
  const r2 = await runCli(['eval', '--model', DEAD_URL, '--tasks', 'OK-VQA', '--data', data, '--out', join(work, 'o-proc'), '--cache-dir', '/proc/self/c']);
  assertCleanFailure(r2, /\[eval\] cache folder \(--cache-dir\) \/proc\/self\/c: \/proc\/self is on the proc kernel filesystem/);
  const r3 = await runCli(['eval-v1', '--model', DEAD_URL, '--data', data, '--image-dir', data, '--out', '/proc/vlm2vec-x']);
  assertCleanFailure(r3, /\[eval-v1\] output folder \(--out\) \/proc\/vlm2vec-x: \/proc is on the proc kernel filesystem/);
  const r4 = await runCli(['report', data, '--out', '/proc/vlm2vec-x']);
  assertCleanFailure(r4, /\[report\] output folder \(--out\) \/proc\/vlm2vec-x: \/proc is on the proc kernel filesystem/);
  const r5 = await runCli(['export', '--model', join(work, 'no-model'), '--out', '/sys/vlm2vec-x']);
  assertCleanFailure(r5, /\[export\] output folder \(--out\) \/sys\/vlm2vec-x: \/sys is on the sysfs kernel filesystem/);
  const r6 = await runCli(['data', 'pull', '--tasks', 'OK-VQA', '--data', '/proc/vlm2vec-x']);
  assertCleanFailure(r6, /\[data\] data folder \(--data\) \/proc\/vlm2vec-x: \/proc is on the proc kernel filesystem/);
});

test('a misspelt task gets a did-you-mean before the (here unreachable) endpoint is contacted', async () => {
  const r = await runCli(['eval', '--model', DEAD_URL, '--tasks', 'ImageNet1K', '--data', data, '--out', join(work, 'o2')]);
  assertCleanFailure(r, /unknown task 'ImageNet1K': did you mean ImageNet-1K\?/);
  assert.doesNotMatch(r.stderr, /no endpoint answered/);
});

test('bad option values: one line naming the option and the value, plus a pointer to --help', async () => {
  const base = ['eval', '--model', DEAD_URL, '--data', data, '--out', join(work, 'o3')];
  for (const [opt, value, want] of [
    ['--batch-size', '0', /--batch-size must be a positive integer, got '0'/],
    ['--concurrency', 'abc', /--concurrency must be a positive integer, got 'abc'/],
    ['--protocol', 'grpc', /argument 'grpc' is invalid\. Allowed choices are vlm2vec, vllm/],
    ['--tasks', '', /--tasks '' names no task; omit --tasks to run the whole benchmark/],
  ] as const) {
    const r = await runCli([...base, opt, value]);
    assertCleanFailure(r, want);
    assert.match(r.stderr, /\(run 'vlm2vec eval --help' for the options\)/);
  }
});

test('an unreachable endpoint is named, with what to check', async () => {
  const gone = await server();
  await gone.close(); // its port now refuses connections
  const r = await runCli(['eval', '--model', gone.url, '--tasks', 'OK-VQA', '--data', data, '--out', join(work, 'o4')]);
  assertCleanFailure(r, new RegExp(`\\[remote\\] no endpoint answered GET <base>/models \\(${gone.url.replace(/[.]/g, '\\.')}: fetch failed \\(ECONNREFUSED\\)\\); check the URLs`));
});

test('an endpoint answering NaN or the wrong dimension stops the run naming task, endpoint and item; no score file', async () => {
  const nan = await server({ fault: (req) => ({ raw: `{"data": [${req.items.map((_, i) => `{"index": ${i}, "embedding": [0.5, NaN]}`).join(', ')}]}` }) });
  const r1 = await runCli(['eval', '--model', nan.url, '--tasks', 'OK-VQA', '--data', data, '--out', join(work, 'o5'), '--retries', '0']);
  assertCleanFailure(r1, new RegExp(`task OK-VQA: embedding failed: .*${nan.url.replace(/[.]/g, '\\.')}/embeddings \\(task OK-VQA\\): item 0: embedding\\[1\\] is NaN`));
  assert.ok(!existsSync(join(work, 'o5', 'image', 'OK-VQA_score.json')));

  let n = 0;
  const shrinking = await server({ embed: () => (++n === 1 ? [1, 0, 0, 0] : [1, 0]), dim: 4 });
  const r2 = await runCli(['eval', '--model', shrinking.url, '--tasks', 'OK-VQA', '--data', data, '--out', join(work, 'o6'), '--batch-size', '1', '--concurrency', '1']);
  assertCleanFailure(r2, /task OK-VQA: embedding failed: .*embedding has 2 dimensions, expected 4/);
  assert.ok(!existsSync(join(work, 'o6', 'image', 'OK-VQA_score.json')));
});

test('Ctrl-C (SIGINT): exit 130 with a resume hint; the rerun finishes, re-requesting at most the batch in flight', async () => {
  const s = await server({ delayMs: 150 });
  const out = join(work, 'o7');
  const args = ['eval', '--model', s.url, '--tasks', 'ImageNet-1K,OK-VQA', '--data', data, '--out', out, '--batch-size', '1', '--concurrency', '1'];
  const first = await runCli(args, (child) => {
    const timer = setInterval(() => {
      if (s.requests.length >= 3) {
        clearInterval(timer);
        child.kill('SIGINT');
      }
    }, 10);
    child.on('exit', () => clearInterval(timer));
  });
  assert.equal(first.code, 130, first.stderr);
  assert.match(first.stderr, /interrupted: finished tasks and computed embeddings are kept; run the same command again to resume/);
  const before = s.requests.flatMap((r) => r.items.map((i) => i.digest));
  const second = await runCli(args);
  assert.equal(second.code, 0, second.stderr);
  assert.ok(existsSync(join(out, 'image', 'ImageNet-1K_score.json')) && existsSync(join(out, 'image', 'OK-VQA_score.json')));
  const again = s.requests.flatMap((r) => r.items.map((i) => i.digest)).slice(before.length);
  const repeated = again.filter((d) => before.includes(d));
  assert.ok(repeated.length <= 1, `re-requested ${repeated.length} items`);
  // 2 + 2 candidates + 2 queries for ImageNet-1K (one duplicate key), 1 + 3 for OK-VQA: 8 distinct items.
  assert.equal(new Set([...before, ...again]).size, 8);
});

test('tasks whose data is missing fail alone; the closing error repeats three in full, then names the rest', async () => {
  const r = await runCli(['eval', '--model', DEAD_URL, '--model-name', 'm', '--tasks', 'N24News,HatefulMemes,VOC2007,SUN397',
    '--data', data, '--out', join(work, 'o8')]);
  assertCleanFailure(r, /\[eval\] 4 task\(s\) failed:\n {2}N24News: .*config 'N24News' is not in .*README\.md/);
  assert.match(r.stderr, /\n {2}VOC2007: .*config 'VOC2007'/);
  assert.match(r.stderr, /\n {2}and 1 more \(errors above\): SUN397\n/);
  assert.equal(r.stderr.match(/config 'SUN397' is not in/g)?.length, 1, 'SUN397 printed once, as it failed');
});

test('an undecodable image fails its task alone (naming the file); the other tasks finish; the rerun resumes', async () => {
  // The tiny local fixture model (it carries the real tokenizer) decodes the images itself.
  const model = join(work, 'tiny-model');
  cpSync(join(ROOT, 'test', 'fixtures', 'model', 'tiny-a'), model, { recursive: true });
  const img = join(data, 'image-tasks', 'OK-VQA', 'img_1.jpg');
  const good = join(work, 'img_1.good.jpg');
  copyFileSync(img, good);
  // JPEG magic, then garbage: recognised as a JPEG, not decodable.
  writeFileSync(img, Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(60, 0x41)]));
  const out = join(work, 'o9');
  const args = ['eval', '--model', model, '--tasks', 'ImageNet-1K,OK-VQA,MSCOCO_i2t', '--data', data, '--out', out, '--threads', '1'];
  try {
    const r = await runCli(args);
    assertCleanFailure(r, /\[eval\] 1 task\(s\) failed:\n {2}OK-VQA: .*item 0: \[image\] \S*image-tasks\/OK-VQA\/img_1\.jpg: cannot decode image/);
    for (const t of ['ImageNet-1K', 'MSCOCO_i2t']) assert.ok(existsSync(join(out, 'image', `${t}_score.json`)), `${t} finished after OK-VQA failed`);
    assert.ok(!existsSync(join(out, 'image', 'OK-VQA_score.json')));
    assert.match(r.stderr, /\[3\/3\] MSCOCO_i2t\n/, 'the run went on past the failed task');
  } finally {
    copyFileSync(good, img);
  }
  const again = await runCli(args);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /ImageNet-1K: already finished .*, skipped/);
  assert.match(again.stderr, /MSCOCO_i2t: already finished .*, skipped/);
  assert.ok(existsSync(join(out, 'image', 'OK-VQA_score.json')));
});

test('through an endpoint too: an image the server cannot decode (400 naming input[i].images[j]) fails its task alone, naming the file', async () => {
  const img = join(data, 'image-tasks', 'OK-VQA', 'img_1.jpg');
  const good = join(work, 'img_1.good-remote.jpg');
  copyFileSync(img, good);
  const broken = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(60, 0x41)]);
  writeFileSync(img, broken);
  // The server decodes nothing; it refuses exactly these bytes, as a real one refuses a bad JPEG.
  const srv = await server({
    embed: (item, dim) => {
      const k = item.images.findIndex((b) => b.equals(broken));
      if (k >= 0) throw new MediaError('[image] cannot decode image: not a JPEG', undefined, { kind: 'images', index: k });
      return hashVector(Buffer.from(item.digest, 'hex'), dim);
    },
  });
  const out = join(work, 'o10');
  try {
    const r = await runCli(['eval', '--model', srv.url, '--tasks', 'ImageNet-1K,OK-VQA,MSCOCO_i2t', '--data', data, '--out', out, '--retries', '0']);
    assertCleanFailure(r, /\[eval\] 1 task\(s\) failed:\n {2}OK-VQA: .*item \d+: images\[0\] \S*image-tasks\/OK-VQA\/img_1\.jpg: the endpoint cannot decode it \(HTTP 400 from .*input\[\d+\]\.images\[0\]/);
    for (const t of ['ImageNet-1K', 'MSCOCO_i2t']) assert.ok(existsSync(join(out, 'image', `${t}_score.json`)), `${t} finished after OK-VQA failed`);
    assert.ok(!existsSync(join(out, 'image', 'OK-VQA_score.json')));
  } finally {
    copyFileSync(good, img);
  }
});
