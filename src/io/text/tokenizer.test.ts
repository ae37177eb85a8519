import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { HfTokenizer } from './tokenizer.ts';

// The real Qwen tokenizer (Qwen2/Qwen3 share the byte-level BPE vocabulary and special tokens).
const QWEN_DIR = 'test/fixtures/model/tiny-a'; // the real Qwen tokenizer (fixture README)

interface Goldens {
  pad_token: string;
  pad_token_id: number;
  cases: { text: string; ids: number[] }[];
  left_padded_batch: { texts: string[]; input_ids: number[][]; attention_mask: number[][] };
}

const goldens: Goldens = JSON.parse(await readFile('test/fixtures/io/tokenizer/goldens.json', 'utf8'));
const tok = await HfTokenizer.fromFolder(QWEN_DIR);

test('token ids identical to Python tokenizers / AutoTokenizer on every golden prompt', () => {
  assert.ok(goldens.cases.length >= 50);
  const mismatches = goldens.cases
    .map((c) => ({ text: c.text, want: c.ids, got: tok.encode(c.text) }))
    .filter((m) => JSON.stringify(m.got) !== JSON.stringify(m.want));
  assert.deepEqual(mismatches, []);
});

test('special tokens are atomic, near-misses are not, and nothing is added', () => {
  const ids: Record<string, number> = {
    '<|endoftext|>': 151643,
    '<|im_start|>': 151644,
    '<|im_end|>': 151645,
    '<|vision_start|>': 151652,
    '<|vision_end|>': 151653,
    '<|vision_pad|>': 151654,
    '<|image_pad|>': 151655,
    '<|video_pad|>': 151656,
  };
  for (const [t, id] of Object.entries(ids)) {
    assert.deepEqual(tok.encode(t), [id], t);
    assert.equal(tok.requireTokenId(t), id);
  }
  assert.deepEqual(tok.encode('<|image_pad|>'.repeat(7)), new Array(7).fill(151655));
  assert.ok(tok.encode('<|IMAGE_PAD|>').length > 1);
  assert.deepEqual(tok.encode(''), []);
  assert.deepEqual(tok.encode('Hello world'), [9707, 1879]); // no BOS / EOS around it
  assert.throws(() => tok.requireTokenId('<|no_such|>'), /\[tokenizer\] .*token '<\|no_such\|>' is not in the vocabulary/);
});

test('pad id comes from tokenizer_config.json; left padding with attention mask matches tokenizer.pad', () => {
  assert.equal(tok.padTokenId, goldens.pad_token_id);
  assert.equal(tok.padTokenId, 151643);
  assert.equal(tok.paddingSide, 'left');
  const g = goldens.left_padded_batch;
  const b = tok.encodeBatch(g.texts);
  const [rows, len] = b.shape;
  assert.equal(rows, g.texts.length);
  assert.equal(len, g.input_ids[0]?.length);
  assert.deepEqual([...b.inputIds].map(Number), g.input_ids.flat());
  assert.deepEqual([...b.attentionMask].map(Number), g.attention_mask.flat());
});

test('right padding on request, and padBatch on pre-expanded ids', () => {
  const b = tok.padBatch([[1, 2, 3], [7]], { paddingSide: 'right' });
  assert.deepEqual(b.shape, [2, 3]);
  assert.deepEqual([...b.inputIds], [1n, 2n, 3n, 7n, 151643n, 151643n]);
  assert.deepEqual([...b.attentionMask], [1n, 1n, 1n, 1n, 0n, 0n]);
  const l = tok.padBatch([[1, 2, 3], [7]]);
  assert.deepEqual([...l.inputIds], [1n, 2n, 3n, 151643n, 151643n, 7n]);
  assert.deepEqual([...l.attentionMask], [1n, 1n, 1n, 0n, 0n, 1n]);
});

test('decode inverts encode, options override config, bad inputs are named', async () => {
  const text = 'Привет 🤗 <|image_pad|> x';
  assert.equal(tok.decode(tok.encode(text)), text);
  const cfg = JSON.parse(await readFile(`${QWEN_DIR}/tokenizer_config.json`, 'utf8'));
  const tj = { model: { type: 'BPE', vocab: { a: 0, b: 1 }, merges: [] }, added_tokens: [], normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null };
  assert.throws(() => HfTokenizer.fromJson(tj, { ...cfg, pad_token: '<|endoftext|>' }), /pad_token '<\|endoftext\|>' is not in the vocabulary/);
  assert.throws(() => HfTokenizer.fromJson(tj, {}), /no pad_token; pass padTokenId/);
  const small = HfTokenizer.fromJson(tj, {}, { padTokenId: 1, paddingSide: 'right' });
  assert.equal(small.padTokenId, 1);
  assert.equal(small.paddingSide, 'right');
  assert.throws(() => HfTokenizer.fromJson({ foo: 1 }, {}), /not a tokenizer\.json/);
  assert.throws(() => HfTokenizer.fromJson(tj, { padding_side: 'middle' }), /padding_side/);
  await assert.rejects(HfTokenizer.fromFolder('/nonexistent'), /\/nonexistent\/tokenizer\.json: cannot read tokenizer\.json/);
});
