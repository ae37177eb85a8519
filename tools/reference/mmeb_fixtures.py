"""Small MMEB fixture datasets in the REAL on-disk formats, for the loader tests.

Regenerate (from the repo root):
    tools/reference/.venv/bin/python tools/reference/mmeb_fixtures.py

Writes test/fixtures/mmeb/data/ (the `--data DIR` layout: HF dataset repos as <org>/<repo>/ with
parquet / jsonl files and README.md cards with `configs:` YAML, plus the MMEB-V2 media layout
image-tasks/ and video-tasks/frames/...) and test/fixtures/mmeb/expected.json (values computed
here with the reference's own Python formulas: VisRAG cached page names, and the hash of the
PIL-re-encoded JPEG page), plus the `--image-resolution` resize goldens (resize/, resize.json; see
resize_goldens(); `--resize-only` regenerates just those). The expected PROMPT strings are written by hand in the TS tests, not
here. Layout documented in test/fixtures/mmeb/README.md.
"""

import hashlib
import io
import json
import os
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "mmeb")
DATA = os.path.join(ROOT, "data")


def mkdir(p):
    os.makedirs(p, exist_ok=True)
    return p


def write_parquet(path, table, compression="snappy", row_group_size=None):
    mkdir(os.path.dirname(path))
    pq.write_table(table, path, compression=compression, row_group_size=row_group_size)


def write_card(repo_dir, yaml_body):
    mkdir(repo_dir)
    with open(os.path.join(repo_dir, "README.md"), "w") as f:
        f.write("---\n" + yaml_body + "---\n\n# fixture dataset card\n")


def color(i):
    return ((37 * i) % 256, (91 * i) % 256, (53 * i) % 256)


def tiny_image(path, i, size=(4, 4)):
    mkdir(os.path.dirname(path))
    img = Image.new("RGB", size, color(i))
    fmt = "PNG" if path.lower().endswith(".png") else "JPEG"
    img.save(path, format=fmt)


def frames(dir_, names, seed=0):
    for k, n in enumerate(names):
        tiny_image(os.path.join(dir_, n), seed + k, (8, 8))


def image_bytes(i, fmt, size=(6, 5)):
    img = Image.new("RGB", size, color(i))
    # a few distinct pixels so a lossy round trip is visible
    img.putpixel((1, 1), (255, 0, 0))
    img.putpixel((3, 2), (0, 0, 255))
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def pattern_bytes(fmt, size=(40, 30)):
    """A busy deterministic picture, so a lossy JPEG round trip is actually exercised."""
    w, h = size
    img = Image.new("RGB", size)
    img.putdata([((x * 7 + y * 13) % 256, (x * x + 3 * y) % 256, (x * y * 5 + 17) % 256) for y in range(h) for x in range(w)])
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


S = pa.string()
LS = pa.list_(pa.string())


# ---------------------------------------------------------------- image tasks (MMEB_Test_Instruct)
IMG_SCHEMA = pa.schema([("qry_inst", S), ("qry_text", S), ("qry_img_path", S),
                        ("tgt_inst", S), ("tgt_text", LS), ("tgt_img_path", LS)])

IMAGE_ROWS = {
    "ImageNet-1K": [
        ("<|image_1|>\nRepresent the given image for classification", "", "ImageNet-1K/val/n01440764_1.JPEG",
         "", ["tench", "goldfish", "tench"], ["", "", ""]),
        ("<|image_1|>\nRepresent the given image for classification", "Line one \nline two", "ImageNet-1K/val/n01443537_2.JPEG",
         "", ["goldfish", "tench"], ["", ""]),
    ],
    "OK-VQA": [
        ("<|image_1|> Represent the given image with the following question: ", "What is the man holding?", "OK-VQA/img_1.jpg",
         "", ["umbrella", "bat", "phone"], ["", "", ""]),
    ],
    "MSCOCO_i2t": [
        ("<|image_1|>\nFind an image caption describing the given everyday image.", "", "MSCOCO_i2t/coco_1.jpg",
         "", ["A dog on a couch.", "Two cats."], ["", ""]),
    ],
    "VisDial": [
        ("Represent the given dialogue about an image, which is used for image retrieval:", "Q:is it a cat A:yes",
         "", "<|image_1|>\nRepresent the given image.", ["", ""], ["VisDial/a.png", "VisDial/b.png"]),
    ],
    "WebQA": [
        ("<|image_1|> Find a Wikipedia image that answers this question:", "What color is the bus?", "",
         "<|image_1|> Represent the given Wikipedia image with related text information:",
         ["Bus. A red bus.", "Tram. A blue tram."], ["WebQA/bus.jpg", "WebQA/tram.jpg"]),
    ],
    "CIRR": [
        ("<|image_1|>\nGiven an image, find a similar everyday image with the described changes:", "make it blue",
         "CIRR/ref.png", "<|image_1|>\nRepresent the given image.", ["", ""], ["CIRR/t1.png", "CIRR/t2.png"]),
    ],
    "RefCOCO-Matching": [
        ("<|image_1|>\nSelect the portion of the image that follows the language expressions:", "\"the left dog\"",
         "RefCOCO/full.jpg", "<|image_1|>\nSelect the portion of the image that follows the language expressions:",
         ["\"the left dog\"", "\"the right dog\""], ["RefCOCO/crop.jpg", "RefCOCO/crop.jpg"]),
    ],
}


