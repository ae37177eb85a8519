"""Golden fixtures for src/models/qwen2-vl and src/embed/local (issue 5).

Tiny random Qwen2-VL models run by transformers 5.18 (float32 math, eager attention), fed with
inputs built from the REAL Qwen tokenizer (tiny-a/tokenizer.json; source and license in the README) and the
transformers Pillow image processor, exactly as VLM2Vec builds them (docs/vlm2vec.md §1.2-§1.6):

  models (bf16 safetensors, as real checkpoints ship; vocab 151657 so the real special ids fit):
    tiny-a/   text hidden 24, 4 heads / 2 KV heads (head_dim 6, mrope [1,1,1]), 2 layers,
              vision depth 2, embed 16, 2 heads, mlp_ratio 2. save_pretrained (nested 5.x layout).
              config.flat.json: the same config in the flat 4.x layout (a test copies it in a temp
              folder as config.json beside the same weights).
    tiny-b/   text hidden 24, 4 heads / 1 KV head, vision embed 24 / 3 heads, depth 2.
    tiny-a-dora/  PEFT 0.21 DoRA adapter (r 4, alpha 8, q/k/v/o/gate/up/down) on tiny-a with
              randomized lora_B / magnitude (PEFT's init would make it a no-op).
  media: images/*.png (odd merged grids, a tiny 20x40 image that VLM2Vec's collator resizes to
    56x56), video/frame_*.png (8 frames -> grid [4, 4, 6]).
  cases.json + *.bin (little-endian f32 / i64): per case the items (prompt, media), the processed
    input_ids / attention_mask / position_ids, pixel values + grids, and the reference
    last-token hidden states (hidden_states[-1] = final-norm output) and L2-normalized embeddings.

  a_text_pad / a_text_pad_mixed: a text-only prompt that keeps one <|image_pad|> (WebQA's queries;
    the reference's processor, called with images=None, leaves it as token 151655), alone and
    left-padded with an image, a video and a text row, run by VLM2Vec's own forward (its
    modeling_qwen2_vl.py splits the batch: only rows with images/videos take vision features);
    each row is also checked against that row run alone.

VLM2Vec-style prompts (no <|vision_start|>) get EXPLICIT 1-D position_ids (real tokens 0..n-1,
pads at 1), as transformers 4.x computed for VLM2Vec: transformers 5 would otherwise derive M-RoPE
positions from mm_token_type_ids. GME-style prompts (<|vision_start|>...) get the 4.x
get_rope_index positions (ported below from transformers 4.52 modeling_qwen2_vl.py); transformers
5.18's own get_rope_index output is stored too (it differs for videos whose grid_t exceeds
max(h, w)/2: 5.x advances the next start by max(h, w)/2 only).

Regenerate from the repository root (deterministic, seeds fixed; ~1 min on 1 thread):
    tools/reference/.venv/bin/python tools/reference/model_qwen2vl.py
"""

import copy
import hashlib
import json
import os
import shutil

import numpy as np
import torch
from PIL import Image

from transformers import AutoTokenizer, Qwen2VLConfig, Qwen2VLForConditionalGeneration
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "test", "fixtures", "model")
# The real Qwen tokenizer lives in tiny-a (an input of this script, kept when tiny-a is rewritten).
TOKENIZER_DIR = os.path.join(OUT, "tiny-a")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")
torch.set_num_threads(1)

IMAGE_ID, VIDEO_ID, VSTART_ID, VEND_ID, PAD_ID = 151655, 151656, 151652, 151653, 151643
VOCAB = 151657
MIN_PIXELS, MAX_PIXELS = 3136, 1003520


