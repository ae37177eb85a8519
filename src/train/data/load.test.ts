import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseDatasetConfig, readDatasetConfig } from './config.ts';
import { checkParsersImplemented, loadTrainSources, mixtureOptions, PARSERS } from './load.ts';
import { mixtureBatches } from './mixture.ts';

const ROOT = fileURLToPath(new URL('../../../test/fixtures/train/data/', import.meta.url));

describe('loading a dataset_config', () => {
  it('parses every source and batches the mixture (fixture mix.yaml: 4 + 3 + 3 examples)', async () => {
    const sources = readDatasetConfig(join(ROOT, 'mix.yaml'), { dataBasedir: join(ROOT, 'basedir') });
    const parsed = await loadTrainSources(sources, { dataDir: join(ROOT, 'hub'), style: 'qwen2_vl' });
    assert.deepEqual(parsed.map((p) => [p.name, p.examples.length, p.skipped]), [['ImageNet_1K', 4, 2], ['MSCOCO_t2i', 3, 0], ['CIRR', 3, 0]]);
    const opts = mixtureOptions(sources, parsed, { seed: 42, per_device_train_batch_size: 4, interleave_batch_size: 2 });
    assert.deepEqual(opts.probabilities, [0.4, 0.4, 0.2]);
    assert.equal(opts.runLength, 2);
    assert.equal(opts.stoppingStrategy, 'all_exhausted');
    // all_exhausted over runs: each source read once → 10 examples → 2 batches of 4, 2 dropped
    const it = mixtureBatches(opts, 4);
    const b1 = it.next().value!;
    const b2 = it.next().value!;
    const seen = [...b1.slots, ...b2.slots];
    assert.equal(new Set(seen.map((s) => `${s.source}:${s.row}`)).size, 8);
    assert.deepEqual(it.next().value!.next, { epoch: 1, batch: 1 });
    // each slot points at a parsed example
    const ex = parsed[seen[0]!.source]!.examples[seen[0]!.row]!;
    assert.ok(ex.source.startsWith('mmeb/'));
  });

  it('has a parser for every source of the reference V2 mix (train_alltasks.yaml)', () => {
    const all = readDatasetConfig(join(ROOT, 'train_alltasks.yaml'));
    assert.deepEqual([...new Set(all.map((s) => s.dataset_parser))].filter((p) => !PARSERS[p]), []);
  });

  it('names a reference parser that is not implemented, and a bad stopping strategy', async () => {
    const s = parseDatasetConfig('V:\n  dataset_parser: msrvtt\n  weight: 1\n', 'v.yaml');
    await assert.rejects(loadTrainSources(s, { dataDir: ROOT, style: 'qwen2_vl' }),
      /source 'V' of v\.yaml: dataset_parser not implemented: msrvtt \(a parser of the reference, outside its V2 mix\); implemented: mmeb, vidore, visrag, llavahound_caption, llavahound_qa$/);
    // Every name the reference registers (src/data/dataset/*.py) is known: implemented or named as not.
    for (const p of ['beir', 'berri', 'didemo', 'docmatix', 'gui', 'msvd', 'mteb_cluster', 'mteb_training', 'pixmo', 'ssv2', 'video_classification']) {
      assert.throws(() => checkParsersImplemented(parseDatasetConfig(`V:\n  dataset_parser: ${p}\n  weight: 1\n`, 'v.yaml')), new RegExp(`not implemented: ${p} `));
    }
    assert.throws(() => mixtureOptions(s, [], { seed: 1, per_device_train_batch_size: 1, interleave_stopping_strategy: 'longest' }),
      /--interleave_stopping_strategy must be one of first_exhausted, all_exhausted, got 'longest'/);
  });
});