def image_tasks():
    repo = os.path.join(DATA, "ziyjiang", "MMEB_Test_Instruct")
    yaml = "configs:\n"
    for cfg, rows in IMAGE_ROWS.items():
        cols = list(zip(*rows))
        table = pa.table({n: pa.array(list(c), type=IMG_SCHEMA.field(n).type) for n, c in zip(IMG_SCHEMA.names, cols)},
                         schema=IMG_SCHEMA)
        write_parquet(os.path.join(repo, cfg, "test-00000-of-00001.parquet"), table)
        yaml += f"- config_name: {cfg}\n  data_files:\n  - split: test\n    path: {cfg}/test-*\n"
        for r in rows:
            for p in [r[2], *r[5]]:
                if p:
                    tiny_image(os.path.join(DATA, "image-tasks", p), len(p))
    write_card(repo, yaml + "dataset_info:\n  features:\n  - name: qry_inst\n    dtype: string\n")


# ---------------------------------------------------------------- video classification
def video_cls():
    fr = os.path.join(DATA, "video-tasks", "frames", "video_cls")
    # Breakfast: no card, `data/test-00000-of-00001.parquet` convention.
    write_parquet(os.path.join(DATA, "VLM2Vec", "Breakfast", "data", "test-00000-of-00001.parquet"),
                  pa.table({"video_id": ["P03_cereals", "P05_coffee"], "pos_text": ["cereal", "coffee"]}))
    frames(os.path.join(fr, "Breakfast", "P03_cereals"), [f"frame_{i:04d}.jpg" for i in range(1, 11)])
    # unpadded names: natural order 1..12 differs from lexical order
    frames(os.path.join(fr, "Breakfast", "P05_coffee"), [f"{i}.jpg" for i in range(1, 13)], seed=20)
    with open(os.path.join(fr, "Breakfast", "P05_coffee", "notes.txt"), "w") as f:
        f.write("not a frame\n")
    # SmthSmthV2: `test.parquet` at the repo root, int64 video ids.
    write_parquet(os.path.join(DATA, "VLM2Vec", "SmthSmthV2", "test.parquet"),
                  pa.table({"video_id": pa.array([12345], type=pa.int64()), "pos_text": ["Opening something"],
                            "neg_text": pa.array([["Holding something", "Opening something", "Closing something"]], type=LS)}))
    frames(os.path.join(fr, "SSv2", "12345"), ["frame_0001.jpg", "frame_0002.jpg", "frame_0003.jpg"], seed=40)


