import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { join } from 'node:path';
import { checkOutputDir, checkOutputFile, ensureOutputDir, writeFileAtomic, writeFileAtomicSync } from './fs.ts';
import { Vlm2VecError } from '../errors.ts';

test('writeFileAtomic creates parents, replaces content, leaves no temp files', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vec-fs-'));
  const f = join(dir, 'a', 'b', 'x.json');
  await writeFileAtomic(f, 'one');
  await writeFileAtomic(f, new TextEncoder().encode('two'));
  assert.equal(readFileSync(f, 'utf8'), 'two');
  writeFileAtomicSync(join(dir, 'a', 'y.txt'), 'three');
  assert.equal(readFileSync(join(dir, 'a', 'y.txt'), 'utf8'), 'three');
  assert.deepEqual(readdirSync(join(dir, 'a', 'b')), ['x.json']);
  assert.deepEqual(readdirSync(join(dir, 'a')).sort(), ['b', 'y.txt']);
});

test('a failed write keeps the old file, removes the temp file and names the path', async () => {
  // A write that fails half-way (the data cannot be written); unlike a read-only folder this
  // also fails when the tests run as root.
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vec-fs-'));
  const f = join(dir, 'x.json');
  writeFileSync(f, 'old');
  const bad = 42 as unknown as string;
  await assert.rejects(writeFileAtomic(f, bad), (e: Error) => e instanceof Vlm2VecError && e.message.startsWith(`[fs] cannot write ${f}:`));
  assert.throws(() => writeFileAtomicSync(f, bad), (e: Error) => e instanceof Vlm2VecError && e.message.includes(f));
  assert.equal(readFileSync(f, 'utf8'), 'old');
  assert.deepEqual(readdirSync(dir), ['x.json']);
});

test('a parent path that is a file: a clear error naming the target', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vec-fs-'));
  writeFileSync(join(dir, 'file'), 'x');
  const target = join(dir, 'file', 'image', 'a_score.json');
  await assert.rejects(writeFileAtomic(target, 'y'), (e: Error) => e instanceof Vlm2VecError && e.message.includes(`cannot write ${target}: cannot create the output folder`) && e.message.includes(`${join(dir, 'file')} is a file, not a folder`));
  assert.throws(() => writeFileAtomicSync(target, 'y'), (e: Error) => e instanceof Vlm2VecError && e.message.includes(target));
});

test('writing over a directory fails without leaving a temp file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vec-fs-'));
  const target = join(dir, 'sub');
  await writeFileAtomic(join(target, 'keep'), 'k');
  await assert.rejects(writeFileAtomic(target, 'x'), (e: Error) => e instanceof Vlm2VecError && e.message.includes(target));
  assert.deepEqual(readdirSync(dir), ['sub']);
});

const isErr = (re: RegExp) => (e: Error): boolean => e instanceof Vlm2VecError && re.test(e.message) && !e.message.includes('\n');

test('ensureOutputDir creates the missing folders; checkOutputDir creates nothing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vec-fs-'));
  const target = join(dir, 'a', 'b', 'c');
  assert.deepEqual(checkOutputDir(target), [join(dir, 'a'), join(dir, 'a', 'b'), target]);
  assert.ok(!existsSync(join(dir, 'a')), 'checkOutputDir must not create anything');
  assert.equal(ensureOutputDir(target), target);
  assert.ok(statSync(target).isDirectory());
  assert.deepEqual(checkOutputDir(target), []);
  assert.equal(ensureOutputDir(target), target, 'an existing folder is fine');
});

test('an output folder that is a file, or below a file: one line naming the path, the option and the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vec-fs-'));
  const file = join(dir, 'f');
  writeFileSync(file, 'x');
  const o = { what: 'output folder (--out)', area: 'eval' };
  assert.throws(() => ensureOutputDir(file, o), isErr(new RegExp(`^\\[eval\\] output folder \\(--out\\) ${file} is a file: expected a folder`)));
  assert.throws(() => ensureOutputDir(join(file, 'x', 'y'), o),
    isErr(new RegExp(`^\\[eval\\] cannot create the output folder \\(--out\\) ${file}/x/y: ${file} is a file, not a folder$`)));
});

