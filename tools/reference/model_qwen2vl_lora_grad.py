"""Gradient golden of a LoRA-adapted Qwen2-VL embedding (the foundation of training).

The tiny-a checkpoint (test/fixtures/model/tiny-a, written by model_qwen2vl.py) with a peft 0.21
LoRA (r 4, lora_alpha 8 -> scaling alpha/r = 2, dropout 0, target_modules q_proj / v_proj: the
language model's attention only; the vision tower's attention is a fused `qkv`, not matched) whose
A and B are set to fixed random values (peft initializes B to 0, which would make every
gradient w.r.t. A zero). The batch is the fixture case `a_mixed_left` read byte for byte from
test/fixtures/model/cases.json: six left-padded rows (text, image, video, text, three images, a
tiny image) with their patches, grids and VLM2Vec's 1-D position ids.

Embeddings are computed as VLM2Vec computes them: hidden_states[-1] (final-norm output) at each
row's last real token, L2-normalized. The loss is sum(embedding * probe) with a fixed random probe
[B, D], so every row and every dimension contributes to the gradient. Gradients are taken w.r.t.
every lora_A / lora_B weight.

The reference is run in float64 (model.double(): the inputs, weights and factors are exact in both
precisions; SDPA attention, see main) and stored rounded to float32; the same run in float32
(eager attention, as model_qwen2vl.py runs) is compared against it and its relative gradient error
recorded (about 1e-6): the scale a float32 implementation can be held to.

Writes test/fixtures/model/lora-grad/:
  adapter_config.json, adapter_model.safetensors  the adapter (peft save_pretrained; A and B f32)
  grads.safetensors    d loss / d factor, float32, keyed exactly as adapter_model.safetensors
                       (peft's state-dict keys, e.g.
                       base_model.model.model.language_model.layers.0.self_attn.q_proj.lora_A.weight)
  outputs.safetensors  probe [B, D], hidden [B, D], embedding [B, D], loss [1] (float32)
  reference.json       case name, loss formula, r / alpha / targets, versions, and the float32
                       torch run's max relative gradient error against the float64 reference

Regenerate from the repository root (deterministic; a few seconds):
    tools/reference/.venv/bin/python tools/reference/model_qwen2vl_lora_grad.py
"""

import json
import os
import shutil

import numpy as np
import peft
import torch
import transformers
from peft import LoraConfig, get_peft_model, get_peft_model_state_dict
from safetensors.torch import save_file
from transformers import Qwen2VLForConditionalGeneration

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIX = os.path.join(ROOT, "test", "fixtures", "model")
OUT = os.path.join(FIX, "lora-grad")
CASE = "a_mixed_left"
R, ALPHA, TARGETS = 4, 8, ["q_proj", "v_proj"]
torch.set_num_threads(1)


def case_arrays(name):
    with open(os.path.join(FIX, "cases.json")) as fh:
        case = next(c for c in json.load(fh)["cases"] if c["name"] == name)

    def arr(key):
        ref = case.get(key)
        if ref is None:
            return None
        dt = np.float32 if ref["dtype"] == "float32" else np.int64
        return torch.from_numpy(np.fromfile(os.path.join(FIX, ref["file"]), dtype=dt).reshape(ref["shape"]))

    keys = ["input_ids", "attention_mask", "position_ids", "pixel_values", "image_grid_thw",
            "pixel_values_videos", "video_grid_thw", "embedding"]
    return case, {k: arr(k) for k in keys}


def lora_model(dtype, attn):
    model = Qwen2VLForConditionalGeneration.from_pretrained(
        os.path.join(FIX, "tiny-a"), dtype=torch.float32, attn_implementation=attn).eval()
    cfg = LoraConfig(r=R, lora_alpha=ALPHA, lora_dropout=0.0, target_modules=TARGETS)
    pm = get_peft_model(model, cfg)
    g = torch.Generator().manual_seed(11)
    with torch.no_grad():
        for n, p in sorted(pm.named_parameters()):
            if "lora_A" in n:  # [r, in]
                p.copy_(torch.randn(p.shape, generator=g) / np.sqrt(p.shape[1]))
            elif "lora_B" in n:  # [out, r]
                p.copy_(0.3 * torch.randn(p.shape, generator=g))
    for n, p in pm.named_parameters():
        p.requires_grad_("lora_" in n)
    return pm.to(dtype).eval()


