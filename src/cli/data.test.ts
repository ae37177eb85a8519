// `vlm2vec data check|pull` argument handling, run in-process with the output captured.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { registerData } from './data.ts';
import { FIXTURE_DATA } from '../mmeb/loaders/test-util.ts';

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

test('data pull --dry-run: repos, archives and the extraction commands', async () => {
  const r = await run(['data', 'pull', '--dry-run', '--data', '/d', '--tasks', 'video/QA']);
  assert.match(r.out, /5 task\(s\) need 5 dataset repo\(s\)/);
  assert.match(r.out, /VLM2Vec\/MVBench \(README\.md, \*\*\/\*\.parquet, \*\*\/\*\.jsonl, \*\*\/\*\.json\) → \/d\/VLM2Vec\/MVBench\//);
  assert.match(r.out, /cat video-tasks\/frames\/video_qa\.tar\.gz-00 .* video-tasks\/frames\/video_qa\.tar\.gz-04 \| tar -xz -C video-tasks\/frames/);
});

test('data check --deep loads the tasks and reports media errors', async () => {
  const { fixtureCopy } = await import('../mmeb/loaders/test-util.ts');
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
