"""Training-data fixtures in the real formats, and the parsed output the reference would give.

Writes test/fixtures/train/data/:
  hub/TIGER-Lab/MMEB-train/        the dataset repo as on the hub: README.md whose `configs:` name
                                   `<Subset>/original-*` (split "original"), `diverse_instruction-*`
                                   and the legacy `train-*` files (different rows, so reading the
                                   wrong split shows), parquet with the real columns
                                   qry, qry_image_path, pos_text, pos_image_path, neg_text, neg_image_path
  basedir/mmeb-images/images/<Subset>/Train/*.jpg   the images the rows name
  mix.yaml                         a dataset_config over those subsets (image_dir relative to
                                   --data_basedir, as the reference's yaml is)
  expected-mmeb.json               per source: the examples data_prepare_v4 yields (paths relative
                                   to the data_basedir), rows kept after num_sample_per_subset,
                                   rows skipped
  expected-mixture.json            source/row order of the reference's interleave for several
                                   settings, and the first draws of numpy's default_rng(seed).choice

The parser logic below is re-implemented from the reference (TIGER-AI-Lab/VLM2Vec
src/data/dataset/mmeb_dataset.py `data_prepare_v4`, src/data/dataset/hf_datasets.py
`RandomlyCyclingMultiSourcesBatchesIterable` / `CyclingMultiSourcesBatchesIterable.__iter__`)
without importing it (it needs torch and a pinned `datasets`); the random draws are numpy's own
(`np.random.default_rng(seed).choice(n, size, p=probs)`), the same generator `datasets` uses.

Usage: tools/reference/.venv/bin/python tools/reference/train_data_fixtures.py
Needs numpy, pyarrow, pillow, pyyaml.
"""

import json
import os
import shutil
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from PIL import Image

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "fixtures", "train", "data")
HUB = os.path.join(ROOT, "hub")
BASEDIR = os.path.join(ROOT, "basedir")
REPO = "TIGER-Lab/MMEB-train"
IMAGE_DIR = "mmeb-images"  # relative to --data_basedir
PHI3V_IMAGE = "<|image_1|>"
QWEN2_VL_IMAGE = "<|image_pad|>"
COLUMNS = ["qry", "qry_image_path", "pos_text", "pos_image_path", "neg_text", "neg_image_path"]


def row(qry, qry_image_path, pos_text, pos_image_path, neg_text="", neg_image_path=""):
    return dict(zip(COLUMNS, [qry, qry_image_path, pos_text, pos_image_path, neg_text, neg_image_path]))