# ---------------------------------------------------------------- video retrieval
def video_ret():
    fr = os.path.join(DATA, "video-tasks", "frames", "video_ret")
    # MSR-VTT: card with config test_1k.
    repo = os.path.join(DATA, "VLM2Vec", "MSR-VTT")
    write_parquet(os.path.join(repo, "test_1k", "test-00000-of-00001.parquet"),
                  pa.table({"video_id": ["video7020"], "video": ["video7020.mp4"], "caption": ["a man is singing"]}))
    write_card(repo, "configs:\n- config_name: test_1k\n  data_files:\n  - split: test\n    path: test_1k/test-*\n")
    frames(os.path.join(fr, "MSR-VTT", "video7020"), [f"frame_{i:04d}.jpg" for i in range(1, 10)], seed=60)
    # MSVD: JSON lines; the second row has neither frames nor video (skipped like the reference).
    repo = os.path.join(DATA, "VLM2Vec", "MSVD")
    mkdir(repo)
    with open(os.path.join(repo, "test.jsonl"), "w") as f:
        f.write(json.dumps({"video_id": "-4wsuPCjDBc_5_15", "video": "-4wsuPCjDBc_5_15.avi",
                            "caption": ["a cat plays the piano", "a cat is playing"]}) + "\n")
        f.write(json.dumps({"video_id": "missing_vid", "video": "missing_vid.avi", "caption": ["nothing here"]}) + "\n")
    frames(os.path.join(fr, "MSVD", "-4wsuPCjDBc_5_15"), [f"frame_{i:04d}.jpg" for i in range(1, 9)], seed=70)
    # DiDeMo: two shards.
    repo = os.path.join(DATA, "VLM2Vec", "DiDeMo")
    write_parquet(os.path.join(repo, "data", "test-00000-of-00002.parquet"),
                  pa.table({"video": ["videos/1234@N00_5.mp4"], "caption": ["the dog jumps over the fence"]}))
    write_parquet(os.path.join(repo, "data", "test-00001-of-00002.parquet"),
                  pa.table({"video": ["videos/98_77.m4v"], "caption": ["a child laughs"]}))
    frames(os.path.join(fr, "DiDeMo", "1234@N00_5"), [f"frame_{i:04d}.jpg" for i in range(1, 9)], seed=80)
    frames(os.path.join(fr, "DiDeMo", "98_77"), [f"frame_{i:04d}.jpg" for i in range(1, 9)], seed=90)
    # YouCook2: lmms-lab repo, split `val`, card with data_files as a split → path mapping.
    repo = os.path.join(DATA, "lmms-lab", "YouCook2")
    write_parquet(os.path.join(repo, "data", "val-00000-of-00001.parquet"),
                  pa.table({"id": ["GLd3aX16zBg_0"], "video_path": ["validation/GLd3aX16zBg.mp4"], "sentence": ["cut the onion"]}))
    write_card(repo, "configs:\n- config_name: default\n  data_files:\n    val: data/val-*\n")
    frames(os.path.join(fr, "YouCook2", "GLd3aX16zBg_0"), [f"frame_{i:04d}.jpg" for i in range(1, 9)], seed=100)
    # VATEX: split as a directory (`test/…`).
    write_parquet(os.path.join(DATA, "VLM2Vec", "VATEX", "test", "0000.parquet"),
                  pa.table({"videoID": ["abc_000010_000020"], "enCap": pa.array([["A person dances.", "Someone moves."]], type=LS)}))
    frames(os.path.join(fr, "VATEX", "abc_000010_000020"), [f"frame_{i:04d}.jpg" for i in range(1, 9)], seed=110)


# ---------------------------------------------------------------- moment retrieval
def video_mret():
    fr = os.path.join(DATA, "video-tasks", "frames", "video_mret")
    write_parquet(os.path.join(DATA, "VLM2Vec", "QVHighlight", "data", "test-00000-of-00001.parquet"),
                  pa.table({"query": ["a woman cooks pasta"], "video_path": ["videos/vid_A_60.0_210.0.mp4"]}))
    base = os.path.join(fr, "QVHighlight", "vid_A_60.0_210.0")
    frames(os.path.join(base, "query"), [f"frame_{i:04d}.jpg" for i in range(1, 10)], seed=120)
    frames(os.path.join(base, "positive_3"), [f"frame_{i:04d}.jpg" for i in range(1, 9)], seed=130)
    frames(os.path.join(base, "negative_1"), ["frame_0001.jpg", "frame_0002.jpg"], seed=140)
    frames(os.path.join(base, "negative_2"), [f"frame_{i:04d}.jpg" for i in range(1, 9)], seed=150)
    with open(os.path.join(base, "meta.json"), "w") as f:
        f.write("{}\n")
    # MomentSeeker: struct lists.
    clip = pa.struct([("output_path", S), ("start_time", pa.float64()), ("end_time", pa.float64())])
    rows = {
        "query": ["what happens next", "find the red car", "a man opens a door"],
        "input_frames": ["ego4d/clip_a.mp4", "img_001.jpg", ""],
        "positive_frames": [[{"output_path": "ego4d/clip_a_pos.mp4", "start_time": 1.0, "end_time": 2.0}],
                            [{"output_path": "cars/red_1.mp4", "start_time": 0.0, "end_time": 3.5},
                             {"output_path": "cars/red_2.mp4", "start_time": 4.0, "end_time": 6.0}],
                            [{"output_path": "door/open.mp4", "start_time": 0.0, "end_time": 1.0}]],
        "negative_frames": [[{"output_path": "ego4d/clip_a_neg1.mp4", "start_time": 5.0, "end_time": 6.0}],
                            [{"output_path": "cars/blue.mp4", "start_time": 0.0, "end_time": 2.0}],
                            []],
    }
    table = pa.table({"query": rows["query"], "input_frames": rows["input_frames"],
                      "positive_frames": pa.array(rows["positive_frames"], type=pa.list_(clip)),
                      "negative_frames": pa.array(rows["negative_frames"], type=pa.list_(clip))})
    write_parquet(os.path.join(DATA, "VLM2Vec", "MomentSeeker", "data", "test-00000-of-00001.parquet"), table)
    ms = os.path.join(fr, "MomentSeeker")
    frames(os.path.join(ms, "video_frames", "ego4d_clip_a"), [f"frame_{i:04d}.jpg" for i in range(1, 4)], seed=160)
    # 10 frames: MomentSeeker uses every saved frame, no linspace sampling
    frames(os.path.join(ms, "video_frames", "ego4d_clip_a_pos"), [f"frame_{i}.jpg" for i in range(1, 11)], seed=170)
    for k, n in enumerate(["ego4d_clip_a_neg1", "cars_red_1", "cars_red_2", "cars_blue", "door_open"]):
        frames(os.path.join(ms, "video_frames", n), ["frame_0001.jpg", "frame_0002.jpg"], seed=180 + 3 * k)
    tiny_image(os.path.join(ms, "query_img_001.jpg"), 200)


