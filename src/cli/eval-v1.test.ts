import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { registerEvalV1, type EvalV1Io } from './eval-v1.ts';
import { startEmbedServer, type EmbedServer } from '../../test/e2e/embed-server.ts';

const FIX = fileURLToPath(new URL('../../test/fixtures/mmeb/v1', import.meta.url));
const IMAGES = join(FIX, 'images');

let work: string;
let server: EmbedServer;
before(async () => {
  work = mkdtempSync(join(tmpdir(), 'v2v-cli-v1-'));
  // ImageNet-1K: text candidates by their text; both query images embed like 'cat'.
  const table: Record<string, number[]> = { cat: [1, 0], dog: [0, 1], "it's a bird": [-1, 0], 'a "big" fish\nswimming': [0, -1] };
  server = await startEmbedServer({ dim: 2, embed: (item) => (item.images.length > 0 ? [1, 0] : table[item.text] ?? [0, 0]) });
});
after(async () => {
  await server.close();
  rmSync(work, { recursive: true, force: true });
});

function capture(): EvalV1Io & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) } };
}

async function run(args: string[], io: EvalV1Io): Promise<void> {
  const program = new Command('vlm2vec').exitOverride();
  program.configureOutput({ writeOut: () => {}, writeErr: () => {} });
  registerEvalV1(program, io);
  for (const c of program.commands) c.exitOverride().configureOutput({ writeOut: () => {}, writeErr: () => {} });
  await program.parseAsync(['node', 'vlm2vec', 'eval-v1', ...args]);
}

test('eval-v1 against an endpoint: score files, stdout summary, stderr progress, resume', async () => {
  const out = join(work, 'run');
  const io = capture();
  await run(['--model', server.url, '--data', FIX, '--image-dir', IMAGES, '--out', out, '--subsets', 'ImageNet-1K', '--batch-size', '2'], io);
  // Rows: [cat, dog, bird] → cat (right); [dog, cat, fish] → cat at 1 (wrong); [bird, cat, dog] → cat at 1 (wrong).
  assert.equal(readFileSync(join(out, 'ImageNet-1K_score.json'), 'utf8'),
    '{\n    "acc": 0.3333333333333333,\n    "num_correct": 1,\n    "num_pred": 3\n}');
  assert.equal(readFileSync(join(out, 'ImageNet-1K_pred.txt'), 'utf8'), "('cat', '')\n('cat', '')\n('cat', '')\n");
  const stdout = io.out.join('');
  assert.match(stdout, /ImageNet-1K\s+33\.33\n\s+Classification\s+33\.33 {2}\(partial: 1\/10 datasets\)\n/);
  assert.match(stdout, /Overall\s+33\.33 {2}\(partial: 1\/36 datasets\)\nsummary: .*summary-v1\.json\n$/);
  const summary = JSON.parse(readFileSync(join(out, 'summary-v1.json'), 'utf8')) as { scores: Record<string, number> };
  assert.equal(summary.scores['IND'], (1 / 3) * 100); // the acc 0.333… ×100
  const err = io.err.join('');
  assert.match(err, /1 subset\(s\): ImageNet-1K/);
  assert.match(err, /3 rows, 2 unique queries, 4 unique candidates/);
  assert.match(err, /acc 0\.3333 \(1\/3; 6 embedded, 0 from cache/);
  const items = server.requests.flatMap((r) => r.items);
  assert.equal(items.length, 6);
  assert.equal(items[0]!.text, '<|image_pad|> Represent the given image for classification.');

  const again = capture();
  await run(['--model', server.url, '--data', FIX, '--image-dir', IMAGES, '--out', out, '--subsets', 'ImageNet-1K'], again);
  assert.match(again.err.join(''), /ImageNet-1K: already finished .*skipped/);
  assert.equal(server.requests.flatMap((r) => r.items).length, 6);
});

test('eval-v1 reports failed subsets after running the others, and rejects bad options', async () => {
  const io = capture();
  await assert.rejects(run(['--model', server.url, '--data', FIX, '--image-dir', IMAGES, '--out', join(work, 'f'), '--subsets', 'Nope,WebQA'], io),
    /\[eval-v1\] 1 subset\(s\) failed:\n {2}Nope: \[mmeb-v1\] subset 'Nope'/);
  assert.match(io.out.join(''), /WebQA/);
  await assert.rejects(run(['--model', server.url, '--data', FIX, '--out', join(work, 'g')], capture()), /required option '--image-dir <dir>' not specified/);
  await assert.rejects(run(['--model', server.url, '--data', FIX, '--image-dir', IMAGES, '--out', join(work, 'g'), '--batch-size', '0'], capture()),
    /--batch-size must be a positive integer, got '0'/);
  await assert.rejects(run(['--model', server.url, '--data', FIX, '--image-dir', IMAGES, '--out', join(work, 'g'), '--style', 'gme'], capture()),
    /argument 'gme' is invalid/);
  const before = server.requests.length;
  await assert.rejects(run(['--model', 'http://127.0.0.1:9/v1', '--data', FIX, '--image-dir', join(work, 'missing'), '--out', join(work, 'g')], capture()),
    /\[mmeb-v1\] image folder \(--image-dir\) .*missing does not exist/); // before contacting the (dead) endpoint
  assert.equal(server.requests.length, before);
  await assert.rejects(run(['--model', server.url, '--data', FIX, '--image-dir', IMAGES, '--out', join(work, 'g'), '--threads', '2'], capture()),
    /\[eval-v1\] --threads applies to a local model/);
});

test('eval-v1 --help shows the examples and the resolution rule', () => {
  const program = new Command('vlm2vec');
  registerEvalV1(program, capture());
  const cmd = program.commands.find((c) => c.name() === 'eval-v1')!;
  let help = '';
  cmd.configureOutput({ writeOut: (s) => (help += s) });
  cmd.outputHelp();
  help = help.replace(/\s+/g, ' ');
  assert.match(help, /--image-resolution <res>/);
  assert.match(help, /high \(1344x1344\), mid \(672x672\), low \(128x128\)/);
  assert.match(help, /\$ vlm2vec eval-v1 --model TIGER-Lab\/VLM2Vec-Qwen2VL-2B/);
  assert.match(help, /<subset>_pred\.txt/);
  assert.doesNotMatch(help, /default: false/);
});