def embed(pm, x, dtype):
    f = lambda t: None if t is None else t.to(dtype)
    out = pm(input_ids=x["input_ids"], attention_mask=x["attention_mask"], position_ids=x["position_ids"],
             pixel_values=f(x["pixel_values"]), image_grid_thw=x["image_grid_thw"],
             pixel_values_videos=f(x["pixel_values_videos"]), video_grid_thw=x["video_grid_thw"],
             output_hidden_states=True, use_cache=False)
    hs = out.hidden_states[-1]
    mask = x["attention_mask"]
    last = hs[:, -1] if bool((mask[:, -1] == 1).all()) else hs[torch.arange(hs.shape[0]), mask.sum(1) - 1]
    return last, torch.nn.functional.normalize(last, dim=-1)


def run(dtype, attn, x, probe):
    pm = lora_model(dtype, attn)
    last, emb = embed(pm, x, dtype)
    loss = (emb * probe.to(dtype)).sum()
    loss.backward()
    # peft's state-dict key of each factor: the parameter name without the adapter name.
    grads = {n.replace(".default.", "."): p.grad.detach() for n, p in pm.named_parameters() if p.requires_grad}
    return pm, last, emb, loss, grads


def main():
    case, x = case_arrays(CASE)
    b, d = x["embedding"].shape
    probe = torch.randn((b, d), generator=torch.Generator().manual_seed(5), dtype=torch.float32)

    # Sanity: the adapter switched off gives the stored case embedding (same inputs, same model).
    pm32, _, emb32, loss32, g32 = run(torch.float32, "eager", x, probe)
    with torch.no_grad(), pm32.disable_adapter():
        _, base = embed(pm32, x, torch.float32)
    assert float((base - x["embedding"]).abs().max()) < 1e-5, "base model does not reproduce the case embedding"
    moved = float((emb32.detach() - base).abs().max())
    assert moved > 1e-2, f"the adapter barely changes the embeddings ({moved})"

    # float64 with SDPA attention: eager attention in float64 turns the fully masked query rows of
    # left padding into NaN, which reach the gradients as 0 * NaN (float32 eager does not).
    pm64, last64, emb64, loss64, g64 = run(torch.float64, "sdpa", x, probe)
    keys = sorted(get_peft_model_state_dict(pm32).keys())
    assert sorted(g64.keys()) == keys and len(keys) == 4 * pm32.base_model.model.config.text_config.num_hidden_layers, keys
    rel = {k: float((g32[k].double() - g64[k]).norm() / g64[k].norm()) for k in keys}
    worst = max(rel.values())
    for k in keys:
        assert float(g64[k].abs().max()) > 0, f"zero gradient {k}"
    print(f"loss f64 {loss64.item():.9g}  f32 {loss32.item():.9g}; f32 vs f64 gradient rel err (per tensor, L2) max {worst:.3g}")

    shutil.rmtree(OUT, ignore_errors=True)
    pm32.save_pretrained(OUT)
    os.remove(os.path.join(OUT, "README.md"))  # peft's model card template; the fixture README says what this is
    # No machine path in the fixture (peft records the base's folder), and target_modules (a set
    # inside peft) in a fixed order so reruns write the same bytes.
    with open(os.path.join(OUT, "adapter_config.json")) as fh:
        ac = json.load(fh)
    ac["base_model_name_or_path"] = None
    ac["target_modules"] = sorted(ac["target_modules"])
    with open(os.path.join(OUT, "adapter_config.json"), "w") as fh:
        json.dump(ac, fh, indent=2, sort_keys=True)
    save_file({k: g64[k].float().contiguous() for k in keys}, os.path.join(OUT, "grads.safetensors"))
    save_file({"probe": probe, "hidden": last64.detach().float().contiguous(), "embedding": emb64.detach().float().contiguous(),
               "loss": loss64.detach().float().reshape(1)}, os.path.join(OUT, "outputs.safetensors"))
    with open(os.path.join(OUT, "reference.json"), "w") as fh:
        json.dump({
            "generator": "tools/reference/model_qwen2vl_lora_grad.py",
            "case": CASE, "model": "tiny-a",
            "loss": "sum(embedding * probe); embedding = L2-normalize(final-norm hidden state at each row's last token)",
            "lora": {"r": R, "lora_alpha": ALPHA, "scaling": ALPHA / R, "target_modules": TARGETS},
            "precision": "float64 reference rounded to float32",
            "float32_torch_max_rel_grad_err": worst,
            "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__},
        }, fh, indent=1)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