# ---------------------------------------------------------------- video QA
def video_qa():
    fr = os.path.join(DATA, "video-tasks", "frames", "video_qa")
    write_parquet(os.path.join(DATA, "VLM2Vec", "Video-MME", "data", "test-00000-of-00001.parquet"), pa.table({
        "question": ["What is the man doing?"], "videoID": ["fFjv93ACGo8"],
        "options": pa.array([["A. Cooking.", "B. Running.", "C. Sleeping", "D. Reading a book."]], type=LS),
        "answer": ["B"], "question_id": ["001-1"], "domain": ["Knowledge"], "sub_category": ["Humanity"]}))
    frames(os.path.join(fr, "Video-MME", "fFjv93ACGo8"), [f"{i:04d}.jpeg" for i in range(0, 8)], seed=210)
    # NExTQA: config MC declared in the card.
    repo = os.path.join(DATA, "VLM2Vec", "NExTQA")
    write_parquet(os.path.join(repo, "MC", "test-00000-of-00001.parquet"), pa.table({
        "video": pa.array([4010069381], type=pa.int64()), "question": ["why did the boy run"],
        "answer": pa.array([2], type=pa.int64()), "qid": pa.array([7], type=pa.int64()), "type": ["CW"],
        "a0": ["to hide"], "a1": ["to play"], "a2": ["to catch the ball"], "a3": ["he was scared"], "a4": ["to eat"]}))
    write_card(repo, "configs:\n- config_name: MC\n  data_files:\n  - split: test\n    path: MC/test-*\n- config_name: OE\n  data_files:\n  - split: test\n    path: OE/test-*\n")
    frames(os.path.join(fr, "NExTQA", "4010069381"), [f"{i:04d}.jpeg" for i in range(0, 4)], seed=220)
    # EgoSchema: config Subset as a folder, no card.
    write_parquet(os.path.join(DATA, "VLM2Vec", "EgoSchema", "Subset", "test-00000-of-00001.parquet"), pa.table({
        "video_idx": ["vid-ego-1"], "question": ["What is c doing?"], "answer": ["1"], "question_idx": ["q-1"],
        "option": pa.array([["A. c cooks food.", "B. c washes dishes.", "C. c reads.", "D. c sleeps.", "E. c runs."]], type=LS)}))
    frames(os.path.join(fr, "EgoSchema", "vid-ego-1"), [f"{i:04d}.jpeg" for i in range(0, 8)], seed=230)
    # MVBench: 20 configs (train split); two with one row each, the others empty.
    repo = os.path.join(DATA, "VLM2Vec", "MVBench")
    configs = ["episodic_reasoning", "action_sequence", "action_prediction", "action_antonym", "fine_grained_action",
               "unexpected_action", "object_existence", "object_interaction", "object_shuffle", "moving_direction",
               "action_localization", "scene_transition", "action_count", "moving_count", "moving_attribute",
               "state_change", "fine_grained_pose", "character_order", "egocentric_navigation", "counterfactual_inference"]
    data = {"episodic_reasoning": (["What did the man do?"], ["s01e01_seg1"], [["sat down", "stood up", "left"]], ["stood up"]),
            "action_sequence": (["What happened first?"], ["AB12C.mp4"], [["ran", "walked"]], ["jumped"])}
    yaml = "configs:\n"
    for c in configs:
        q, v, cands, a = data.get(c, ([], [], [], []))
        write_parquet(os.path.join(repo, "json", f"{c}.parquet"), pa.table({
            "question": pa.array(q, type=S), "video": pa.array(v, type=S),
            "candidates": pa.array(cands, type=LS), "answer": pa.array(a, type=S)}))
        yaml += f"- config_name: {c}\n  data_files:\n  - split: train\n    path: json/{c}.parquet\n"
    write_card(repo, yaml)
    frames(os.path.join(fr, "MVBench", "episodic_reasoning", "s01e01_seg1"), [f"{i:04d}.jpeg" for i in range(0, 16)], seed=240)
    frames(os.path.join(fr, "MVBench", "action_sequence", "AB12C.mp4"), [f"{i:04d}.jpeg" for i in range(0, 3)], seed=260)
    write_parquet(os.path.join(DATA, "VLM2Vec", "ActivityNetQA", "data", "test-00000-of-00001.parquet"), pa.table({
        "video_name": ["abc123"], "question": ["is the person outdoors"], "answer": ["yes"], "question_id": ["v_abc123_1"]}))
    frames(os.path.join(fr, "ActivityNetQA", "v_abc123"), [f"{i:04d}.jpeg" for i in range(0, 10)], seed=270)


