// `vlm2vec data check|pull` argument handling, run in-process with the output captured.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { registerData } from './data.ts';
import { FIXTURE_DATA } from '../mmeb/load/fixtures.test-helper.ts';
import { fakeHub } from '../mmeb/data/fake-hub.test-helper.ts';
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

async function run(args: string[]): Promise<{ out: string; code: number | undefined }> {
  const program = new Command('vlm2vec').exitOverride();
  const chunks: string[] = [];
  registerData(program, { out: (s) => void chunks.push(s) });
  const prevCode = process.exitCode;
  process.exitCode = undefined;
  await program.parseAsync(['node', 'vlm2vec', ...args]);
  const code = process.exitCode;
  process.exitCode = prevCode;
  return { out: chunks.join(''), code };
}

/** Run expecting commander to stop (help shown or an option error); returns what it wrote. */
async function runCommander(args: string[]): Promise<{ out: string; err: string; code: string }> {
  let out = '';
  let err = '';
  const program = new Command('vlm2vec').exitOverride().configureOutput({ writeOut: (t) => { out += t; }, writeErr: (t) => { err += t; } });
  registerData(program, { out: () => {} });
  try {
    await program.parseAsync(['node', 'vlm2vec', ...args]);
  } catch (e) {
    return { out, err, code: (e as { code: string }).code };
  }
  throw new Error(`commander did not stop on ${args.join(' ')}`);
}

test('data pull --help: no "(default: [])" for --tasks, --timeout in seconds', async () => {
  const help = await runCommander(['data', 'pull', '--help']);
  const code = help.code;
  const out = help.out.replace(/\s+/g, ' '); // commander wraps to the terminal width
  assert.equal(code, 'commander.helpDisplayed');
  assert.doesNotMatch(out, /default: \[\]/);
  assert.match(out, /--tasks <spec> task names, .*; default: the whole benchmark\)/);
  assert.match(out, /--timeout <seconds> timeout of each hub request \(seconds, like eval --timeout\) \(default: 20\)/);
  assert.doesNotMatch((await runCommander(['data', 'check', '--help'])).out, /default: \[\]/);
});

test('data option errors print the error and one line pointing to --help', async () => {
  const bad = await runCommander(['data', 'pull', '--data', '/d', '--timeout', 'soon']);
  assert.equal(bad.code, 'commander.invalidArgument');
  assert.equal(bad.err, "error: option '--timeout <seconds>' argument 'soon' is invalid. --timeout must be a positive integer, got 'soon'\n" +
    "(run 'vlm2vec data pull --help' for the options)\n");
  const empty = await runCommander(['data', 'check', '--data', '/d', '--tasks', ',']);
  assert.match(empty.err, /--tasks ',' names no task.*\n\(run 'vlm2vec data check --help' for the options\)\n$/);
  const missing = await runCommander(['data', 'pull']);
  assert.equal(missing.err, "error: required option '-d, --data <dir>' not specified\n(run 'vlm2vec data pull --help' for the options)\n");
});

