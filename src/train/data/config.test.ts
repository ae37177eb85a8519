import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseDatasetConfig, readDatasetConfig, sourceProbabilities } from './config.ts';

const ALLTASKS = fileURLToPath(new URL('../../../test/fixtures/train/data/train_alltasks.yaml', import.meta.url));

describe('dataset_config', () => {
  it('reads the reference V2 mix (train_alltasks.yaml) as PyYAML does', () => {
    const s = readDatasetConfig(ALLTASKS, { dataBasedir: '/data' });
    assert.equal(s.length, 25);
    assert.deepEqual(s.slice(0, 3).map((d) => d.name), ['ImageNet_1K', 'N24News', 'HatefulMemes']);
    const first = s[0]!;
    assert.equal(first.dataset_parser, 'mmeb');
    assert.equal(first.dataset_name, 'TIGER-Lab/MMEB-train');
    assert.equal(first.subset_name, 'ImageNet_1K');
    assert.equal(first.dataset_split, 'original');
    assert.equal(first.num_sample_per_subset, 100000);
    // A relative image_dir is joined to --data_basedir (train.py).
    assert.equal(first.image_dir, '/data/vlm2vec_train/MMEB-train/image');
    const visrag = s.find((d) => d.name === 'visrag-indomain')!;
    assert.equal(visrag.dataset_parser, 'visrag');
    assert.equal(visrag.global_dataset_name, 'VisRAG-Indomain-data');
    assert.equal(visrag.image_dir, undefined);
    // YAML 1.1: `300_000` is an integer (YAML 1.2 would read the string "300_000").
    const video = s.find((d) => d.name === 'video_caption_300k-video')!;
    assert.equal(video.num_rows, 300000);
    assert.equal(video.dataset_path, '/data/vlm2vec_train/train_video_and_instruction/video_instruction/train/sft/video_caption_300k.jsonl');
    assert.equal(video.video_frame_basedir, '/data/vlm2vec_train/train_video_and_instruction/train_300k');
    assert.equal(video.num_frames, 8);
    assert.equal(video.data_mode, 'video_retrieval');
    // Weights sum to 52 (20 MMEB subsets: 10 × 1 + 10 × 0.5; 10 + 12; 3 × 5).
    const p = sourceProbabilities(s);
    assert.equal(p[0], 1 / 52);
    assert.equal(p[2], 0.5 / 52);
    assert.equal(p[s.indexOf(visrag)], 12 / 52);
  });

  it('keeps an absolute image_dir and leaves image_dir alone without data_basedir', () => {
    const y = 'A:\n  dataset_parser: mmeb\n  image_dir: /abs/img\n  weight: 1\nB:\n  dataset_parser: mmeb\n  image_dir: rel/img\n  weight: 2\n';
    const s = parseDatasetConfig(y, 'm.yaml', { dataBasedir: '/base' });
    assert.equal(s[0]!.image_dir, '/abs/img');
    assert.equal(s[1]!.image_dir, '/base/rel/img');
    assert.equal(parseDatasetConfig(y, 'm.yaml')[1]!.image_dir, 'rel/img');
  });

  const bad: [string, string, RegExp][] = [
    ['a misspelled key', 'A:\n  dataset_parser: mmeb\n  weight: 1\n  num_samples_per_subset: 5\n',
      /m\.yaml: source 'A': unknown key 'num_samples_per_subset' \(did you mean 'num_sample_per_subset'\?\)/],
    ['a missing weight', 'A:\n  dataset_parser: mmeb\n', /m\.yaml: source 'A': key 'weight' is required/],
    ['a missing parser', 'A:\n  weight: 1\n', /source 'A': key 'dataset_parser' is required/],
    ['a negative weight', 'A:\n  dataset_parser: mmeb\n  weight: -1\n', /source 'A': key 'weight' must be a number ≥ 0, got -1/],
    ['a string weight', 'A:\n  dataset_parser: mmeb\n  weight: heavy\n', /key 'weight' must be a number ≥ 0, got "heavy"/],
    ['a fractional cap', 'A:\n  dataset_parser: mmeb\n  weight: 1\n  num_sample_per_subset: 2.5\n',
      /key 'num_sample_per_subset' must be an integer ≥ 0, got 2.5/],
    ['a list as subset_name', 'A:\n  dataset_parser: mmeb\n  weight: 1\n  subset_name: [a, b]\n',
      /key 'subset_name' must be a non-empty string, got a list/],
    ['an unknown parser', 'A:\n  dataset_parser: vidor\n  weight: 1\n', /source 'A': key 'dataset_parser': unknown parser 'vidor' \(did you mean 'vidore'\?\)/],
    ['a source that is not a mapping', 'A: 3\n', /source 'A': expected a mapping of settings, got 3/],
    ['a list at the top', '- A\n', /m\.yaml: expected a mapping from source names/],
    ['no sources', '{}\n', /m\.yaml: no data sources/],
    ['all weights zero', 'A:\n  dataset_parser: mmeb\n  weight: 0\n', /weights of the sources sum to 0/],
    ['a duplicate source', 'A:\n  dataset_parser: mmeb\n  weight: 1\nA:\n  dataset_parser: mmeb\n  weight: 2\n', /m\.yaml: invalid YAML: .*unique/i],
  ];
  for (const [what, text, re] of bad) {
    it(`rejects ${what}`, () => {
      assert.throws(() => parseDatasetConfig(text, 'm.yaml'), re);
    });
  }

  it('names a missing file', () => {
    assert.throws(() => readDatasetConfig('/nonexistent/mix.yaml'), /cannot read dataset_config \/nonexistent\/mix\.yaml/);
  });
});
