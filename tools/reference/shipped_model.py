"""Reference embeddings of the model the package ships (assets/model), by transformers.

Shows that assets/model is a real HF folder: transformers 5.x loads it (config.json, the float16
model.safetensors widened to float32, the minified tokenizer.json, preprocessor_config.json) as
Qwen2VLForConditionalGeneration, and embeds a few items the way VLM2Vec does: each item processed
alone (images below 28 px a side first resized to 56 x 56, then the Pillow Qwen2-VL processor with
the folder's own min_pixels / max_pixels), <|image_pad|> expanded to grid/4 tokens, no special
tokens added, explicit 1-D position_ids 0..n-1 (transformers 4.x positions for prompts without
<|vision_start|>), eager attention in float32; the final-norm output of the last token,
L2-normalised. The items use the bundled mini benchmark's pictures (assets/mini).

Output: test/fixtures/shipped-model/embeddings.json (items, token counts, grids, embeddings).
Regenerate from the repository root after assets/model changes (a few seconds):
    tools/reference/.venv/bin/python tools/reference/shipped_model.py
"""

import json
import os
import sys

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from no_torchvision import guard_torchvision  # noqa: E402

guard_torchvision()

from transformers import AutoTokenizer, Qwen2VLForConditionalGeneration  # noqa: E402
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# Overridable for a trial run on another folder: shipped_model.py [MODEL [MINI [OUT]]]
MODEL = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "assets", "model")
MINI = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "assets", "mini")
OUT = sys.argv[3] if len(sys.argv) > 3 else os.path.join(ROOT, "test", "fixtures", "shipped-model")
torch.set_num_threads(1)

FASHION = os.path.join("image-tasks", "mini", "FashionMNIST")
ITEMS = [
    {"text": "<|image_pad|>\nRepresent the given image for classification\n",
     "images": [os.path.join(FASHION, sorted(os.listdir(os.path.join(MINI, FASHION)))[0])]},
    {"text": "Sneaker"},
    {"text": "Find me an everyday image that matches the given caption: grinning face"},
    {"text": "<|image_pad|>\nFind an image caption describing the given everyday image\n",
     "images": [os.path.join("image-tasks", "mini", "Emoji", sorted(os.listdir(os.path.join(MINI, "image-tasks", "mini", "Emoji")))[0])]},
    {"text": "<|image_pad|>\nUnderstand the content of the provided document image.",
     "images": [os.path.join("visdoc-tasks", "Mini-DocPages", "0.png")]},
]


def main():
    pre = json.load(open(os.path.join(MODEL, "preprocessor_config.json")))
    proc = Qwen2VLImageProcessorPil(min_pixels=pre["min_pixels"], max_pixels=pre["max_pixels"])
    tok = AutoTokenizer.from_pretrained(MODEL)
    model = Qwen2VLForConditionalGeneration.from_pretrained(MODEL, dtype=torch.float32).eval()
    model.set_attn_implementation("eager")
    out = []
    for item in ITEMS:
        text, pv, grid = item["text"], None, None
        if item.get("images"):
            img = Image.open(os.path.join(MINI, item["images"][0])).convert("RGB")
            if img.width < 28 or img.height < 28:
                img = img.resize((56, 56), Image.BICUBIC)
            p = proc(images=[img], return_tensors="np")
            pv = torch.from_numpy(p["pixel_values"].astype(np.float32))
            grid = torch.from_numpy(p["image_grid_thw"].astype(np.int64))
            text = text.replace("<|image_pad|>", "<|image_pad|>" * int(np.prod(grid[0].tolist()) // 4))
        ids = tok(text, add_special_tokens=False)["input_ids"]
        n = len(ids)
        with torch.no_grad():
            o = model(input_ids=torch.tensor([ids]), attention_mask=torch.ones(1, n, dtype=torch.long),
                      position_ids=torch.arange(n).unsqueeze(0), pixel_values=pv, image_grid_thw=grid,
                      output_hidden_states=True, use_cache=False)
        last = o.hidden_states[-1][0, -1]
        emb = torch.nn.functional.normalize(last, dim=-1)
        out.append({**item, "tokens": n, "grid": None if grid is None else grid[0].tolist(),
                    "embedding": [float(x) for x in emb.numpy().astype(np.float32)]})
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "embeddings.json"), "w") as fh:
        json.dump({"generator": "tools/reference/shipped_model.py", "model": "assets/model", "items": out}, fh, indent=1)
        fh.write("\n")
    print(f"wrote {len(out)} embeddings to {OUT}/embeddings.json")


if __name__ == "__main__":
    main()