test('data pull --timeout is seconds: a silent hub is given the full second', async () => {
  const { createServer } = await import('node:http');
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const server = createServer(() => { /* never answer */ });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as import('node:net').AddressInfo;
  try {
    const t0 = Date.now();
    await assert.rejects(run(['data', 'pull', '--data', mkdtempSync(join(tmpdir(), 'vlm2vec-pull-')), '--tasks', 'Breakfast',
      '--hub-url', `http://127.0.0.1:${port}`, '--timeout', '1']), /\(TIMEOUT\) while listing dataset VLM2Vec\/Breakfast/);
    const ms = Date.now() - t0;
    // Read as milliseconds, "1" would give up at once.
    assert.ok(ms >= 900 && ms < 5000, `gave up after ${ms} ms`);
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test('data check: one line per task, exit code 1 when something is missing', async () => {
  const ok = await run(['data', 'check', '--data', FIXTURE_DATA, '--tasks', 'Breakfast,ViDoRe_arxivqa']);
  assert.match(ok.out, /^Breakfast\s+ok\s+ok$/m);
  assert.match(ok.out, /^ViDoRe_arxivqa\s+ok\s+from corpus$/m);
  assert.match(ok.out, /2\/2 task\(s\) ready/);
  assert.equal(ok.code, undefined);
  const bad = await run(['data', 'check', '--data', FIXTURE_DATA, '--tasks', 'HMDB51']);
  assert.match(bad.out, /^HMDB51\s+missing\s+missing\s+— task HMDB51: dataset VLM2Vec\/HMDB51/m);
  assert.equal(bad.code, 1);
});

test('data check: an image task is checked against its own folder under image-tasks/, named by its rows', async () => {
  const { fixtureCopy } = await import('../mmeb/load/fixtures.test-helper.ts');
  const { rmSync } = await import('node:fs');
  const data = fixtureCopy();
  try {
    rmSync(join(data, 'image-tasks', 'WebQA'), { recursive: true });
    // RefCOCO-Matching's rows name RefCOCO/ (not a folder of its own name): still found.
    const r = await run(['data', 'check', '--data', data, '--tasks', 'WebQA,OK-VQA,RefCOCO-Matching,N24News']);
    assert.match(r.out, new RegExp(`^WebQA\\s+ok\\s+missing\\s+— image folder ${join(data, 'image-tasks', 'WebQA')} not found \\(vlm2vec data pull --media --extract; --deep checks every image\\)$`, 'm'));
    assert.match(r.out, /^OK-VQA\s+ok\s+ok$/m);
    assert.match(r.out, /^RefCOCO-Matching\s+ok\s+ok$/m);
    // Without annotations there is no row to name the folder: said so, not 'ok'.
    assert.match(r.out, /^N24News\s+missing\s+not checked\s+— task N24News: .*config 'N24News' is not in/m);
    assert.match(r.out, /2\/4 task\(s\) ready/);
    assert.equal(r.code, 1);
    // The tree as `mmeb_v1.tar.gz` unpacks it (image-tasks/MMEB/<folder>), which the loader accepts too.
    cpSync(join(FIXTURE_DATA, 'image-tasks', 'WebQA'), join(data, 'image-tasks', 'MMEB', 'WebQA'), { recursive: true });
    assert.match((await run(['data', 'check', '--data', data, '--tasks', 'WebQA'])).out, /^WebQA\s+ok\s+ok$/m);
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
});

test('data pull --dry-run: repos, archives and the extraction commands', async () => {
  const r = await run(['data', 'pull', '--dry-run', '--data', '/d', '--tasks', 'video/QA']);
  assert.match(r.out, /5 task\(s\) need 5 dataset repo\(s\)/);
  assert.match(r.out, /VLM2Vec\/MVBench \(README\.md, \*\*\/\*\.parquet, \*\*\/\*\.jsonl, \*\*\/\*\.json\) → \/d\/VLM2Vec\/MVBench\//);
  assert.match(r.out, /cat video-tasks\/frames\/video_qa\.tar\.gz-00 .* video-tasks\/frames\/video_qa\.tar\.gz-04 \| tar -xz -C video-tasks\/frames/);
});

test('data check --deep loads the tasks and reports media errors', async () => {
  const { fixtureCopy } = await import('../mmeb/load/fixtures.test-helper.ts');
  const { rmSync } = await import('node:fs');
  const { join } = await import('node:path');
  const data = fixtureCopy();
  rmSync(join(data, 'video-tasks/frames/video_qa/NExTQA/4010069381'), { recursive: true });
  const r = await run(['data', 'check', '--deep', '--data', data, '--tasks', 'Breakfast,NExTQA,ViDoRe_arxivqa']);
  assert.match(r.out, /^Breakfast\s+ok\s+ok\s+— 2 queries, 10 corpus items$/m);
  assert.match(r.out, /^NExTQA\s+ok\s+missing\s+— task NExTQA: video '4010069381' .* frame folder .*4010069381 not found/m);
  assert.match(r.out, /^ViDoRe_arxivqa\s+ok\s+from corpus\s+— 3 queries, 4 corpus items$/m);
  assert.match(r.out, /2\/3 task\(s\) ready/);
  assert.equal(r.code, 1);
});

test('data pull-v1: fetches the chosen subsets, unpacks images.zip and says which --image-dir to use', async () => {
  const repo = mkdtempSync(join(tmpdir(), 'vlm2vec-v1repo-'));
  const fixtures = join(import.meta.dirname, '../../test/fixtures');
  cpSync(join(fixtures, 'mmeb/v1/TIGER-Lab/MMEB-eval'), repo, { recursive: true });
  cpSync(join(fixtures, 'io/zip/images.zip'), join(repo, 'images.zip'));
  const hub = await fakeHub({ 'TIGER-Lab/MMEB-eval': repo });
  try {
    const data = mkdtempSync(join(tmpdir(), 'vlm2vec-v1data-'));
    const { out } = await run(['data', 'pull-v1', '--data', data, '--subsets', 'WebQA', '--extract', '--hub-url', hub.url]);
    assert.match(out, /^TIGER-Lab\/MMEB-eval: 3 file\(s\)$/m);
    assert.match(out, /got {2}WebQA\/test-00000-of-00001\.parquet/);
    assert.doesNotMatch(out, /ImageNet-1K/);
    assert.ok(out.includes(`images unpacked: pass --image-dir ${join(data, 'MMEB-eval-images', 'eval_images')} to vlm2vec eval-v1`), out);
    const plain = await run(['data', 'pull-v1', '--data', data, '--subsets', 'WebQA', '--hub-url', hub.url]);
    assert.match(plain.out, /have WebQA\/test-00000-of-00001\.parquet/);
    assert.match(plain.out, /note: images\.zip is not downloaded; add --extract/);
  } finally {
    hub.server.close();
  }
});