# Rows in the style of the real subsets (instructions as MMEB-train stores them, Phi-3-V token).
SUBSETS = {
    # image -> label text; rows 2 and 4 cannot be used (empty query / empty positive) and are
    # skipped; with num_sample_per_subset 6 the last two rows are never read.
    "ImageNet_1K": [
        row("<|image_1|>\nRepresent the given image for classification\n", "images/ImageNet_1K/Train/n01440764_10026.jpg", "tench", ""),
        row("<|image_1|>\nRepresent the given image for classification\n", "images/ImageNet_1K/Train/n01443537_10007.jpg", "goldfish", ""),
        row("", "", "great white shark", ""),
        row("<|image_1|>\nRepresent the given image for classification\n", "images/ImageNet_1K/Train/n01484850_10016.jpg", "great white shark", ""),
        row("<|image_1|>\nRepresent the given image for classification\n", "images/ImageNet_1K/Train/n01491361_10052.jpg", "", ""),
        row("<|image_1|>\nRepresent the given image for classification\n", "images/ImageNet_1K/Train/n01494475_10048.jpg", "hammerhead", ""),
        row("<|image_1|>\nRepresent the given image for classification\n", "images/ImageNet_1K/Train/n01496331_10004.jpg", "electric ray", ""),
        row("<|image_1|>\nRepresent the given image for classification\n", "images/ImageNet_1K/Train/n01498041_10011.jpg", "stingray", ""),
    ],
    # text -> image; a null neg_text as parquet can hold it
    "MSCOCO_t2i": [
        row("Find me an everyday image that matches the given caption: A man riding a wave on top of a surfboard.", "",
            "<|image_1|>\nRepresent the given image.\n", "images/MSCOCO_t2i/Train/COCO_train2014_000000000009.jpg", None, None),
        row("Find me an everyday image that matches the given caption: A kitchen with a stove and a sink.", "",
            "<|image_1|>\nRepresent the given image.\n", "images/MSCOCO_t2i/Train/COCO_train2014_000000000025.jpg", None, None),
        row("Find me an everyday image that matches the given caption: Two dogs play in the snow.", "",
            "<|image_1|>\nRepresent the given image.\n", "images/MSCOCO_t2i/Train/COCO_train2014_000000000030.jpg", None, None),
    ],
    # image + text -> image, with hard negatives (text, image, or both)
    "CIRR": [
        row("<|image_1|>\nGiven an image, find a similar everyday image with the described changes: make it a night scene\n",
            "images/CIRR/Train/dev-0-0-img0.jpg", "<|image_1|>\nRepresent the given image.\n", "images/CIRR/Train/dev-0-0-img1.jpg",
            "<|image_1|>\nRepresent the given image.\n", "images/CIRR/Train/dev-0-0-img2.jpg"),
        row("<|image_1|>\nGiven an image, find a similar everyday image with the described changes: add a second dog\n",
            "images/CIRR/Train/dev-1-0-img0.jpg", "<|image_1|>\nRepresent the given image.\n", "images/CIRR/Train/dev-1-0-img1.jpg",
            "a photo of a cat", ""),
        row("<|image_1|>\nGiven an image, find a similar everyday image with the described changes: remove the people\n",
            "images/CIRR/Train/dev-2-0-img0.jpg", "<|image_1|>\nRepresent the given image.\n", "images/CIRR/Train/dev-2-0-img1.jpg",
            "", "images/CIRR/Train/dev-2-0-img2.jpg"),
    ],
}

# The legacy files beside the split the card names: other rows, so reading them shows.
LEGACY = row("LEGACY TRAIN ROW <|image_1|>", "images/legacy.jpg", "legacy", "")

MIX = {
    "ImageNet_1K": dict(dataset_parser="mmeb", dataset_name=REPO, subset_name="ImageNet_1K", dataset_split="original",
                        image_dir=IMAGE_DIR, num_sample_per_subset=6, weight=1),
    "MSCOCO_t2i": dict(dataset_parser="mmeb", dataset_name=REPO, subset_name="MSCOCO_t2i", dataset_split="original",
                       image_dir=IMAGE_DIR, num_sample_per_subset=100, weight=1),
    "CIRR": dict(dataset_parser="mmeb", dataset_name=REPO, subset_name="CIRR", dataset_split="original",
                 image_dir=IMAGE_DIR, weight=0.5),
}


def write_card(subsets):
    lines = ["---", "license: apache-2.0", "configs:"]
    for s in subsets:
        lines += [f"- config_name: {s}", "  data_files:"]
        for split in ["original", "diverse_instruction", "train"]:
            lines += [f"  - split: {split}", f"    path: {s}/{split}-*"]
    lines += ["---", "", "# MMEB-train (fixture)", ""]
    return "\n".join(lines)


def write_parquet(path, rows):
    table = pa.table({c: pa.array([r[c] for r in rows], type=pa.string()) for c in COLUMNS})
    pq.write_table(table, path)


def write_image(path, seed):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)).save(path)  # format from the extension


