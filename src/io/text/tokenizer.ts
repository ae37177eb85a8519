// Text tokenizer for HF model folders (Qwen2 / Qwen2-VL byte-level BPE and anything else a
// tokenizer.json describes), on top of @huggingface/tokenizers — we do not implement BPE.
//
// Reference behaviour (VLM2Vec `Qwen2_VL_process_fn`, docs/vlm2vec.md §1.3): each example is encoded on its
// own with special tokens atomic and nothing added (Qwen's post-processor adds no BOS/EOS), then
// the batch is padded with the tokenizer's pad token (<|endoftext|> = 151643 for Qwen2) on the
// left, attention mask 1 for real tokens. Ids go to the model as int64.
//
// One deviation of the library from the Rust reference is fixed here: its NFC normalizer uses the
// JS engine's (newer) Unicode data; we swap in Rust's Unicode-9.0 NFC (see tokenizer-nfc.ts).

/** The parts of the library's normalizer objects we touch (NFC instances and Sequence). */
interface NormalizerNode {
  form?: unknown;
  normalize?: (text: string) => string;
  normalizers?: (NormalizerNode | null)[];
}

/** Replaces every NFC step of the library's normalizer tree with Rust-exact NFC; returns how many. */
function patchNfc(node: NormalizerNode | null | undefined): number {
  if (!node) return 0;
  let n = 0;
  if (node.form === 'NFC' && typeof node.normalize === 'function') {
    node.normalize = nfcLikeRustTokenizers;
    n++;
  }
  for (const child of node.normalizers ?? []) n += patchNfc(child);
  return n;
}

function countNfc(config: unknown): number {
  if (typeof config !== 'object' || config === null) return 0;
  const c = config as { type?: unknown; normalizers?: unknown };
  const own = c.type === 'NFC' ? 1 : 0;
  return own + (Array.isArray(c.normalizers) ? c.normalizers.reduce((s: number, x: unknown) => s + countNfc(x), 0) : 0);
}

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { Vlm2VecError } from '../../errors.ts';
import { parseTokenizerConfig, type TokenizerConfig } from '../weights/hf-configs.ts';
import { nfcLikeRustTokenizers } from './tokenizer-nfc.ts';

export type PaddingSide = 'left' | 'right';

/** A padded batch, row-major [batch, length], ready for int64 model inputs. */
export interface BatchEncoding {
  /** [B, L] */
  readonly inputIds: BigInt64Array;
  /** [B, L], 1 for tokens, 0 for padding. */
  readonly attentionMask: BigInt64Array;
  readonly shape: readonly [number, number];
  /** Unpadded ids per example. */
  readonly ids: readonly number[][];
}

export interface EncodeBatchOptions {
  /** Defaults to the tokenizer's padding side (left unless configured otherwise). */
  readonly paddingSide?: PaddingSide;
}

export interface LoadTokenizerOptions {
  /** Overrides tokenizer_config.json's padding_side. VLM2Vec pads on the left. */
  readonly paddingSide?: PaddingSide;
  /** Overrides the pad token id from tokenizer_config.json. */
  readonly padTokenId?: number;
}

/**
 * A loaded tokenizer with the pad id and padding side resolved.
 *
 * @example
 * const tok = await HfTokenizer.fromFolder('/models/Qwen2-VL-2B-Instruct');
 * tok.encode('<|vision_start|><|image_pad|><|vision_end|>Hi'); // [151652, 151655, 151653, 13048]
 * const batch = tok.encodeBatch(['a', 'bb cc']); // left-padded, BigInt64Array ids + mask
 */
export class HfTokenizer {
  private constructor(
    private readonly tok: Tokenizer,
    readonly config: TokenizerConfig,
    readonly padTokenId: number,
    readonly paddingSide: PaddingSide,
    private readonly source: string,
  ) {}

