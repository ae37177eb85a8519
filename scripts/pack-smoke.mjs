#!/usr/bin/env node
// Packaging smoke test: what a user gets from `npm i vlm2vec`. Packs this checkout (prepack builds
// dist/), installs the tarball into an empty project in a temp folder, then runs the installed
// `vlm2vec` (--help, --version, leaderboard, embed with the tiny fixture model, embed without
// --model on the bundled model, the demo without its benchmark) and imports the library, checking
// the embeddings against the transformers reference values of the fixture.
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

/** Runs a command, echoing it; returns stdout (with `both`: {stdout, stderr}). `env` adds variables. */
function run(cmd, args, { cwd = app, env = {}, input, both = false } = {}) {
  const line = [cmd, ...args].join(' ').replace(/\s+/g, ' ');
  console.error(`pack-smoke: $ ${line.length > 120 ? `${line.slice(0, 117)}...` : line}`);
  const r = spawnSync(cmd, args, { cwd, env: { ...process.env, ...env }, encoding: 'utf8', input, maxBuffer: 64 << 20 });
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} exited with ${r.status}\n${r.stdout}\n${r.stderr}`);
  return both ? { stdout: r.stdout, stderr: r.stderr } : r.stdout;
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
// The bundled model, the demo gallery and the mini benchmark ship in the tarball.
const listed = new Set(run('tar', ['-tzf', join(work, tgz)], { cwd: work }).split('\n'));
for (const f of ['assets/model/config.json', 'assets/model/model.safetensors', 'assets/model/tokenizer.json', 'assets/demo/LICENSES.md',
  'assets/demo/gallery.json', 'assets/demo/gallery/docs/guide.pdf', 'assets/demo/gallery/video/realshort.mp4']) {
  if (!listed.has(`package/${f}`)) fail(`the tarball lacks ${f}`);
}
const galleryFiles = JSON.parse(readFileSync(join(root, 'assets', 'demo', 'gallery.json'), 'utf8')).map((f) => f.path);
const missing = galleryFiles.filter((f) => !listed.has(`package/assets/demo/gallery/${f}`));
if (missing.length > 0) fail(`the tarball lacks gallery files: ${missing.slice(0, 5).join(', ')}`);
if (![...listed].some((f) => f.startsWith('package/assets/mini/'))) fail('the tarball lacks assets/mini (the bundled mini benchmark)');

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

// Without --model: the bundled model inside the installed package, announced in one line.
const bundled = run('npx', ['vlm2vec', 'embed', '--input', 'items.jsonl', '--out', 'bundled.jsonl', '--threads', '1'], { both: true });
const notice = bundled.stderr.split('\n').filter((l) => l.includes('bundled model'));
if (notice.length !== 1 || !notice[0].includes('VLM2Vec/VLM2Vec-V2.0')) fail(`embed without --model: expected one notice line, got:\n${bundled.stderr}`);
const { text_config: tc } = JSON.parse(readFileSync(join(pkgDir, 'assets', 'model', 'config.json'), 'utf8'));
const [bundledLine] = readFileSync(join(app, 'bundled.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
if (bundledLine?.embedding?.length !== tc.hidden_size) fail(`embed without --model wrote ${JSON.stringify(bundledLine).slice(0, 200)}, expected ${tc.hidden_size} numbers`);
// The demo finds its gallery in the installed package (its benchmark is left to the test suite).
const demo = run('npx', ['vlm2vec', 'demo', '--no-bench', '--db', join(work, 'demo.lance'), '--threads', '2']);
if (!new RegExp(`^Indexed ${galleryFiles.length} files of the bundled gallery \\(${galleryFiles.length} embedded`, 'm').test(demo)) fail(`vlm2vec demo printed:\n${demo}`);
if (!/^text → image: "a sneaker"\n {2}1\. /m.test(demo)) fail(`vlm2vec demo printed no search results:\n${demo}`);

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
const libBundled = run(process.execPath, ['--input-type=module', '-e', "import { bundledModelPath } from 'vlm2vec'; console.log(bundledModelPath());"]).trim();
if (libBundled !== join(pkgDir, 'assets', 'model')) fail(`bundledModelPath() is ${libBundled}, expected ${join(pkgDir, 'assets', 'model')}`);
for (const [name, got, want] of [['a_image', libImage, image.embedding], ['a_text', libText, text.embedding]]) {
  const c = cosine(got, want);
  if (!(c >= 0.99999)) fail(`LocalEmbedder (${name}): cosine ${c} to the reference embedding`);
}

rmSync(work, { recursive: true, force: true });
console.error(`pack-smoke: OK (${tgz}; assets shipped; CLI --help/--version/leaderboard/embed, embed on the bundled model, demo --no-bench, and the library import, embeddings at cosine ≥ 0.99999 to the reference)`);