# ---------------------------------------------------------------- visdoc (BEIR)
IMG = pa.struct([("bytes", pa.binary()), ("path", S)])
BEIR_CARD = ("configs:\n- config_name: corpus\n  data_files:\n  - split: {split}\n    path: corpus/{split}-*\n"
             "- config_name: queries\n  data_files:\n  - split: {split}\n    path: queries/{split}-*\n"
             "- config_name: qrels\n  data_files:\n  - split: {split}\n    path: qrels/{split}-*\n")


def visrag_name(image_name):
    """The reference's cached name rule (visrag_dataset.py)."""
    base, ext = os.path.splitext(image_name)
    return base[:50] + "_" + hashlib.md5(image_name.encode("utf-8")).hexdigest()[:8] + ext


def visdoc(expected):
    # ViDoRe (int64 ids); page 13 is stored as JPEG bytes and must become a PNG file.
    repo = os.path.join(DATA, "vidore", "arxivqa_test_subsampled_beir")
    write_card(repo, BEIR_CARD.format(split="test"))
    write_parquet(os.path.join(repo, "queries", "test-00000-of-00001.parquet"), pa.table({
        "query-id": pa.array([0, 1, 2], type=pa.int64()),
        "query": ["What is shown in figure 1?", "Which model is best?", "What is the y axis?"]}))
    write_parquet(os.path.join(repo, "qrels", "test-00000-of-00001.parquet"), pa.table({
        "query-id": pa.array([0, 1, 1, 2, 2, 1], type=pa.int64()),
        "corpus-id": pa.array([10, 12, 11, 13, 12, 12], type=pa.int64()),
        "score": pa.array([1, 1, 1, 0, 1, 2], type=pa.int64())}))
    pages = [(10, image_bytes(10, "PNG")), (11, image_bytes(11, "PNG")), (12, image_bytes(12, "PNG")), (13, pattern_bytes("JPEG"))]
    write_parquet(os.path.join(repo, "corpus", "test-00000-of-00001.parquet"), pa.table({
        "corpus-id": pa.array([p[0] for p in pages], type=pa.int64()),
        "image": pa.array([{"bytes": b, "path": None} for _, b in pages], type=IMG)}), row_group_size=2)  # 2 row groups
    png10 = pages[0][1]
    expected["vidore_page10_sha256"] = hashlib.sha256(png10).hexdigest()
    # pixels PIL decodes from the JPEG page 13, which the PNG written for it must hold
    expected["vidore_page13_pixels"] = list(Image.open(io.BytesIO(pages[3][1])).convert("RGB").tobytes())

    # VisRAG (string ids = file names, split train); one long .jpg name.
    repo = os.path.join(DATA, "openbmb", "VisRAG-Ret-Test-ChartQA")
    write_card(repo, BEIR_CARD.format(split="train"))
    long_id = "a_very_long_document_page_name_that_exceeds_fifty_characters_for_sure_page_3.jpg"
    ids = ["chart_0001.png", long_id]
    jpg = pattern_bytes("JPEG")
    write_parquet(os.path.join(repo, "corpus", "train-00000-of-00001.parquet"), pa.table({
        "corpus-id": ids, "image": pa.array([{"bytes": image_bytes(5, "PNG"), "path": None}, {"bytes": jpg, "path": None}], type=IMG)}),
        compression="zstd")
    write_parquet(os.path.join(repo, "queries", "train-00000-of-00001.parquet"), pa.table({
        "query-id": ["q1", "q2"], "query": ["How many bars exceed 10?", "What does the legend say?"]}))
    write_parquet(os.path.join(repo, "qrels", "train-00000-of-00001.parquet"), pa.table({
        "query-id": ["q1", "q2"], "corpus-id": ids, "score": pa.array([1, 1], type=pa.int64())}))
    expected["visrag_names"] = {i: visrag_name(i) for i in ids}
    # What the old reference (image.save of the decoded page) writes for the .jpg page.
    buf = io.BytesIO()
    Image.open(io.BytesIO(jpg)).save(buf, format="JPEG")
    expected["visrag_jpg_pil_q75_sha256"] = hashlib.sha256(buf.getvalue()).hexdigest()
    expected["visrag_jpg_pil_q75_pixels"] = list(Image.open(buf).convert("RGB").tobytes())