# --- the reference's mmeb parser (data_prepare_v4 + load_mmeb_dataset), re-implemented -----------
def parse_mmeb(rows, cfg, image_dir):
    n = cfg.get("num_sample_per_subset")
    if n is not None and n < len(rows):
        rows = rows[: int(n)]  # dataset.select(range(n))
    out, skipped = [], 0
    for r in rows:
        qry_text, qry_image_path = r["qry"], r["qry_image_path"]
        pos_text, pos_image_path = r["pos_text"], r["pos_image_path"]
        neg_text, neg_image_path = r.get("neg_text", ""), r.get("neg_image_path")
        if (not qry_text and not qry_image_path) or (not pos_text and not pos_image_path):
            skipped += 1
            continue
        qry_text = qry_text.replace(PHI3V_IMAGE, QWEN2_VL_IMAGE)
        pos_text = pos_text.replace(PHI3V_IMAGE, QWEN2_VL_IMAGE)
        neg_text = neg_text.replace(PHI3V_IMAGE, QWEN2_VL_IMAGE) if neg_text else ""
        out.append({
            "query": {"text": qry_text, "image": os.path.join(image_dir, qry_image_path) if qry_image_path else None},
            "pos": {"text": pos_text, "image": os.path.join(image_dir, pos_image_path) if pos_image_path else None},
            # the hard negative as the row holds it (the reference's collator then drops it)
            "neg_text": neg_text,
            "neg_image": os.path.join(image_dir, neg_image_path) if neg_image_path else None,
            "source": f"mmeb/{cfg['subset_name']}",
        })
    return {"num_rows": len(rows), "skipped": skipped, "examples": out}


# --- the reference's interleave (hf_datasets.py), re-implemented -------------------------------------
def random_indices(seed, probs, batch_size):
    rng = np.random.default_rng(seed)
    sample_size = 100_000 * 16
    while True:
        for i in rng.choice(len(probs), size=sample_size, p=probs):
            for _ in range(batch_size):
                yield int(i)


def interleave(lengths, probs, batch_size, seed, stopping_strategy, limit, restart):
    """(source, row) pairs in the order CyclingMultiSourcesBatchesIterable.__iter__ yields them.

    restart=False is the reference as it runs on `datasets` >= 2.18, whose examples iterables keep
    their position in a state dict: `iterators[i] = _HasNextIterator(self.ex_iterables[i])` then
    resumes at the end, so a source that ran out yields nothing more in this pass (its draws are
    skipped). restart=True is what the loop was written for (stateless iterables, datasets < 2.18,
    and HF's documented all_exhausted oversampling): the source starts over.
    """
    strategy = np.all if stopping_strategy == "all_exhausted" else np.any
    pos = [0] * len(lengths)
    exhausted = np.full(len(lengths), False)
    out = []
    for i in random_indices(seed, probs, batch_size):
        if len(out) >= limit:
            break
        if pos[i] >= lengths[i]:  # an empty source: StopIteration on the first next()
            exhausted[i] = True
            if strategy(exhausted):
                break
            continue
        out.append([i, pos[i]])
        pos[i] += 1
        if pos[i] >= lengths[i]:  # not iterators[i].hasnext()
            exhausted[i] = True
            if strategy(exhausted):
                break
            if restart:
                pos[i] = 0  # iterators[i] = _HasNextIterator(self.ex_iterables[i])
    return out


def probabilities(weights):
    s = sum(weights)
    return [w / s for w in weights]


# --- visual-document sources (vidore_dataset.py data_prepare_v5, visrag_dataset.py data_prepare_v3) ---
VIDORE_REPO = "vidore/colpali_train_set"
VISRAG_REPO = "openbmb/VisRAG-Ret-Train-In-domain-data"
VISRAG_QUERY_PROMPT = {
    "ArxivQA": "This query is related to retrieving a relevant figure from an ArXiv research paper. The retrieved figure should contain scientific plots, mathematical visualizations, or experimental results that best address the query: ",
    "SlideVQA": "This query is related to retrieving a relevant presentation slide that visually presents structured information. The retrieved slide should contain the necessary text, charts, or graphics to provide the best answer to the query: ",
}
VISRAG_TARGET_PROMPT = {
    "ArxivQA": "A figure from a research paper, including plots or experimental results.",
    "SlideVQA": "A presentation slide with text, bullet points, and diagrams.",
}
MAP_BATCH = 128  # both parsers: dataset.map(batched=True, batch_size=128, drop_last_batch=True)