// Node 20's recursive mkdir never returns for these paths (it retries ENOENT forever): the test
// has a timeout so that the old behaviour fails instead of hanging the suite.
test('paths on /proc and /sys are refused at once, nothing is created', { timeout: 10_000, skip: existsSync('/proc/self') ? false : 'no /proc on this system' }, async () => {
  for (const p of ['/proc/vlm2vec-x', '/proc/vlm2vec-x/y', '/proc/self/vlm2vec']) {
    assert.throws(() => ensureOutputDir(p, { what: 'output folder (--out)' }), isErr(/^\[fs\] output folder \(--out\) \/proc\S*: \/proc\S* is on the proc kernel filesystem/));
  }
  if (existsSync('/sys/kernel')) assert.throws(() => ensureOutputDir('/sys/vlm2vec-x'), isErr(/\/sys is on the sysfs kernel filesystem/));
  await assert.rejects(writeFileAtomic('/proc/vlm2vec-x/a.json', '{}'), isErr(/^\[fs\] cannot write \/proc\/vlm2vec-x\/a\.json: .*proc kernel filesystem/));
  assert.throws(() => checkOutputFile('/proc/vlm2vec-x/out.jsonl'), isErr(/folder of the output file \/proc\/vlm2vec-x: \/proc is on the proc kernel filesystem/));
});

test('checkOutputFile: a folder, a trailing slash, or a folder below a file are refused; a new or existing file passes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vec-fs-'));
  const o = { what: 'output file (--out)', area: 'embed' };
  assert.throws(() => checkOutputFile(dir, o), isErr(new RegExp(`^\\[embed\\] output file \\(--out\\) ${dir} is a folder: expected a file path`)));
  assert.throws(() => checkOutputFile(`${dir}/new/`, o), isErr(/names a folder: expected a file path/));
  writeFileSync(join(dir, 'f'), 'x');
  assert.throws(() => checkOutputFile(join(dir, 'f', 'out.jsonl'), o), isErr(/folder of the output file \(--out\) .*f is a file: expected a folder/));
  assert.equal(checkOutputFile(join(dir, 'missing', 'out.jsonl'), o), undefined);
  assert.ok(!existsSync(join(dir, 'missing')), 'a check creates nothing');
  assert.equal(checkOutputFile(join(dir, 'f'), o)?.size, 1);
});

// Root may write anywhere, so as root the check runs in a child process as the unprivileged user
// `nobody` (uid/gid 65534), which a read-only folder does refuse.
test('a read-only folder is refused with the folder named', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vec-fs-'));
  chmodSync(dir, 0o755);
  const ro = join(dir, 'ro');
  mkdirSync(ro);
  chmodSync(ro, 0o555);
  const expected = new RegExp(`${ro} is not writable \\(EACCES\\)`);
  try {
    if (process.getuid?.() !== 0) {
      assert.throws(() => ensureOutputDir(join(ro, 'x')), isErr(expected));
      return;
    }
    // The child runs plain-JS copies of fs.ts and errors.ts from a world-readable folder: the
    // checkout itself may sit in a private (0700) temp folder that `nobody` cannot enter.
    const bundle = join(dir, 'fs.mjs');
    for (const [src, out] of [['./fs.ts', bundle], ['../errors.ts', join(dir, 'errors.mjs')]] as const) {
      const code = readFileSync(new URL(src, import.meta.url), 'utf8');
      const js = ts.transpileModule(code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
      writeFileSync(out, js.replace("'../errors.ts'", "'./errors.mjs'"));
    }
    const script = `import { ensureOutputDir } from ${JSON.stringify(pathToFileURL(bundle).href)};
      try { ensureOutputDir(${JSON.stringify(join(ro, 'x'))}); console.log('created'); } catch (e) { console.log(e.message); }`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { uid: 65534, gid: 65534, encoding: 'utf8', cwd: dir });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, expected);
    assert.equal(existsSync(join(ro, 'x')), false);
  } finally {
    chmodSync(ro, 0o755);
  }
});
