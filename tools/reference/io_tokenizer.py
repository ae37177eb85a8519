"""Golden token ids for src/io/text/tokenizer.test.ts.

Encodes a fixed list of prompts with the Python reference tokenizers (the Rust `tokenizers`
library and transformers' AutoTokenizer, both loading the same tokenizer.json, the Qwen2/Qwen3 byte-level BPE kept in
test/fixtures/model/tiny-a/ (source and license in test/fixtures/model/README.md)) and writes
test/fixtures/io/tokenizer/goldens.json. The script fails if the two Python tokenizers disagree.

It also writes src/io/text/tokenizer-nfc-data.ts: the code points that the Rust `tokenizers` NFC
normalizer does not treat as inert (it uses Unicode 9.0 data, while Node's ICU is much newer; see
src/io/text/tokenizer-nfc.ts), found by probing that normalizer directly.

Regenerate (from the repository root; ~30 s):
    tools/reference/.venv/bin/python tools/reference/io_tokenizer.py
"""

import json
import os
import shutil
import sys
import tempfile

import random
import unicodedata

from tokenizers import Tokenizer, normalizers
from transformers import AutoTokenizer

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODEL_DIR = os.path.join(ROOT, "test", "fixtures", "model", "tiny-a")
OUT = os.path.join(ROOT, "test", "fixtures", "io", "tokenizer", "goldens.json")
NFC_DATA = os.path.join(ROOT, "src", "io", "text", "tokenizer-nfc-data.ts")

IMG = "<|vision_start|><|image_pad|><|vision_end|>"
VID = "<|vision_start|><|video_pad|><|vision_end|>"