def page_png(seed):
    import io
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, size=(5, 7, 3), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def image_struct(pages, names):
    return pa.array([{"bytes": b, "path": n} for b, n in zip(pages, names)],
                    type=pa.struct([("bytes", pa.binary()), ("path", pa.string())]))


def card(splits):
    lines = ["---", "configs:", "- config_name: default", "  data_files:"]
    for sp in splits:
        lines += [f"  - split: {sp}", f"    path: data/{sp}-*"]
    return "\n".join(lines + ["---", ""])


def md5(b):
    import hashlib
    return hashlib.md5(b).hexdigest()


def write_vidore():
    d = os.path.join(HUB, *VIDORE_REPO.split("/"))
    os.makedirs(os.path.join(d, "data"))
    open(os.path.join(d, "README.md"), "w").write(card(["train", "test"]))
    rows = []
    for k in range(170):
        rows.append({"image": page_png(1000 + k), "image_filename": f"images/doc_{k}.png", "query": f"What is shown on page {k}?",
                     "answer": f"answer {k}", "source": "pdf", "options": None, "page": str(k % 7), "model": "claude-3-sonnet",
                     "prompt": f"long generation prompt {k}", "answer_type": "extractive"})
    files = [rows[:100], rows[100:]]
    for i, part in enumerate(files):
        cols = {"image": image_struct([r["image"] for r in part], [r["image_filename"] for r in part])}
        for c in ["image_filename", "query", "answer", "source", "options", "page", "model", "prompt", "answer_type"]:
            cols[c] = pa.array([r[c] for r in part], type=pa.string())
        pq.write_table(pa.table(cols), os.path.join(d, "data", f"train-{i:05d}-of-00002.parquet"), row_group_size=40)
    test_cols = {"image": image_struct([page_png(1)], ["t.png"]), **{c: pa.array(["TEST"], type=pa.string()) for c in
                 ["image_filename", "query", "answer", "source", "options", "page", "model", "prompt", "answer_type"]}}
    pq.write_table(pa.table(test_cols), os.path.join(d, "data", "test-00000-of-00001.parquet"))
    # data_prepare_v5 re-implemented: the image token, a space, the query (prompt ignored); answer as positive
    kept = len(rows) - len(rows) % MAP_BATCH
    return {"num_rows": len(rows), "skipped": len(rows) - kept, "examples": [
        {"query_text": f"{QWEN2_VL_IMAGE} {r['query']}", "query_image_md5": md5(r["image"]), "pos_text": r["answer"],
         "source": f"vidore/{VIDORE_REPO}"} for r in rows[:kept]]}


def write_visrag(cap):
    d = os.path.join(HUB, *VISRAG_REPO.split("/"))
    os.makedirs(os.path.join(d, "data"))
    open(os.path.join(d, "README.md"), "w").write(card(["train"]))
    sources = ["ArxivQA", "SlideVQA", "Unlisted source"]
    rows = [{"query": f"question {k}", "image": page_png(5000 + k), "source": sources[k % 3]} for k in range(300)]
    pq.write_table(pa.table({"query": pa.array([r["query"] for r in rows], type=pa.string()),
                             "image": image_struct([r["image"] for r in rows], [None] * len(rows)),
                             "source": pa.array([r["source"] for r in rows], type=pa.string())}),
                   os.path.join(d, "data", "train-00000-of-00001.parquet"), row_group_size=64)

    def process_query(query, prompt, image_token=""):
        return f"{prompt} {query} {image_token}" if prompt else f"{query} {image_token}"

    rows = rows[:cap]  # num_sample_per_subset
    kept = len(rows) - len(rows) % MAP_BATCH
    return {"num_rows": len(rows), "skipped": len(rows) - kept, "examples": [
        {"query_text": process_query(r["query"], VISRAG_QUERY_PROMPT.get(r["source"], ""), ""),
         "pos_text": process_query("", VISRAG_TARGET_PROMPT.get(r["source"], ""), QWEN2_VL_IMAGE),
         "pos_image_md5": md5(r["image"]), "source": "VisRAG-Indomain-data"} for r in rows[:kept]]}


