import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseDatasetConfig, readDatasetConfig } from './config.ts';
import { parseLlavahoundCaption, parseLlavahoundQa } from './llavahound.ts';

// JSON lines and frame folders in the ShareGPTVideo layout, and the reference parsers' output for
// them (process_video_frames re-implemented with numpy), from tools/reference/train_data_fixtures.py.
const ROOT = fileURLToPath(new URL('../../../test/fixtures/train/data/', import.meta.url));
const BASEDIR = join(ROOT, 'basedir');
type Ex = { query_text: string; query_video: string[] | null; pos_text: string; pos_video: string[] | null; source: string };
const EXPECTED = JSON.parse(readFileSync(join(ROOT, 'expected-llavahound.json'), 'utf8')) as Record<string, { num_rows: number; skipped: number; examples: Ex[] }>;
const sources = readDatasetConfig(join(ROOT, 'llavahound.yaml'), { dataBasedir: BASEDIR });
const rel = (v: string[] | undefined): string[] | null => (v ? v.map((p) => relative(BASEDIR, p)) : null);

describe('LLaVA-Hound parsers', () => {
  for (const src of sources) {
    it(`gives the reference's examples for ${src.name} (${src.dataset_parser}${src.data_mode ? `, ${src.data_mode}` : ''})`, async () => {
      const parse = src.dataset_parser === 'llavahound_qa' ? parseLlavahoundQa : parseLlavahoundCaption;
      const got = await parse(src, { dataDir: ROOT, style: 'qwen2_vl' });
      const exp = EXPECTED[src.name]!;
      assert.equal(got.numRows, exp.num_rows);
      assert.equal(got.skipped, exp.skipped);
      assert.deepEqual(got.examples.map((e) => ({
        query_text: e.query.text, query_video: rel(e.query.video), pos_text: e.pos.text, pos_video: rel(e.pos.video), source: e.source,
      })), exp.examples);
    });
  }

  it('samples 8 of 10 frames in natural order, keeps all of 5, skips a folder without frames and a missing one', async () => {
    const got = await parseLlavahoundCaption(sources[0]!, { dataDir: ROOT, style: 'qwen2_vl' });
    // 131 rows: 128 mapped (3 dropped with the last partial batch); videos cycle ten, five, none, missing
    assert.equal(got.numRows, 131);
    assert.equal(got.skipped, 3 + 64);
    assert.deepEqual(got.examples[0]!.query.video!.map((p) => p.split('/').at(-1)), ['c01.jpg', 'c02.jpg', 'c03.jpg', 'c04.jpg', 'c06.jpg', 'c07.jpg', 'c08.jpg', 'c10.jpg']);
    assert.deepEqual(got.examples[1]!.query.video!.map((p) => p.split('/').at(-1)), ['frame_1.png', 'frame_2.png', 'frame_3.png', 'frame_10.png', 'frame_20.png']);
  });

  it('reads a JSON-lines file of 200k rows (the real files hold 240k–300k)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hound-'));
    try {
      const line = JSON.stringify({ id: 'x', video: 'nowhere', conversations: [{ value: '<video> q' }, { value: 'a' }] });
      writeFileSync(join(dir, 'big.jsonl'), `${Array(200_000).fill(line).join('\n')}\n`);
      const src = parseDatasetConfig(`V:\n  dataset_parser: llavahound_qa\n  dataset_path: big.jsonl\n  video_frame_basedir: frames\n  num_frames: 8\n  weight: 1\n`, 'h.yaml', { dataBasedir: dir })[0]!;
      const got = await parseLlavahoundQa(src, { dataDir: dir, style: 'qwen2_vl' });
      assert.equal(got.numRows, 200_000);
      assert.equal(got.skipped, 200_000); // no frame folders
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('errors name the source and what is missing', async () => {
    const one = (extra: string) => parseDatasetConfig(`V:\n  dataset_parser: llavahound_caption\n  weight: 1\n${extra}`, 'h.yaml', { dataBasedir: BASEDIR })[0]!;
    await assert.rejects(parseLlavahoundCaption(one('  dataset_path: llava-hound/video_caption.jsonl\n  num_frames: 8\n'), { dataDir: ROOT, style: 'qwen2_vl' }),
      /source 'V' \(llavahound_caption\/llavahound_caption\) of h\.yaml: key 'video_frame_basedir' is required/);
    await assert.rejects(parseLlavahoundCaption(one('  data_mode: qa\n'), { dataDir: ROOT, style: 'qwen2_vl' }), /data_mode 'qa' is not one of caption_retrieval, video_retrieval/);
    await assert.rejects(parseLlavahoundQa(one('  dataset_path: mix.yaml.jsonl\n  num_frames: 8\n  video_frame_basedir: x\n'), { dataDir: ROOT, style: 'qwen2_vl' }), /mix\.yaml\.jsonl/);
    await assert.rejects(parseLlavahoundQa(one('  dataset_path: llava-hound/video_qa.jsonl\n  num_frames: 8\n  video_frame_basedir: x\n'), { dataDir: ROOT, style: 'phi3_v' }),
      /prompt style 'phi3_v' has no video token/);
  });
});