  /** Loads `tokenizer.json` and `tokenizer_config.json` (optional) from a model folder. */
  static async fromFolder(dir: string, options: LoadTokenizerOptions = {}): Promise<HfTokenizer> {
    const tjPath = join(dir, 'tokenizer.json');
    let tokenizerJson: unknown;
    try {
      tokenizerJson = JSON.parse(await readFile(tjPath, 'utf8'));
    } catch (e) {
      throw new Vlm2VecError('tokenizer', `${tjPath}: cannot read tokenizer.json (${(e as Error).message})`, { cause: e });
    }
    const tcPath = join(dir, 'tokenizer_config.json');
    let configJson: unknown = {};
    try {
      configJson = JSON.parse(await readFile(tcPath, 'utf8'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new Vlm2VecError('tokenizer', `${tcPath}: not valid JSON (${(e as Error).message})`, { cause: e });
      }
    }
    return HfTokenizer.fromJson(tokenizerJson, configJson, options, dir);
  }

  /** Builds a tokenizer from already-parsed tokenizer.json and tokenizer_config.json objects. */
  static fromJson(tokenizerJson: unknown, tokenizerConfigJson: unknown, options: LoadTokenizerOptions = {}, source = 'tokenizer.json'): HfTokenizer {
    if (typeof tokenizerJson !== 'object' || tokenizerJson === null || !('model' in tokenizerJson)) {
      throw new Vlm2VecError('tokenizer', `${source}: not a tokenizer.json (no "model" section)`);
    }
    const config = parseTokenizerConfig(tokenizerConfigJson, `${source}/tokenizer_config.json`);
    let tok: Tokenizer;
    try {
      tok = new Tokenizer(tokenizerJson, tokenizerConfigJson as object);
    } catch (e) {
      throw new Vlm2VecError('tokenizer', `${source}: cannot build tokenizer (${(e as Error).message})`, { cause: e });
    }
    const wantNfc = countNfc((tokenizerJson as { normalizer?: unknown }).normalizer);
    const patched = patchNfc(tok.normalizer as unknown as NormalizerNode | null);
    if (patched !== wantNfc) {
      // The library's internals changed shape; refuse rather than silently tokenizing differently.
      throw new Vlm2VecError('tokenizer', `${source}: could not install the Rust-exact NFC normalizer (${patched} of ${wantNfc} NFC steps found)`);
    }
    let padTokenId = options.padTokenId;
    if (padTokenId === undefined && config.padToken !== undefined) {
      padTokenId = tok.token_to_id(config.padToken);
      if (padTokenId === undefined) {
        throw new Vlm2VecError('tokenizer', `${source}: pad_token '${config.padToken}' is not in the vocabulary`);
      }
    }
    if (padTokenId === undefined) {
      throw new Vlm2VecError('tokenizer', `${source}: tokenizer_config.json has no pad_token; pass padTokenId`);
    }
    const side = options.paddingSide ?? config.paddingSide ?? 'left';
    return new HfTokenizer(tok, config, padTokenId, side, source);
  }

  /** Token ids of one text: special tokens atomic, no BOS/EOS added. */
  encode(text: string): number[] {
    return this.tok.encode(text, { add_special_tokens: false }).ids;
  }

  /** Token strings (byte-level symbols) of one text, for debugging. */
  tokenize(text: string): string[] {
    return this.tok.tokenize(text, { add_special_tokens: false });
  }

  decode(ids: readonly number[], skipSpecialTokens = false): string {
    return this.tok.decode([...ids], { skip_special_tokens: skipSpecialTokens });
  }

  tokenToId(token: string): number | undefined {
    return this.tok.token_to_id(token);
  }

  /** Like tokenToId, but throws when the token is not in the vocabulary. */
  requireTokenId(token: string): number {
    const id = this.tok.token_to_id(token);
    if (id === undefined) throw new Vlm2VecError('tokenizer', `${this.source}: token '${token}' is not in the vocabulary`);
    return id;
  }

  idToToken(id: number): string | undefined {
    return this.tok.id_to_token(id);
  }

  /** Encodes each text on its own, then pads (see {@link padBatch}). */
  encodeBatch(texts: readonly string[], options: EncodeBatchOptions = {}): BatchEncoding {
    return this.padBatch(
      texts.map((t) => this.encode(t)),
      options,
    );
  }

  /**
   * Pads already-encoded id lists to the longest one with the pad id (as `tokenizer.pad` does).
   * Used after placeholder expansion, which happens on ids or text before padding.
   */
  padBatch(ids: readonly (readonly number[])[], options: EncodeBatchOptions = {}): BatchEncoding {
    const side = options.paddingSide ?? this.paddingSide;
    const b = ids.length;
    const l = ids.reduce((m, x) => Math.max(m, x.length), 0);
    const inputIds = new BigInt64Array(b * l).fill(BigInt(this.padTokenId));
    const attentionMask = new BigInt64Array(b * l);
    ids.forEach((row, i) => {
      const start = i * l + (side === 'left' ? l - row.length : 0);
      for (let j = 0; j < row.length; j++) {
        inputIds[start + j] = BigInt(row[j] as number);
        attentionMask[start + j] = 1n;
      }
    });
    return { inputIds, attentionMask, shape: [b, l], ids: ids.map((x) => [...x]) };
  }
}