def make_config(hidden, heads, kv, inter, v_embed, v_heads):
    return Qwen2VLConfig(
        text_config=dict(
            vocab_size=VOCAB, hidden_size=hidden, intermediate_size=inter, num_hidden_layers=2,
            num_attention_heads=heads, num_key_value_heads=kv, rms_norm_eps=1e-6,
            max_position_embeddings=4096, tie_word_embeddings=True,
            rope_parameters={"rope_type": "default", "mrope_section": [1, 1, 1], "rope_theta": 1000000.0},
        ),
        vision_config=dict(depth=2, embed_dim=v_embed, num_heads=v_heads, mlp_ratio=2, hidden_size=hidden,
                           in_channels=3, patch_size=14, temporal_patch_size=2, spatial_merge_size=2),
        image_token_id=IMAGE_ID, video_token_id=VIDEO_ID, vision_start_token_id=VSTART_ID,
        vision_end_token_id=VEND_ID, tie_word_embeddings=True,
    )


def randomize(model, seed, round_bf16=True):
    """Weights with O(1) signal: linear ~ N(0, 1/fan_in), norms 1 + 0.1 N, biases 0.1 N, embeddings N(0,1)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            elif p.ndim == 1:
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g))
            elif "embed_tokens" in name:
                p.copy_(torch.randn(p.shape, generator=g))
            else:
                fan_in = int(np.prod(p.shape[1:]))
                p.copy_(torch.randn(p.shape, generator=g) / np.sqrt(fan_in))
            # Round to bf16 once: the stored weights are bf16 and the reference runs them in f32.
            # (Parameters only: model.to(bf16) would also round the rotary inv_freq buffers.)
            if round_bf16:
                p.copy_(p.to(torch.bfloat16).to(torch.float32))


# ----------------------------------------------------------------------------- media
def smooth_image(h, w, seed):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=(max(2, h // 7), max(2, w // 7), 3)).astype(np.uint8)
    img = Image.fromarray(base).resize((w, h), Image.BILINEAR)
    arr = np.asarray(img).astype(np.int16) + rng.integers(-20, 21, size=(h, w, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def write_media():
    os.makedirs(os.path.join(OUT, "images"), exist_ok=True)
    os.makedirs(os.path.join(OUT, "video"), exist_ok=True)
    specs = {"a.png": (70, 90, 1), "b.png": (100, 150, 2), "tiny.png": (20, 40, 3)}
    for name, (h, w, seed) in specs.items():
        smooth_image(h, w, seed).save(os.path.join(OUT, "images", name))
    for i in range(8):
        smooth_image(60, 90, 100 + i).save(os.path.join(OUT, "video", f"frame_{i}.png"))


IMG_PROC = Qwen2VLImageProcessorPil(min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS)


def open_rgb(path):
    img = Image.open(path).convert("RGB")
    # VLM2Vec's collator: images with a side < 28 px are first resized to 56x56 (PIL bicubic).
    if img.width < 28 or img.height < 28:
        img = img.resize((56, 56), Image.BICUBIC)
    return img


def process_images(paths):
    out = IMG_PROC(images=[open_rgb(p) for p in paths], return_tensors="np")
    return out["pixel_values"].astype(np.float32), out["image_grid_thw"].astype(np.int64)


def process_video(paths):
    """VLM2Vec's video path: frames resized to the FIRST frame's smart_resize, stacked, T/2 slices."""
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize
    frames = [Image.open(p).convert("RGB") for p in paths]
    h, w = smart_resize(frames[0].height, frames[0].width, factor=28, min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS)
    mean = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
    std = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)
    arrs = []
    for f in frames:
        a = np.asarray(f.resize((w, h), Image.BICUBIC)).astype(np.float64) * (1 / 255)
        a = ((a.astype(np.float32) - mean) / std).astype(np.float32)
        arrs.append(a.transpose(2, 0, 1))
    x = np.stack(arrs)  # [T, 3, H, W]
    if x.shape[0] % 2 == 1:
        x = np.concatenate([x, x[-1:]], 0)
    t, c = x.shape[0] // 2, 3
    gh, gw = h // 14, w // 14
    x = x.reshape(t, 2, c, gh // 2, 2, 14, gw // 2, 2, 14)
    x = x.transpose(0, 3, 6, 4, 7, 2, 1, 5, 8)
    return np.ascontiguousarray(x.reshape(t * gh * gw, c * 2 * 14 * 14)), np.array([[t, gh, gw]], dtype=np.int64)


# ----------------------------------------------------------------------------- prompts -> batch
TOK = AutoTokenizer.from_pretrained(TOKENIZER_DIR)


def expand(text, grids, token):
    parts = text.split(token)
    assert len(parts) - 1 == len(grids), (text, len(grids))
    out = parts[0]
    for g, rest in zip(grids, parts[1:]):
        out += token * int(np.prod(g) // 4) + rest
    return out


def encode_item(item):
    """One item processed on its own (VLM2Vec's Qwen2_VL_process_fn), unpadded."""
    text = item["text"]
    pv = pg = vv = vg = None
    if item.get("images"):
        pv, pg = process_images([os.path.join(OUT, p) for p in item["images"]])
        text = expand(text, pg.tolist(), "<|image_pad|>")
    if item.get("video"):
        vv, vg = process_video([os.path.join(OUT, p) for p in item["video"]])
        text = expand(text, vg.tolist(), "<|video_pad|>")
    ids = TOK(text, add_special_tokens=False)["input_ids"]
    return ids, pv, pg, vv, vg


def rope_index_4x(input_ids, attention_mask, image_grid, video_grid, merge=2):
    """transformers 4.52 Qwen2VLModel.get_rope_index (vision_start based), pads at 1."""
    B, L = input_ids.shape
    pos = np.ones((3, B, L), dtype=np.int64)
    ii = vi = 0
    for b in range(B):
        toks = input_ids[b][attention_mask[b] == 1].tolist()
        starts = [i for i, t in enumerate(toks) if t == VSTART_ID]
        kinds = [toks[i + 1] for i in starts if i + 1 < len(toks)]
        n_img, n_vid = kinds.count(IMAGE_ID), kinds.count(VIDEO_ID)
        chunks, st = [], 0
        rem_i, rem_v = n_img, n_vid
        for _ in range(n_img + n_vid):
            ed_i = toks.index(IMAGE_ID, st) if (IMAGE_ID in toks and rem_i > 0) else len(toks) + 1
            ed_v = toks.index(VIDEO_ID, st) if (VIDEO_ID in toks and rem_v > 0) else len(toks) + 1
            if ed_i < ed_v:
                t, h, w = image_grid[ii]; ii += 1; rem_i -= 1; ed = ed_i
            else:
                t, h, w = video_grid[vi]; vi += 1; rem_v -= 1; ed = ed_v
            gt, gh, gw = int(t), int(h) // merge, int(w) // merge
            text_len = ed - st
            st_idx = chunks[-1].max() + 1 if chunks else 0
            chunks.append(np.broadcast_to(np.arange(text_len), (3, text_len)) + st_idx)
            ti = np.repeat(np.arange(gt), gh * gw)
            hi = np.tile(np.repeat(np.arange(gh), gw), gt)
            wi = np.tile(np.arange(gw), gt * gh)
            chunks.append(np.stack([ti, hi, wi]) + text_len + st_idx)
            st = ed + gt * gh * gw
        if st < len(toks):
            st_idx = chunks[-1].max() + 1 if chunks else 0
            n = len(toks) - st
            chunks.append(np.broadcast_to(np.arange(n), (3, n)) + st_idx)
        pos[:, b, attention_mask[b] == 1] = np.concatenate(chunks, 1)
    return pos


def build_batch(items, side="left"):
    enc = [encode_item(it) for it in items]
    L = max(len(e[0]) for e in enc)
    B = len(items)
    ids = np.full((B, L), PAD_ID, dtype=np.int64)
    mask = np.zeros((B, L), dtype=np.int64)
    for b, e in enumerate(enc):
        n = len(e[0])
        sl = slice(L - n, L) if side == "left" else slice(0, n)
        ids[b, sl] = e[0]
        mask[b, sl] = 1
    cat = lambda xs: np.concatenate(xs, 0) if xs else None
    pv = cat([e[1] for e in enc if e[1] is not None])
    pg = cat([e[2] for e in enc if e[2] is not None])
    vv = cat([e[3] for e in enc if e[3] is not None])
    vg = cat([e[4] for e in enc if e[4] is not None])
    # VLM2Vec / transformers 4.x positions for prompts without <|vision_start|>: 0..n-1, pads 1.
    pos1 = np.where(mask == 1, np.cumsum(mask, 1) - 1, 1).astype(np.int64)
    return dict(ids=ids, mask=mask, pv=pv, pg=pg, vv=vv, vg=vg, pos1=pos1)


def run_model(model, batch, position_ids):
    t = lambda x: None if x is None else torch.from_numpy(x)
    captured = {}
    hook = model.model.language_model.norm.register_forward_hook(lambda m, i, o: captured.__setitem__("norm", o))
    with torch.no_grad():
        out = model(input_ids=t(batch["ids"]), attention_mask=t(batch["mask"]), position_ids=t(position_ids),
                    pixel_values=t(batch["pv"]), image_grid_thw=t(batch["pg"]),
                    pixel_values_videos=t(batch["vv"]), video_grid_thw=t(batch["vg"]),
                    output_hidden_states=True, use_cache=False)
    hook.remove()
    hs = out.hidden_states[-1]
    # hidden_states[-1] must be the final-norm output that VLM2Vec pools (docs/vlm2vec.md §1.6).
    # hidden_states[-1] must be the final-norm output that VLM2Vec pools (docs/vlm2vec.md §1.6).
    assert torch.equal(hs, captured["norm"]), "hidden_states[-1] is not the final RMSNorm output"
    mask = batch["mask"]
    if (mask[:, -1] == 1).all():
        last = hs[:, -1]
    else:
        idx = torch.from_numpy(mask.sum(1) - 1)
        last = hs[torch.arange(hs.shape[0]), idx]
    emb = torch.nn.functional.normalize(last, dim=-1)
    return last.numpy().astype(np.float32), emb.numpy().astype(np.float32)


# ----------------------------------------------------------------------------- writing
class Writer:
    def __init__(self):
        self.cases = []

    def arr(self, case, key, a, dtype):
        if a is None:
            return None
        buf = np.ascontiguousarray(a, dtype=dtype).tobytes()
        # Identical arrays (the same pixels in several cases) are stored once, named by content.
        fname = f"{key}.{hashlib.sha1(buf).hexdigest()[:12]}.bin"
        with open(os.path.join(OUT, "data", fname), "wb") as fh:
            fh.write(buf)
        return {"file": f"data/{fname}", "dtype": "float32" if dtype == np.float32 else "int64", "shape": list(a.shape)}

    def add(self, name, model, items, batch, hidden, emb, position_kind, extra=None):
        c = {"name": name, "model": model, "items": items, "padding_side": batch["side"], "position_kind": position_kind}
        for key, a, dt in [("input_ids", batch["ids"], np.int64), ("attention_mask", batch["mask"], np.int64),
                           ("position_ids", batch["pos"], np.int64), ("pixel_values", batch["pv"], np.float32),
                           ("image_grid_thw", batch["pg"], np.int64), ("pixel_values_videos", batch["vv"], np.float32),
                           ("video_grid_thw", batch["vg"], np.int64), ("last_hidden", hidden, np.float32),
                           ("embedding", emb, np.float32)]:
            c[key] = self.arr(name, key, a, dt)
        if extra:
            for k, (a, dt) in extra.items():
                c[k] = self.arr(name, k, a, dt)
        self.cases.append(c)


def flat_config(cfg_nested):
    """The transformers-4.x flat layout (Qwen/Qwen2-VL-2B-Instruct's key set) of a nested config."""
    tc, vc = cfg_nested["text_config"], cfg_nested["vision_config"]
    return {
        "architectures": ["Qwen2VLForConditionalGeneration"], "model_type": "qwen2_vl",
        "attention_dropout": 0.0, "bos_token_id": 151643, "eos_token_id": 151645,
        "vision_start_token_id": VSTART_ID, "vision_end_token_id": VEND_ID, "vision_token_id": 151654,
        "image_token_id": IMAGE_ID, "video_token_id": VIDEO_ID, "hidden_act": "silu",
        "hidden_size": tc["hidden_size"], "initializer_range": 0.02, "intermediate_size": tc["intermediate_size"],
        "max_position_embeddings": tc["max_position_embeddings"], "max_window_layers": 28,
        "num_attention_heads": tc["num_attention_heads"], "num_hidden_layers": tc["num_hidden_layers"],
        "num_key_value_heads": tc["num_key_value_heads"], "rms_norm_eps": tc["rms_norm_eps"],
        "rope_theta": 1000000.0, "sliding_window": 32768, "tie_word_embeddings": True,
        "torch_dtype": "bfloat16", "transformers_version": "4.41.2", "use_cache": True, "use_sliding_window": False,
        "vision_config": {"depth": vc["depth"], "embed_dim": vc["embed_dim"], "mlp_ratio": vc["mlp_ratio"],
                          "num_heads": vc["num_heads"], "in_chans": 3, "hidden_size": vc["hidden_size"],
                          "patch_size": 14, "spatial_merge_size": 2, "spatial_patch_size": 14,
                          "temporal_patch_size": 2},
        "rope_scaling": {"type": "mrope", "mrope_section": [1, 1, 1]},
        "vocab_size": tc["vocab_size"],
    }


def save_model(model, name):
    d = os.path.join(OUT, name)
    keep = TOKENIZER_FILES if d == TOKENIZER_DIR else ()
    for f in os.listdir(d) if os.path.isdir(d) else []:
        if f not in keep:
            os.remove(os.path.join(d, f))
    # A bf16 copy is saved; the live f32 model (and its f32 rotary buffers) stays untouched.
    copy.deepcopy(model).to(torch.bfloat16).save_pretrained(d)
    for f in ("generation_config.json",):
        if os.path.exists(os.path.join(d, f)):
            os.remove(os.path.join(d, f))
    # Other models get the tokenizer config only (tests pass tiny-a as their tokenizer folder).
    if d != TOKENIZER_DIR:
        shutil.copy(os.path.join(TOKENIZER_DIR, "tokenizer_config.json"), os.path.join(d, "tokenizer_config.json"))
    with open(os.path.join(d, "preprocessor_config.json"), "w") as fh:
        json.dump({"image_processor_type": "Qwen2VLImageProcessor", "min_pixels": MIN_PIXELS, "max_pixels": MAX_PIXELS,
                   "patch_size": 14, "temporal_patch_size": 2, "merge_size": 2,
                   "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711],
                   "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True, "do_resize": True, "resample": 3},
                  fh, indent=1)
    with open(os.path.join(d, "config.json")) as fh:
        nested = json.load(fh)
    with open(os.path.join(d, "config.flat.json"), "w") as fh:
        json.dump(flat_config(nested), fh, indent=1)
    # The flat config must describe the same model (transformers 5 reads both layouts).
    c2 = Qwen2VLConfig.from_dict(flat_config(nested))
    assert c2.text_config.num_key_value_heads == nested["text_config"]["num_key_value_heads"]
    assert list(c2.text_config.rope_parameters["mrope_section"]) == [1, 1, 1]


ITEMS = {
    "text": {"text": "Find a document image that matches the given query: what was the revenue in 2023?"},
    "text2": {"text": "Represent the given sentence: hi"},
    "img_b": {"text": "<|image_pad|> Represent the given image for classification\n", "images": ["images/b.png"]},
    "img_a": {"text": "<|image_pad|>\nFind a caption for the image", "images": ["images/a.png"]},
    "img_tiny": {"text": "<|image_pad|> Tiny.", "images": ["images/tiny.png"]},
    "video": {"text": "<|video_pad|> Understand the content of the provided video.",
              "video": [f"video/frame_{i}.png" for i in range(8)]},
    "multi3": {"text": "<|image_pad|><|image_pad|> Compare these images: <|image_pad|> which differs?",
               "images": ["images/a.png", "images/b.png", "images/tiny.png"]},
    "gme_img": {"text": "<|vision_start|><|image_pad|><|vision_end|>What is in the image?", "images": ["images/b.png"]},
    # WebQA-style text-only query: the reference keeps its <|image_pad|> (no image, so the processor
    # does not expand it) and embeds it as an ordinary token (id 151655).
    "text_pad": {"text": "<|image_pad|> Find a Wikipedia image that answers this question: what color is the tram?\n"},
    "gme_vid": {"text": "Describe <|vision_start|><|video_pad|><|vision_end|> the clip, then <|vision_start|><|image_pad|><|vision_end|> this.",
                "images": ["images/a.png"], "video": [f"video/frame_{i}.png" for i in range(8)]},
}


def run_model_vlm2vec_mixed(model, batch, items):
    """VLM2Vec's own Qwen2-VL forward (src/model/vlm_backbone/qwen2_vl/modeling_qwen2_vl.py): the
    rows WITH images (resp. videos) get their placeholder embeddings replaced by vision features,
    counted over those rows only; rows without media keep every token's embedding, including a
    literal <|image_pad|>. (transformers' own forward counts the placeholders of the whole batch
    and rejects such a batch; asserted below.)"""
    t = lambda x: torch.from_numpy(x)
    ids = t(batch["ids"])
    with torch.no_grad():
        try:
            model(input_ids=ids, attention_mask=t(batch["mask"]), position_ids=t(batch["pos1"]),
                  pixel_values=t(batch["pv"]), image_grid_thw=t(batch["pg"]), use_cache=False)
            raise AssertionError("transformers accepted a batch whose text-only row has a literal <|image_pad|>")
        except (ValueError, RuntimeError) as e:
            assert "do not match" in str(e), e
        emb = model.model.get_input_embeddings()(ids)
        for key, grid_key, token, feats_fn, has in [
            ("pv", "pg", IMAGE_ID, model.model.get_image_features, lambda it: bool(it.get("images"))),
            ("vv", "vg", VIDEO_ID, model.model.get_video_features, lambda it: bool(it.get("video"))),
        ]:
            rows = [b for b, it in enumerate(items) if has(it)]
            if not rows:
                continue
            feats = torch.cat(feats_fn(t(batch[key]), t(batch[grid_key])).pooler_output, 0)
            sub = emb[rows]
            mask = (ids[rows] == token)
            assert int(mask.sum()) == feats.shape[0], (int(mask.sum()), feats.shape)
            sub = sub.masked_scatter(mask.unsqueeze(-1).expand_as(sub), feats.to(sub.dtype))
            emb[rows] = sub
        out = model(inputs_embeds=emb, attention_mask=t(batch["mask"]), position_ids=t(batch["pos1"]),
                    output_hidden_states=True, use_cache=False)
    hs = out.hidden_states[-1]
    last = hs[:, -1]  # left padding
    return last.numpy().astype(np.float32), torch.nn.functional.normalize(last, dim=-1).numpy().astype(np.float32)


def case_vlm2vec_mixed(w, model, mname, name, keys):
    """A left-padded batch processed per row (Qwen2_VL_process_fn) and run by VLM2Vec's mixed forward;
    each row must also equal that row run alone (batch of one, transformers' own forward)."""
    items = [ITEMS[k] for k in keys]
    batch = build_batch(items, "left")
    batch["side"], batch["pos"] = "left", batch["pos1"]
    hidden, emb = run_model_vlm2vec_mixed(model, batch, items)
    for b, it in enumerate(items):
        alone = build_batch([it], "left")
        _, e1 = run_model(model, alone, alone["pos1"])
        cos = float(np.dot(e1[0], emb[b]))
        assert cos > 0.999999, (name, b, cos)
    w.add(name, mname, items, batch, hidden, emb, "1d")
    return hidden, emb


def case(w, model, mname, name, keys, side="left", gme=False, extra_pos=False):
    items = [ITEMS[k] for k in keys]
    batch = build_batch(items, side)
    batch["side"] = side
    if gme:
        batch["pos"] = rope_index_4x(batch["ids"], batch["mask"], batch["pg"], batch["vg"])
    else:
        batch["pos"] = batch["pos1"]
    hidden, emb = run_model(model, batch, batch["pos"])
    extra = None
    if extra_pos:
        mm = np.zeros_like(batch["ids"])
        mm[batch["ids"] == IMAGE_ID] = 1
        mm[batch["ids"] == VIDEO_ID] = 2
        t = lambda x: None if x is None else torch.from_numpy(x)
        p5, _ = model.model.get_rope_index(t(batch["ids"]), t(mm), t(batch["pg"]), t(batch["vg"]), t(batch["mask"]))
        extra = {"position_ids_tf5": (p5.numpy(), np.int64)}
    w.add(name, mname, items, batch, hidden, emb, "mrope_4x" if gme else "1d", extra)
    return hidden, emb


def make_dora(model, name):
    from peft import LoraConfig, get_peft_model
    cfg = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, use_dora=True,
                     target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    pm = get_peft_model(model, cfg)
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for n, p in pm.named_parameters():
            if "lora_B" in n:
                p.copy_(0.3 * torch.randn(p.shape, generator=g))
            elif "lora_magnitude_vector" in n:
                p.mul_(1 + 0.2 * torch.randn(p.shape, generator=g))
    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True)
    pm.save_pretrained(d)
    merged = pm.merge_and_unload()
    merged.eval()
    return merged


def main():
    shutil.rmtree(os.path.join(OUT, "data"), ignore_errors=True)
    os.makedirs(os.path.join(OUT, "data"), exist_ok=True)
    write_media()
    w = Writer()

    torch.manual_seed(0)
    cfg_a = make_config(24, 4, 2, 48, 16, 2)
    ma = Qwen2VLForConditionalGeneration(cfg_a).eval()
    randomize(ma, 1)
    save_model(ma, "tiny-a")
    ma.set_attn_implementation("eager")

    case(w, ma, "tiny-a", "a_text", ["text"])
    case(w, ma, "tiny-a", "a_image", ["img_b"])
    case(w, ma, "tiny-a", "a_video", ["video"])
    case(w, ma, "tiny-a", "a_multi3", ["multi3"])
    mixed = ["text2", "img_a", "video", "text", "multi3", "img_tiny"]
    case(w, ma, "tiny-a", "a_mixed_left", mixed, "left")
    case(w, ma, "tiny-a", "a_mixed_right", mixed, "right")
    case(w, ma, "tiny-a", "a_gme", ["gme_img", "gme_vid", "text2"], "left", gme=True, extra_pos=True)
    # A text-only prompt that keeps <|image_pad|> (WebQA's queries), alone and batched with media rows.
    case(w, ma, "tiny-a", "a_text_pad", ["text_pad"])
    case_vlm2vec_mixed(w, ma, "tiny-a", "a_text_pad_mixed", ["text_pad", "img_a", "video", "text2"])

    torch.manual_seed(0)
    cfg_b = make_config(24, 4, 1, 40, 24, 3)
    mb = Qwen2VLForConditionalGeneration(cfg_b).eval()
    randomize(mb, 2)
    save_model(mb, "tiny-b")
    mb.set_attn_implementation("eager")
    case(w, mb, "tiny-b", "b_mixed_left", ["img_b", "text", "video", "multi3"], "left")

    merged = make_dora(ma, "tiny-a-dora")
    case(w, merged, "tiny-a+dora", "dora_mixed_left", mixed, "left")
    case(w, merged, "tiny-a+dora", "dora_image", ["img_b"], "left")

    with open(os.path.join(OUT, "cases.json"), "w") as fh:
        json.dump({"generator": "tools/reference/model_qwen2vl.py", "cases": w.cases}, fh, indent=1)
    print("wrote", len(w.cases), "cases")


if __name__ == "__main__":
    main()
