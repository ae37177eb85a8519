"""A tiny `TIGER-Lab/MMEB-eval` (legacy V1 harness, docs/mmeb.md §11) in its real on-disk layout.

Regenerate (from the repo root):
    tools/reference/.venv/bin/python tools/reference/mmeb_v1_fixtures.py

Writes test/fixtures/mmeb/v1/ (deleted and rewritten):
  TIGER-Lab/MMEB-eval/README.md             dataset card with `configs:` YAML (data_files <Subset>/test-*)
  TIGER-Lab/MMEB-eval/<Subset>/test-00000-of-00001.parquet
                                            columns qry_text, qry_img_path, tgt_text (list), tgt_img_path (list)
  images/...                                what images.zip unzips to (the harness's --image_dir)
  expected.json                             values computed HERE by CPython/Pillow, never by our code:
    - "repr": [[text, path, repr((text, path))], ...]   the `_pred.txt` line format (f"{tuple}")
    - "resize": {name: {mode, size, resolution, out_size, sha256}}   Pillow's default-filter
      `Image.open(p).resize((s, s))` as the v1 `process_image` calls it, then .convert("RGB"),
      sha256 of the raw RGB bytes
The expected prompt strings, dedup counts and score files are written by hand in the TS tests.
"""

import hashlib
import io
import json
import os
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "mmeb", "v1")
REPO = os.path.join(ROOT, "TIGER-Lab", "MMEB-eval")
IMAGES = os.path.join(ROOT, "images")


def mkdir(p):
    os.makedirs(p, exist_ok=True)
    return p


