#!/usr/bin/env node
// Packaging smoke test: what a user gets from `npm i vlm2vec`. Packs this checkout (prepack builds
// dist/), installs the tarball into an empty project in a temp folder, then runs the installed
// `vlm2vec` (--help, --version, leaderboard, embed with the tiny fixture model) and imports the
// library, checking the embeddings against the transformers reference values of the fixture.
// Usage: node scripts/pack-smoke.mjs   (needs the npm registry for the package's dependencies)
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const fixtures = join(root, 'test', 'fixtures', 'model');
const model = join(fixtures, 'tiny-a'); // carries its tokenizer.json: a complete model folder
const work = mkdtempSync(join(tmpdir(), 'vlm2vec-pack-'));
const app = join(work, 'app');

function fail(msg) {
  console.error(`pack-smoke: FAILED: ${msg}\n(work folder kept: ${work})`);
  process.exit(1);
}

/** Runs a command, echoing it; returns stdout. `env` adds variables. */
function run(cmd, args, { cwd = app, env = {}, input } = {}) {
  const line = [cmd, ...args].join(' ').replace(/\s+/g, ' ');
  console.error(`pack-smoke: $ ${line.length > 120 ? `${line.slice(0, 117)}...` : line}`);
  const r = spawnSync(cmd, args, { cwd, env: { ...process.env, ...env }, encoding: 'utf8', input, maxBuffer: 64 << 20 });
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} exited with ${r.status}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** The reference embedding of one fixture case (tools/reference/model_qwen2vl.py). */
function golden(name) {
  const { cases } = JSON.parse(readFileSync(join(fixtures, 'cases.json'), 'utf8'));
  const c = cases.find((x) => x.name === name);
  if (!c) fail(`fixture case ${name} missing`);
  const b = readFileSync(join(fixtures, c.embedding.file));
  return { items: c.items, embedding: new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4) };
}

function cosine(a, b) {
  if (a.length !== b.length) fail(`embedding length ${a.length}, expected ${b.length}`);
  let d = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) (d += a[i] * b[i]), (na += a[i] ** 2), (nb += b[i] ** 2);
  return d / Math.sqrt(na * nb);
}

const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

// 1. Pack (prepack builds dist/) and install into an empty project. As the README says for users:
// ONNXRUNTIME_NODE_INSTALL=skip keeps onnxruntime-node from fetching its CUDA provider.
run('npm', ['pack', '--pack-destination', work], { cwd: root });
const tgz = readdirSync(work).find((f) => /^vlm2vec-.*\.tgz$/.test(f));
if (!tgz) fail('npm pack wrote no vlm2vec-*.tgz');
mkdirSync(app);
run('npm', ['init', '-y']);
run('npm', ['i', '--no-audit', '--no-fund', join(work, tgz)], { env: { ONNXRUNTIME_NODE_INSTALL: 'skip' } });

// The installed package is the compiled one: no TypeScript sources, tests or TS loader.
const pkgDir = join(app, 'node_modules', 'vlm2vec');
for (const p of ['src', 'test', 'bench', 'tools']) {
  if (existsSync(join(pkgDir, p))) fail(`the package ships ${p}`);
}
// Tests and their helpers (`*.test.ts`, `*.test-helper.ts`) stay out of dist/.
const testFiles = readdirSync(join(pkgDir, 'dist'), { recursive: true }).map(String).filter((f) => /\.test(-helper)?\.(js|d\.ts)$/.test(f));
if (testFiles.length > 0) fail(`the package ships test code: ${testFiles.slice(0, 5).join(', ')}`);
if (!existsSync(join(pkgDir, 'dist', 'cli', 'main.js'))) fail('the package has no dist/cli/main.js');
if (existsSync(join(app, 'node_modules', 'tsx'))) fail('tsx was installed: it should be a devDependency only');

// 2. The installed command.
const help = run('npx', ['vlm2vec', '--help']);
for (const c of ['eval', 'eval-v1', 'report', 'leaderboard', 'data', 'embed', 'export']) {
  if (!new RegExp(`^  ${c} `, 'm').test(help)) fail(`--help does not list ${c}:\n${help}`);
}
const v = run('npx', ['vlm2vec', '--version']).trim();
if (v !== version) fail(`--version printed ${v}, expected ${version}`);
const board = run('npx', ['vlm2vec', 'leaderboard']);
// Default version v2.0.1: VLM2Vec-V2.0's overall score in the reference's published files is 57.89.
if (!/^VLM2Vec-V2\.0-Qwen2VL-2B\s+57\.89\s/m.test(board)) fail(`leaderboard lacks VLM2Vec-V2.0's overall 57.89:\n${board}`);

const text = golden('a_text');
writeFileSync(join(app, 'items.jsonl'), `${JSON.stringify({ text: text.items[0].text })}\n`);
run('npx', ['vlm2vec', 'embed', '--model', model, '--input', 'items.jsonl', '--out', 'out.jsonl', '--threads', '1']);
const out = readFileSync(join(app, 'out.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
if (out.length !== 1 || !out[0].embedding) fail(`embed wrote ${JSON.stringify(out).slice(0, 300)}`);
const cliCos = cosine(out[0].embedding, text.embedding);
if (!(cliCos >= 0.99999)) fail(`vlm2vec embed: cosine ${cliCos} to the reference embedding`);

// 3. The library, as an ES module importing the package by name.
const image = golden('a_image');
const items = [
  { text: image.items[0].text, images: image.items[0].images.map((p) => join(fixtures, p)) },
  { text: text.items[0].text },
];
const lib = run(process.execPath, ['--input-type=module', '-e', `
import { LocalEmbedder } from 'vlm2vec';
const m = await LocalEmbedder.load(${JSON.stringify(model)});
const vs = await m.embed(${JSON.stringify(items)});
await m.close();
console.log(JSON.stringify(vs.map((v) => Array.from(v))));
`]);
const [libImage, libText] = JSON.parse(lib);
for (const [name, got, want] of [['a_image', libImage, image.embedding], ['a_text', libText, text.embedding]]) {
  const c = cosine(got, want);
  if (!(c >= 0.99999)) fail(`LocalEmbedder (${name}): cosine ${c} to the reference embedding`);
}

rmSync(work, { recursive: true, force: true });
console.error(`pack-smoke: OK (${tgz}; CLI --help/--version/leaderboard/embed and the library import, embeddings at cosine ≥ 0.99999 to the reference)`);