# --- LLaVA-Hound video sources (llavahound_dataset_caption.py, llavahound_dataset_qa.py) -------------
HOUND = "llava-hound"  # under --data_basedir: <jsonl files>, train_300k/<video>/<frames>
VIDEO_TOKEN = "<|video_pad|>"
VRET_QRY_PROMPT = "Find a video that contains the following visual content: "
VRET_TGT_PROMPT = "Understand the content of the provided video: "
QA_QUERY_PROMPT = "Answer a question based on the content of a video. "
# frame folders: 10 frames (8 sampled), 5 frames (all kept), none (a folder without frames), missing
VIDEOS = {"v_ten": [f"c{i:02d}.jpg" for i in range(1, 11)], "v_five": ["frame_1.png", "frame_2.png", "frame_3.png", "frame_10.png", "frame_20.png"],
          "v_none": [], "v_missing": None}


def load_frames(frames_dir):
    import re

    def natural_sort_key(filename):
        return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", filename)]
    if not os.path.isdir(frames_dir):
        return []
    names = sorted(os.listdir(frames_dir), key=natural_sort_key)
    return [f"{frames_dir}/{n}" for n in names if os.path.splitext(n)[-1].lower() in (".jpg", ".jpeg", ".png")]


def process_video_frames(frame_dir, num_frames):
    frames = load_frames(frame_dir)
    if num_frames and num_frames <= len(frames):
        ids = np.linspace(0, len(frames) - 1, num_frames, dtype=int).tolist()
        frames = [frames[i] for i in ids]
    return frames


