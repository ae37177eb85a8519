"""peft loads the adapters OUR code saved (src/io/weights/peft-write.ts), and what it computes.

Input: test/fixtures/train/checkpoint/adapter-{dora,lora}/, written by our saveAdapter through
`node --import tsx tools/checkpoint-fixtures.ts` (run that first). For each, this script:
  - loads test/fixtures/model/tiny-a in float32 (eager attention) and wraps it with peft 0.21's
    PeftModel.from_pretrained(model, adapter_dir) — peft's own loader, key mapping and config;
  - checks that every tensor of the file landed in the model (peft warns, not fails, on keys it
    does not use, so an unused key would otherwise pass silently) with the file's values;
  - runs the UNMERGED peft model (LoRA: Wx + s·B(Ax); DoRA: m/‖W + s·BA‖_row ⊙ (Wx + s·BAx)) on the
    batch of the golden case a_mixed_left (test/fixtures/model/cases.json: text, image, video,
    multi-image and tiny-image rows) and records the L2-normalized last-token embeddings.
Output: test/fixtures/train/checkpoint/peft-embeddings.json ({adapter: {case, shape, embedding}}).

Run from the repository root (transformers 5.18, peft 0.21, torch 2.13):
    tools/reference/.venv/bin/python tools/reference/peft_roundtrip.py
"""

import json
import os
import sys

import numpy as np
import torch
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(__file__))
from model_qwen2vl import run_model  # noqa: E402  (the golden cases' own forward + pooling)

from peft import PeftModel  # noqa: E402
from transformers import Qwen2VLForConditionalGeneration  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODEL = os.path.join(ROOT, "test", "fixtures", "model")
OUT = os.path.join(ROOT, "test", "fixtures", "train", "checkpoint")
CASE = "a_mixed_left"
torch.set_num_threads(1)


def load_case(name):
    cases = json.load(open(os.path.join(MODEL, "cases.json")))["cases"]
    c = next(x for x in cases if x["name"] == name)

    def arr(key):
        ref = c.get(key)
        if not ref:
            return None
        dt = np.float32 if ref["dtype"] == "float32" else np.int64
        return np.fromfile(os.path.join(MODEL, ref["file"]), dtype=dt).reshape(ref["shape"])

    return {"ids": arr("input_ids"), "mask": arr("attention_mask"), "pos": arr("position_ids"),
            "pv": arr("pixel_values"), "pg": arr("image_grid_thw"), "vv": arr("pixel_values_videos"),
            "vg": arr("video_grid_thw")}


def check_loaded(pm, adapter_dir):
    saved = load_file(os.path.join(adapter_dir, "adapter_model.safetensors"))
    params = dict(pm.named_parameters())
    n = 0
    for key, t in saved.items():
        # base_model.model.<module>.lora_A.weight -> <module>.lora_A.default.weight (+ 4.x -> 5.x paths)
        mod = key[len("base_model.model."):]
        if mod.startswith("model.layers."):
            mod = "model.language_model." + mod[len("model."):]
        elif mod.startswith("visual."):
            mod = "model." + mod
        for part in ("lora_A", "lora_B"):
            mod = mod.replace(f".{part}.weight", f".{part}.default.weight")
        mod = mod.replace(".lora_magnitude_vector", ".lora_magnitude_vector.default.weight")
        p = params["base_model.model." + mod]
        assert torch.equal(p.detach(), t), key
        n += 1
    lora = [k for k in params if "lora_" in k]
    assert n == len(lora), (n, len(lora))
    return n


def main():
    batch = load_case(CASE)
    out = {}
    for name in ("adapter-dora", "adapter-lora"):
        d = os.path.join(OUT, name)
        base = Qwen2VLForConditionalGeneration.from_pretrained(os.path.join(MODEL, "tiny-a"), dtype=torch.float32)
        base.set_attn_implementation("eager")
        pm = PeftModel.from_pretrained(base, d).eval()
        n = check_loaded(pm, d)
        _, emb = run_model(pm.base_model.model, batch, batch["pos"])
        _, plain = run_model(Qwen2VLForConditionalGeneration.from_pretrained(os.path.join(MODEL, "tiny-a"), dtype=torch.float32).eval(), batch, batch["pos"])
        moved = float(np.abs(emb - plain).max())
        assert moved > 1e-2, f"{name} barely changes the embeddings ({moved})"
        out[name] = {"case": CASE, "tensors": n, "shape": list(emb.shape), "embedding": emb.reshape(-1).tolist(),
                     "max_abs_change_vs_base": moved}
        print(name, "tensors", n, "max |emb - base emb|", moved)
    with open(os.path.join(OUT, "peft-embeddings.json"), "w") as fh:
        json.dump({"generator": "tools/reference/peft_roundtrip.py", "peft": __import__("peft").__version__,
                   "transformers": __import__("transformers").__version__, "adapters": out}, fh)


if __name__ == "__main__":
    main()
