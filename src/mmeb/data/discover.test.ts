// Data-file discovery for each layout convention of the HF `datasets` library, and the card YAML.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { findDataFiles, globToRegExp } from './discover.ts';
import { parseYamlBlock, readCardConfigs } from './yaml.ts';

/** A repo folder with the given (empty) files and optional card. */
function repo(files: string[], card?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vec-disc-'));
  for (const f of files) {
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    writeFileSync(join(dir, f), '');
  }
  if (card !== undefined) writeFileSync(join(dir, 'README.md'), `---\n${card}---\n# card\n`);
  return dir;
}

const find = (dir: string, split: string, config?: string): string[] =>
  findDataFiles({ repoDir: dir, repo: 'org/ds', split, ...(config !== undefined ? { config } : {}) }).map((f) => f.slice(dir.length + 1));

test('card: list of {split, path} with globs, per config', () => {
  const dir = repo(['A/test-00000-of-00002.parquet', 'A/test-00001-of-00002.parquet', 'A/train-00000-of-00001.parquet', 'B/test-00000-of-00001.parquet'],
    'configs:\n- config_name: A\n  data_files:\n  - split: test\n    path: A/test-*\n  - split: train\n    path: A/train-*\n- config_name: B\n  data_files:\n  - split: test\n    path: B/test-*\n');
  assert.deepEqual(find(dir, 'test', 'A'), ['A/test-00000-of-00002.parquet', 'A/test-00001-of-00002.parquet']);
  assert.deepEqual(find(dir, 'test', 'B'), ['B/test-00000-of-00001.parquet']);
  assert.throws(() => find(dir, 'validation', 'A'), /no split 'validation' for this config \(splits: test, train\)/);
  assert.throws(() => find(dir, 'test'), /several configs \(A, B\) and none is the default/);
});

test('card: data_files as a plain string means split train; as a list of patterns too', () => {
  const dir = repo(['x/a.parquet', 'x/b.jsonl', 'y/c.parquet'], 'configs:\n- config_name: default\n  data_files: "x/*"\n');
  assert.deepEqual(find(dir, 'train'), ['x/a.parquet', 'x/b.jsonl']);
  const dir2 = repo(['x/a.parquet', 'y/c.parquet', 'z/d.parquet'], 'configs:\n- config_name: default\n  data_files:\n  - x/*.parquet\n  - y/*.parquet\n');
  assert.deepEqual(find(dir2, 'train'), ['x/a.parquet', 'y/c.parquet']);
});

test('card: {split: patterns} mapping, flow list, default flag and data_dir', () => {
  const dir = repo(['d/val-0.parquet', 'd/test-0.parquet', 'e/test-1.parquet'],
    'configs:\n- config_name: other\n  data_files:\n    test: e/*\n- config_name: main\n  default: true\n  data_files:\n    val: [d/val-*]\n    test: d/test-*\n');
  assert.deepEqual(find(dir, 'val'), ['d/val-0.parquet']);
  assert.deepEqual(find(dir, 'test', 'other'), ['e/test-1.parquet']);
  const dir2 = repo(['sub/data/test-00000-of-00001.parquet', 'sub/data/train-00000-of-00001.parquet'],
    'configs:\n- config_name: default\n  data_dir: sub\n');
  assert.deepEqual(find(dir2, 'test'), ['sub/data/test-00000-of-00001.parquet']);
});

test('conventions without a card: data/<split>-*, <split>.parquet, <split>/ dir, <config>/ dir, jsonl', () => {
  assert.deepEqual(find(repo(['data/test-00000-of-00002.parquet', 'data/test-00001-of-00002.parquet', 'data/train-00000-of-00001.parquet']), 'test'),
    ['data/test-00000-of-00002.parquet', 'data/test-00001-of-00002.parquet']);
  assert.deepEqual(find(repo(['test.parquet', 'train.parquet', '.gitattributes']), 'test'), ['test.parquet']);
  assert.deepEqual(find(repo(['test/0000.parquet', 'test/0001.parquet', 'train/0000.parquet']), 'test'), ['test/0000.parquet', 'test/0001.parquet']);
  assert.deepEqual(find(repo(['Subset/test-00000-of-00001.parquet', 'Full/test-00000-of-00001.parquet']), 'test', 'Subset'), ['Subset/test-00000-of-00001.parquet']);
  assert.deepEqual(find(repo(['test.jsonl']), 'test'), ['test.jsonl']);
  // split keyword families: a `validation` request finds `val-…` files and vice versa
  assert.deepEqual(find(repo(['data/val-00000.parquet']), 'validation'), ['data/val-00000.parquet']);
  // no split names at all: every data file is `train`
  assert.deepEqual(find(repo(['data/shard_a.parquet', 'data/shard_b.parquet']), 'train'), ['data/shard_a.parquet', 'data/shard_b.parquet']);
  // hidden and `__` files (download markers, caches) are never data
  assert.deepEqual(find(repo(['data/shard_a.parquet', '.vlm2vec-download.json', '__pycache__/x.json', 'data/.part.json']), 'train'), ['data/shard_a.parquet']);
});

test('conventions: a config folder that does not exist is an error naming it', () => {
  assert.throws(() => find(repo(['data/test-0.parquet']), 'test', 'MC'), /no configs YAML .* and no folder .*\/MC/);
});

test('globs: * within a segment, ** across, ? and classes', () => {
  assert.ok(globToRegExp('A/test-*').test('A/test-00000-of-00001.parquet'));
  assert.ok(!globToRegExp('A/*').test('A/b/c.parquet'));
  assert.ok(globToRegExp('**/test-*').test('a/b/test-1.parquet'));
  assert.ok(globToRegExp('**/test-*').test('test-1.parquet'));
  assert.ok(globToRegExp('data/test-0000[0-1]-?f-*.parquet').test('data/test-00001-of-00002.parquet'));
  assert.ok(!globToRegExp('data/test.parquet').test('data/testXparquet'));
});

test('YAML: configs block cut out of a card with a large dataset_info block', () => {
  const card = [
    '---', 'license: mit', 'dataset_info:', '  features:', '  - name: image', '    dtype: image', '  splits:', '  - name: test', '    num_examples: 3',
    'configs:', '- config_name: "corpus"', '  data_files:', "  - split: 'test'", '    path: corpus/test-*  # shards', '- config_name: queries',
    '  data_files:', '  - {split: test, path: queries/test-*}', 'task_categories:', '- visual-document-retrieval', '---', 'body',
  ].join('\n');
  assert.deepEqual(readCardConfigs(card), [
    { config_name: 'corpus', data_files: [{ split: 'test', path: 'corpus/test-*' }] },
    { config_name: 'queries', data_files: [{ split: 'test', path: 'queries/test-*' }] },
  ]);
  assert.equal(readCardConfigs('# no front matter\n'), undefined);
  assert.equal(readCardConfigs('---\nlicense: mit\n---\n'), undefined);
});

test('YAML: nested mappings, booleans, block scalars, quoted keys with colons', () => {
  assert.deepEqual(parseYamlBlock('a:\n  b: true\n  c: [x, "y, z"]\n"k: 1": v\nd: |\n  line1\n  line2\n'), {
    a: { b: true, c: ['x', 'y, z'] }, 'k: 1': 'v', d: 'line1\nline2',
  });
  assert.throws(() => readCardConfigs('---\nconfigs:\n- config_name: a\n  data_files: x\n bad indentation\n---\n'), /README\.md: cannot parse the 'configs:' YAML header/);
});