def write_llavahound():
    base = os.path.join(BASEDIR, HOUND)
    for v, frames in VIDEOS.items():
        if frames is None:
            continue
        os.makedirs(os.path.join(base, "train_300k", v))
        for k, f in enumerate(frames):
            write_image(os.path.join(base, "train_300k", v, f), 9000 + k)
        if not frames:
            open(os.path.join(base, "train_300k", v, "notes.txt"), "w").write("no frames here\n")
    names = list(VIDEOS)
    cap_rows = [{"id": f"cap{k}", "video": names[k % 4],
                 "conversations": [{"from": "human", "value": f"<video>\nDescribe video {k} in detail."},
                                   {"from": "gpt", "value": f"Caption of clip {k}."}]} for k in range(131)]
    qa_rows = [{"id": f"qa{k}", "video": names[(k + 1) % 4],
                "conversations": [{"from": "human", "value": f"<video>\nWhat happens at second {k}?"},
                                  {"from": "gpt", "value": f"Answer {k}."}]} for k in range(129)]
    for fname, rows in [("video_caption.jsonl", cap_rows), ("video_qa.jsonl", qa_rows)]:
        with open(os.path.join(base, fname), "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
    frame_base = os.path.join(BASEDIR, HOUND, "train_300k")

    def parse(rows, mode, parser, dataset_name, cap=None):
        if cap is not None and cap < len(rows):
            rows = rows[:cap]
        mapped = len(rows) - len(rows) % MAP_BATCH  # map(batch_size=128, drop_last_batch=True)
        out, skipped = [], len(rows) - mapped
        rel = lambda ps: [os.path.relpath(p, BASEDIR) for p in ps]
        for r in rows[:mapped]:
            human, gpt = r["conversations"][0]["value"], r["conversations"][1]["value"]
            frames = process_video_frames(os.path.join(frame_base, r["video"]), num_frames=8)
            if len(frames) == 0:
                skipped += 1
                continue
            if mode == "caption_retrieval":
                q, qv, p, pv = human.replace("<video>", VIDEO_TOKEN), rel(frames), gpt, None
            elif mode == "video_retrieval":
                q, qv, p, pv = VRET_QRY_PROMPT + gpt, None, VRET_TGT_PROMPT + VIDEO_TOKEN, rel(frames)
            else:
                q, qv, p, pv = QA_QUERY_PROMPT + human.replace("<video>", VIDEO_TOKEN), rel(frames), gpt, None
            out.append({"query_text": q, "query_video": qv, "pos_text": p, "pos_video": pv, "source": f"{parser}/{dataset_name}"})
        return {"num_rows": len(rows), "skipped": skipped, "examples": out}

    return {
        "video_caption": parse(cap_rows, "caption_retrieval", "llavahound_caption", "video_caption_300k"),
        "video_caption-video": parse(cap_rows, "video_retrieval", "llavahound_caption", "video_caption_300k"),
        "video_qa": parse(qa_rows, "qa", "llavahound_qa", "video_qa_240k"),
    }


def main():
    if os.path.exists(HUB):
        shutil.rmtree(HUB)
    if os.path.exists(BASEDIR):
        shutil.rmtree(BASEDIR)
    repo_dir = os.path.join(HUB, *REPO.split("/"))
    os.makedirs(repo_dir)
    with open(os.path.join(repo_dir, "README.md"), "w") as f:
        f.write(write_card([*SUBSETS, "NoPosImage"]))
    # A subset whose parquet lacks a column the parser needs (for the error test).
    os.makedirs(os.path.join(repo_dir, "NoPosImage"))
    pq.write_table(pa.table({c: pa.array(["x"], type=pa.string()) for c in COLUMNS if c != "pos_image_path"}),
                   os.path.join(repo_dir, "NoPosImage", "original-00000-of-00001.parquet"))
    seed = 0
    for s, rows in SUBSETS.items():
        d = os.path.join(repo_dir, s)
        os.makedirs(d)
        write_parquet(os.path.join(d, "original-00000-of-00001.parquet"), rows)
        write_parquet(os.path.join(d, "diverse_instruction-00000-of-00001.parquet"), [LEGACY])
        write_parquet(os.path.join(d, "train-00000-of-00001.parquet"), [LEGACY])
        for r in rows:
            for p in (r["qry_image_path"], r["pos_image_path"], r["neg_image_path"]):
                if p:
                    seed += 1
                    write_image(os.path.join(BASEDIR, IMAGE_DIR, p), seed)
    with open(os.path.join(ROOT, "mix.yaml"), "w") as f:
        f.write("# Written by tools/reference/train_data_fixtures.py: three MMEB-train subsets of the fixture hub.\n")
        yaml.safe_dump(MIX, f, sort_keys=False)

    # As train.py: a relative image_dir is joined to data_basedir; paths stay relative to it here.
    expected = {name: parse_mmeb(SUBSETS[cfg["subset_name"]], cfg, cfg["image_dir"]) for name, cfg in MIX.items()}
    with open(os.path.join(ROOT, "expected-mmeb.json"), "w") as f:
        json.dump(expected, f, indent=1, ensure_ascii=False)
        f.write("\n")

    visdoc = {"colpali_train_set": write_vidore(), "visrag-indomain": write_visrag(cap=290)}
    with open(os.path.join(ROOT, "visdoc.yaml"), "w") as f:
        f.write("# Written by tools/reference/train_data_fixtures.py: the two document sources of the V2 mix.\n")
        yaml.safe_dump({
            "colpali_train_set": {"dataset_parser": "vidore", "dataset_name": VIDORE_REPO, "weight": 10},
            "visrag-indomain": {"dataset_parser": "visrag", "dataset_name": VISRAG_REPO, "global_dataset_name": "VisRAG-Indomain-data",
                                "num_sample_per_subset": 290, "weight": 12},
        }, f, sort_keys=False)
    with open(os.path.join(ROOT, "expected-visdoc.json"), "w") as f:
        json.dump(visdoc, f, indent=0, ensure_ascii=False)
        f.write("\n")

    hound = write_llavahound()
    common = {"dataset_path": f"{HOUND}/video_caption.jsonl", "video_frame_basedir": f"{HOUND}/train_300k", "weight": 5, "num_frames": 8}
    with open(os.path.join(ROOT, "llavahound.yaml"), "w") as f:
        f.write("# Written by tools/reference/train_data_fixtures.py: the three LLaVA-Hound sources of the V2 mix (paths under --data_basedir).\n")
        yaml.safe_dump({
            "video_caption": {"dataset_parser": "llavahound_caption", "dataset_name": "video_caption_300k", **common, "data_mode": "caption_retrieval"},
            "video_caption-video": {"dataset_parser": "llavahound_caption", "dataset_name": "video_caption_300k", **common, "data_mode": "video_retrieval"},
            "video_qa": {"dataset_parser": "llavahound_qa", "dataset_name": "video_qa_240k", **common, "dataset_path": f"{HOUND}/video_qa.jsonl"},
        }, f, sort_keys=False)
    with open(os.path.join(ROOT, "expected-llavahound.json"), "w") as f:
        json.dump(hound, f, separators=(",", ":"), ensure_ascii=False)
        f.write("\n")

    alltasks_weights = [1, 1, 0.5, 0.5, 0.5, 0.5, 0.5, 1, 0.5, 0.5, 1, 1, 0.5, 1, 1, 1, 1, 0.5, 0.5, 1, 10, 12, 5, 5, 5]
    cases = []
    for name, lengths, weights, bs, seed_, strategy, limit in [
        ("three sources, runs of 2, all_exhausted", [5, 3, 8], [1, 0.5, 2], 2, 42, "all_exhausted", 10_000),
        ("three sources, runs of 2, first_exhausted", [5, 3, 8], [1, 0.5, 2], 2, 42, "first_exhausted", 10_000),
        ("runs of 1 (the reference's batches iterable)", [4, 6], [1, 3], 1, 42, "all_exhausted", 10_000),
        ("interleave batch size 0 (HF's per-example interleave), all_exhausted", [4, 6], [1, 3], 0, 42, "all_exhausted", 10_000),
        ("interleave batch size 0 (HF's per-example interleave), first_exhausted", [4, 6], [1, 3], 0, 42, "first_exhausted", 10_000),
        ("runs of 3, seed 7, four equal sources", [7, 2, 5, 9], [1, 1, 1, 1], 3, 7, "all_exhausted", 10_000),
        ("an empty source", [4, 0, 3], [1, 1, 1], 2, 1, "all_exhausted", 10_000),
        ("the V2 mix weights, runs of 64, first 6400 examples", [100_000] * 25, alltasks_weights, 64, 42, "all_exhausted", 6400),
    ]:
        p = probabilities(weights)
        cases.append({
            "name": name, "lengths": lengths, "weights": weights, "batch_size": bs, "seed": seed_,
            "stopping_strategy": strategy, "limit": limit,
            # batch_size 0: mixed_dataset.py passes 0 and hf_datasets.py falls back to HF's own
            # per-example interleave, which does restart a source that ran out.
            "order": interleave(lengths, p, max(bs, 1), seed_, strategy, limit, restart=bs == 0),
        })
    draws = []
    for seed_, weights in [(42, alltasks_weights), (0, [1, 2, 3]), (12345, [0.25, 0, 0.75])]:
        rng = np.random.default_rng(seed_)
        p = probabilities(weights)
        draws.append({"seed": seed_, "weights": weights, "choice": [int(i) for i in rng.choice(len(p), size=3000, p=p)],
                      "random_after": float(rng.random())})
    # Raw PCG64 output for default_rng(seed): the first uint64 words and doubles.
    raw = []
    for seed_ in [0, 1, 42, 2**32 + 5]:
        g = np.random.default_rng(seed_)
        raw.append({"seed": seed_, "uint64": [str(int(x)) for x in g.bit_generator.random_raw(4)],
                    "random": [float(x) for x in g.random(4)]})
    with open(os.path.join(ROOT, "expected-mixture.json"), "w") as f:
        json.dump({"numpy": np.__version__, "cases": cases, "choice": draws, "pcg64": raw}, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {ROOT}")


if __name__ == "__main__":
    sys.exit(main())