PROMPTS = [
    # plain English
    "Hello world",
    "hello World!",
    "The quick brown fox jumps over the lazy dog.",
    "Represent the given image with the following question: What is in the image",
    "Find me an everyday image that matches the given caption: A man riding a horse.",
    "I'm sure they've done it; we'll see what you'd say, they're here. IT'S FINE, I'LL GO",
    "Don't", "DON'T", "it's", "IT'S",
    # VLM2Vec prompt forms with placeholders
    f"{IMG} Represent the given image with the following question: What is in the image\n",
    f"{IMG} Find a day-to-day image that looks similar to the provided image.",
    f"{VID} Understand the content of the provided video.",
    "<|image_pad|>" * 12,
    "<|vision_start|>" + "<|image_pad|>" * 5 + "<|vision_end|>" + "<|vision_start|>" + "<|video_pad|>" * 4 + "<|vision_end|>",
    "<|image_1|>\nRepresent the given image.",
    # every special / added token on its own and glued to text
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
    "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>",
    "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>",
    "<tool_call></tool_call><|fim_prefix|><|fim_middle|><|fim_suffix|><|fim_pad|><|repo_name|><|file_sep|><tool_response></tool_response><think></think>",
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n",
    "text<|endoftext|>more text<|endoftext|>",
    " <|image_pad|> ",
    "a<|image_pad|>b",
    # near-miss special tokens: must NOT be atomic
    "<|image_pad|", "<|IMAGE_PAD|>", "<image_pad>", "<|image_pad |>", "< |im_start|>",
    # multilingual
    "你好，世界！这是一个测试。",
    "日本語のテキストとカタカナ、ひらがな。",
    "한국어 문장입니다.",
    "مرحبا بالعالم، هذا اختبار.",
    "Привет, мир! Это проверка токенизатора.",
    "Ελληνικά κείμενα και αριθμοί 123.",
    "हिन्दी में एक वाक्य।",
    "Tiếng Việt có dấu: Xin chào thế giới.",
    "ĀĒĪŌŪ straße Ωmega façade naïve résumé",
    # NFC normalization: decomposed forms must compose first
    "e\u0301 vs \u00e9, A\u030a vs \u00c5, \u1100\u1161",
    # emoji (ZWJ sequences, flags, skin tones, variation selectors)
    "🤗🏳️‍🌈👍🏽🇯🇵 family: 👨‍👩‍👧‍👦 ❤️",
    "emoji at end 😀",
    # whitespace runs, tabs, newlines, unusual spaces
    "   leading spaces",
    "trailing spaces   ",
    "a    b",
    "tab\tseparated\tvalues\t\t",
    "line1\nline2\n\nline4\n\n\n",
    "windows\r\nline\r\n\r\nend",
    " \n \t \n",
    "\n",
    " ",
    "",
    "no\u00a0break\u00a0space and\u3000ideographic and\u2009thin and\u200bzero-width",
    "nel\u0085char and line\u2028sep and para\u2029sep",
    # numbers
    "12345678901234567890",
    "3.14159265358979 -42 1e-10 0x1F 1,000,000",
    "Year 2024: 365 days, 24 hours.",
    # code
    "def f(x):\n    return x ** 2  # square\n",
    "const a = [1, 2, 3].map((x) => x * 2);\n\tconsole.log(`${a}`);",
    "if (a && b || !c) { return {\"k\": 'v'}; }",
    "<div class=\"x\">&amp; &lt;tag&gt;</div>",
    "SELECT * FROM t WHERE id IN (1,2,3);",
    # punctuation and symbols
    "!!!???...---___***",
    "«quotes» “curly” ‘single’ — en–dash … ellipsis",
    "∑∫√∞ ≈ ≠ ≤ ≥ ∂ ∇ ⊗ ℝ",
    "$100 €50 £20 ¥1000 ₹500",
    # regex-engine corner cases (Oniguruma vs JavaScript): whitespace classes, case folding,
    # numeric categories, recent Unicode additions, control characters
    "bom\ufeffinside and \u180emongolian and \u2060wj and \u1680ogham",
    "vt\vff\fcr\ronly\r\rend",
    "it\u017fs long-s, IT'S and it\u2019s curly, K\u212a kelvin, \u0130stanbul'S",
    "Arabic-Indic \u0663\u0664 fullwidth \uff18\uff19 superscript \u00b2 roman \u216b fraction \u00bd",
    "keycap 1\ufe0f\u20e3 private \ue000\uf8ff replacement \ufffd",
    "new letters: \U0001e4d0\U0001e4d1 \U00011f04 \U00031350 \U00010d50 \U0001e5d0 \U00016d40",
    "control \x00\x01\x1f\x7f chars",
    "\t\t  \n  \t",
    "a \n\n b  \n",
    "x" * 300,
    # marks added after Unicode 9.0 next to older marks: Rust's NFC data (Unicode 9.0) does not
    # reorder them, ICU does (found by fuzzing; fixed in src/io/text/tokenizer-nfc.ts)
    "\u2007\ufe04\u0659\U00011f42\u30e5",
    "\U00010d6d\u302f\U0001e4f2",
    "a\u0345\u1df6 b\u0345\u0d3b c\u0345\U0001e130 d\u0345\u1abf e\u0345\u1ac1 f\u0345\u08d4",
    "<|im_end|>\u0338 and =\u0338 and <|image_pad|>\u0301<|vision_end|>\u0308",
    "e\u0301\u1dfa\u0327 o\u0308\u1df6 \u1100\u1161\u11a8 \u0bc6\u0bbe \u0915\u093c",
    # long repeated text
    "word " * 40,
    "abc" * 50,
]


# Random strings over scripts, symbols, marks, spaces and recent Unicode blocks (a fixed-seed fuzz).
FUZZ_POOLS = [range(0x20, 0x7F), range(0x80, 0x250), range(0x300, 0x370), range(0x370, 0x530), range(0x590, 0x700),
              range(0x900, 0xE00), range(0x1100, 0x1200), range(0x1680, 0x1700), range(0x1AB0, 0x1B00),
              range(0x1DC0, 0x1E00), range(0x2000, 0x2070), range(0x20D0, 0x2100), range(0x3000, 0x3100),
              range(0x4E00, 0x4F00), range(0xAC00, 0xAD00), range(0xFE00, 0xFF00), range(0xFF00, 0xFFF0),
              range(0x1F300, 0x1F700), range(0x10000, 0x10100), range(0x1E100, 0x1E150), range(0x1E400, 0x1E600),
              range(0x11F00, 0x11F60), range(0x16D40, 0x16D80), range(0x10D40, 0x10D90), range(0x0, 0x20),
              [0x85, 0xA0, 0x2028, 0x2029, 0x200B, 0x200D, 0xFEFF, 0x180E]]