def gradient(w, h, seed):
    """A smooth RGB pattern (compresses well, yet every resize changes the bytes)."""
    im = Image.new("RGB", (w, h))
    px = im.load()
    for y in range(h):
        for x in range(w):
            px[x, y] = ((x * 3 + seed) % 256, (y * 5 + 2 * seed) % 256, ((x + y) // 2 + 7 * seed) % 256)
    return im


def save(im, rel, **kw):
    p = os.path.join(IMAGES, rel)
    mkdir(os.path.dirname(p))
    im.save(p, **kw)
    return p


SCHEMA = pa.schema([
    ("qry_text", pa.string()),
    ("qry_img_path", pa.string()),
    ("tgt_text", pa.list_(pa.string())),
    ("tgt_img_path", pa.list_(pa.string())),
])


def write_subset(name, rows):
    t = pa.Table.from_pylist(rows, schema=SCHEMA)
    d = mkdir(os.path.join(REPO, name))
    pq.write_table(t, os.path.join(d, "test-00000-of-00001.parquet"), compression="snappy")


README = """# MMEB-eval (legacy V1 harness) fixture

Written by `tools/reference/mmeb_v1_fixtures.py` (regenerate with
`tools/reference/.venv/bin/python tools/reference/mmeb_v1_fixtures.py`; it deletes and rewrites this folder).
Used by `src/mmeb/legacy-v1/*.test.ts` and `src/cli/eval-v1.test.ts`.

- `TIGER-Lab/MMEB-eval/`: the `--data` layout (also usable as the repo folder itself): a card with
  `configs:` YAML and `<Subset>/test-00000-of-00001.parquet` for ImageNet-1K (3 rows, text
  candidates, a repeated query), MSCOCO_t2i (2 rows, image candidates) and WebQA (1 row).
- `images/`: the `--image-dir` (what images.zip unzips to); `images/modes/` holds palette, GIF,
  RGBA and LA images for the resize goldens only.
- `expected.json`: CPython `repr((text, path))` lines and Pillow default-filter resize hashes.
"""


def main():
    shutil.rmtree(ROOT, ignore_errors=True)
    mkdir(REPO)

    # Images (JPEG for the classification queries, PNG for the retrieval candidates).
    save(gradient(64, 48, 1), "ImageNet-1K/cat.jpg", quality=90)
    save(gradient(40, 40, 2), "ImageNet-1K/dog.jpg", quality=90)
    save(gradient(300, 200, 3), "MSCOCO_t2i/a.png")
    save(gradient(20, 30, 4), "MSCOCO_t2i/b.png")
    save(gradient(1400, 700, 5), "MSCOCO_t2i/big.png")
    save(gradient(50, 60, 6), "WebQA/w1.png")
    save(gradient(70, 30, 7), "WebQA/w2.png")
    # Images in the other Pillow modes the resize rule meets (not used by the subsets): a palette
    # PNG (mode P: Pillow resizes it with NEAREST), RGBA and LA with varying alpha (Pillow resizes
    # them premultiplied), a GIF (always P).
    pal = gradient(150, 85, 8).quantize(colors=16)
    save(pal, "modes/palette.png")
    save(pal, "modes/anim.gif")
    rgba = gradient(90, 70, 9).convert("RGBA")
    a = rgba.load()
    for y in range(70):
        for x in range(90):
            r, g, b, _ = a[x, y]
            a[x, y] = (r, g, b, 0 if x < 10 else 255 if x > 80 else (x * 7 + y * 3) % 256)
    save(rgba, "modes/rgba.png")
    la = Image.merge("LA", (gradient(33, 47, 10).convert("L"), gradient(33, 47, 11).convert("L")))
    save(la, "modes/la.png")

    cls_inst = "<|image_1|> Represent the given image for classification."
    write_subset("ImageNet-1K", [
        {"qry_text": cls_inst, "qry_img_path": "ImageNet-1K/cat.jpg",
         "tgt_text": ["cat", "dog", "it's a bird"], "tgt_img_path": ["", "", ""]},
        {"qry_text": cls_inst, "qry_img_path": "ImageNet-1K/dog.jpg",
         "tgt_text": ["dog", "cat", 'a "big" fish\nswimming'], "tgt_img_path": ["", "", ""]},
        # The same query as row 0 again: one unique query pair serves both rows.
        {"qry_text": cls_inst, "qry_img_path": "ImageNet-1K/cat.jpg",
         "tgt_text": ["it's a bird", "cat", "dog"], "tgt_img_path": ["", "", ""]},
    ])
    t2i = "Find me an everyday image that matches the given caption: "
    img_inst = "<|image_1|> Represent the given image."
    write_subset("MSCOCO_t2i", [
        {"qry_text": t2i + "a gradient", "qry_img_path": "",
         "tgt_text": [img_inst, img_inst, img_inst],
         "tgt_img_path": ["MSCOCO_t2i/a.png", "MSCOCO_t2i/b.png", "MSCOCO_t2i/big.png"]},
        {"qry_text": t2i + "café au lait", "qry_img_path": "",
         "tgt_text": [img_inst, img_inst],
         "tgt_img_path": ["MSCOCO_t2i/big.png", "MSCOCO_t2i/a.png"]},
    ])
    write_subset("WebQA", [
        {"qry_text": "Find a Wikipedia image that answers this question: where?", "qry_img_path": "",
         "tgt_text": ["<|image_1|> Represent the given Wikipedia image with related text information: Paris",
                      "<|image_1|> Represent the given Wikipedia image with related text information: Rome"],
         "tgt_img_path": ["WebQA/w1.png", "WebQA/w2.png"]},
    ])

    subsets = ["ImageNet-1K", "MSCOCO_t2i", "WebQA"]
    card = ["---", "configs:"]
    for s in subsets:
        card += [f"- config_name: {s}", "  data_files:", "  - split: test", f"    path: {s}/test-*"]
    card += ["---", "", "# MMEB-eval (fixture)", ""]
    with open(os.path.join(REPO, "README.md"), "w") as f:
        f.write("\n".join(card))

    # `_pred.txt` lines are f"{item}\n" with item a (text, img_path) tuple: Python's repr.
    repr_cases = [
        ("cat", ""),
        ("it's a bird", ""),
        ('a "big" fish\nswimming', ""),
        ("both ' and \"", "x/y.png"),
        ("back\\slash\ttab\r", "p"),
        ("café ☕ 😀", "é.png"),
        ("\x00\x07\x1f\x7f\x80\x9f\xa0\xad", ""),
        ("\u2028\u200b\ufeff\u3000", ""),
        ("<|image_pad|> Represent the given image.", "MSCOCO_t2i/a.png"),
    ]
    rep = [[t, p, repr((t, p))] for t, p in repr_cases]

    # Pillow's resize as v1 `process_image` calls it (default filter), on the fixture images.
    def resize_case(rel, resolution):
        im = Image.open(os.path.join(IMAGES, rel))
        target = {"high": 1344, "mid": 672, "low": 128}.get(resolution)
        if target is not None:
            im2 = im.resize((target, target))
        elif max(im.size) > 1344:
            im2 = im.resize((1344, 1344))
        else:
            im2 = im
        # convert("RGB") drops alpha: the pixels an RGB pipeline sees. For RGBA/LA the resized
        # RGBA bytes are recorded too (the alpha a compositing processor would use).
        rgb = im2.convert("RGB")
        extra = {}
        if im2.mode in ("RGBA", "LA"):
            extra["rgba_sha256"] = hashlib.sha256(im2.convert("RGBA").tobytes()).hexdigest()
        return {"file": rel, "mode": im.mode, "size": list(im.size), "resolution": resolution,
                "out_size": list(rgb.size), "sha256": hashlib.sha256(rgb.tobytes()).hexdigest(), **extra}

    resize = [
        resize_case("MSCOCO_t2i/a.png", "low"),
        resize_case("MSCOCO_t2i/a.png", "mid"),
        resize_case("MSCOCO_t2i/b.png", "high"),
        resize_case("MSCOCO_t2i/big.png", "other"),
        resize_case("MSCOCO_t2i/a.png", "other"),
        resize_case("ImageNet-1K/cat.jpg", "low"),
        resize_case("modes/palette.png", "low"),
        resize_case("modes/palette.png", "mid"),
        resize_case("modes/anim.gif", "low"),
        resize_case("modes/rgba.png", "low"),
        resize_case("modes/rgba.png", "mid"),
        resize_case("modes/la.png", "low"),
    ]
    with open(os.path.join(ROOT, "README.md"), "w") as f:
        f.write(README)
    with open(os.path.join(ROOT, "expected.json"), "w") as f:
        json.dump({"repr": rep, "resize": resize}, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