def resize_goldens():
    """`--image-resolution` goldens (src/mmeb/load/resize.test.ts): what the V2 eval collator at the score-era
    code (6ac33bb, src/data/collator/eval_collator.py) does with `--resize_use_processor false`:
    `Image.open(path).resize(RESOLUTION_MAPPING[res])` with Pillow's default filter, NO convert first.
    Writes test/fixtures/mmeb/resize/{pattern.png, palette.png} and resize.json holding, per case, the
    sha256 of the resized image's raw RGB bytes (`.convert("RGB").tobytes()`, the pixels an RGB pipeline
    sees) and, for comparison, the same after HEAD's `convert("RGB")`-then-resize order. Sizes are the
    reference's own mapping values (low 128, high 1344); no test-only size.
    Run only this part: `tools/reference/.venv/bin/python tools/reference/mmeb_fixtures.py --resize-only`."""
    d = mkdir(os.path.join(ROOT, "resize"))
    w, h = 61, 47
    img = Image.new("RGB", (w, h))
    img.putdata([((x * 11 + y * 5) % 256, (x * y * 3 + 40) % 256, (x * x + y * y * 2) % 256) for y in range(h) for x in range(w)])
    img.save(os.path.join(d, "pattern.png"))
    pal = img.quantize(colors=16)
    pal.save(os.path.join(d, "palette.png"))
    mapping = {"high": (1344, 1344), "mid": (672, 672), "low": (128, 128)}
    cases = []
    for name, res in [("pattern.png", "low"), ("pattern.png", "high"), ("palette.png", "low")]:
        im = Image.open(os.path.join(d, name))
        size = mapping[res]
        score_era = im.resize(size)
        head = Image.open(os.path.join(d, name)).convert("RGB").resize(size)
        cases.append({
            "file": name, "mode": im.mode, "resolution": res, "size": list(size),
            "sha256_rgb": hashlib.sha256(score_era.convert("RGB").tobytes()).hexdigest(),
            "sha256_rgb_convert_first": hashlib.sha256(head.tobytes()).hexdigest(),
        })
    with open(os.path.join(ROOT, "resize.json"), "w") as f:
        json.dump(cases, f, indent=1)
    print("wrote", d)


def main():
    import sys
    if "--resize-only" in sys.argv:
        resize_goldens()
        return
    resize_goldens()
    shutil.rmtree(DATA, ignore_errors=True)
    mkdir(DATA)
    expected = {}
    image_tasks()
    video_cls()
    video_ret()
    video_mret()
    video_qa()
    visdoc(expected)
    with open(os.path.join(ROOT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
    print("wrote", DATA)


if __name__ == "__main__":
    main()