def fuzz_prompts(n: int) -> list:
    rng = random.Random(4)
    out = []
    for _ in range(n):
        k = rng.randint(1, 24)
        out.append("".join(chr(rng.choice(rng.choice(FUZZ_POOLS))) for _ in range(k)))
    return out


def write_nfc_data() -> None:
    """Code points the Rust NFC normalizer treats as non-inert: it changes them, gives them a
    non-zero combining class, or uses them in a canonical composition pair."""
    nfc, nfd = normalizers.NFC(), normalizers.NFD()
    active = set()
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        if nfd.normalize_str(c) != c:
            active.add(cp)
            # Both elements of its single-step canonical decomposition take part in composition.
            dec = unicodedata.decomposition(c)
            if dec and not dec.startswith("<"):
                active.update(int(h, 16) for h in dec.split())
            continue
        if nfc.normalize_str(c) != c:
            active.add(cp)
            continue
        for probe in (c + "\u0334", "\u0345" + c):  # ccc 1 after, ccc 240 before: reorders iff ccc(c) != 0
            if nfc.normalize_str(probe) != probe:
                active.add(cp)
                break
    # Hangul jamo compose algorithmically (no decomposition entry for syllables in unicodedata).
    active.update(range(0x1100, 0x1113), range(0x1161, 0x1176), range(0x11A8, 0x11C3))
    ranges = []
    for cp in sorted(active):
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    body = ",\n".join(", ".join(f"0x{a:x}, 0x{b:x}" for a, b in ranges[i:i + 6]) for i in range(0, len(ranges), 6))
    with open(NFC_DATA, "w") as fh:
        fh.write("// GENERATED by tools/reference/io_tokenizer.py from the Rust `tokenizers` NFC normalizer\n"
                 "// (Unicode 9.0 data): inclusive [first, last] code-point ranges that it does not treat as inert.\n"
                 "// Do not edit; regenerate with `tools/reference/.venv/bin/python tools/reference/io_tokenizer.py`.\n\n"
                 f"// {len(active)} code points in {len(ranges)} ranges.\n"
                 "export const RUST_NFC_ACTIVE_RANGES: readonly number[] = [\n" + body + ",\n];\n")
    print(f"wrote {len(ranges)} ranges ({len(active)} code points) to {NFC_DATA}")


def main() -> None:
    fast = Tokenizer.from_file(os.path.join(MODEL_DIR, "tokenizer.json"))
    tmp = tempfile.mkdtemp()
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(MODEL_DIR, f), tmp)
    auto = AutoTokenizer.from_pretrained(tmp)
    cases = []
    for text in PROMPTS + fuzz_prompts(300):
        ids = fast.encode(text, add_special_tokens=True).ids
        ids_auto = auto(text)["input_ids"]
        if ids != ids_auto:
            sys.exit(f"tokenizers and AutoTokenizer disagree on {text!r}: {ids} vs {ids_auto}")
        cases.append({"text": text, "ids": ids})
    # Left padding as VLM2Vec batches it: per-example encoding, then tokenizer.pad.
    auto.padding_side = "left"
    batch_texts = [PROMPTS[0], PROMPTS[10], PROMPTS[3], ""]
    enc = [auto(t)["input_ids"] for t in batch_texts]
    padded = auto.pad({"input_ids": enc}, padding=True)
    out = {
        "source": "test/fixtures/model/tiny-a/tokenizer.json",
        "generator": "tools/reference/io_tokenizer.py",
        "pad_token": auto.pad_token,
        "pad_token_id": auto.pad_token_id,
        "cases": cases,
        "left_padded_batch": {
            "texts": batch_texts,
            "input_ids": padded["input_ids"],
            "attention_mask": padded["attention_mask"],
        },
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as fh:
        json.dump(out, fh, ensure_ascii=False, indent=0)
        fh.write("\n")
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
    write_nfc_data()
