"""Golden fixtures for src/models/clip-vision (issue 15): the CLIP ViT tower shared by LLaVA-NeXT
and Phi-3-V, against transformers' CLIPVisionModel.

A tiny random CLIPVisionModel (hidden 32, 4 heads, intermediate 40, 3 layers, image 28, patch 7 ->
16 patches + CLS; quick_gelu, and a second one with gelu) with float32 weights of O(1) signal,
written as safetensors under the prefix `vision_tower.vision_model.` (LLaVA-NeXT's names) and
`model.vision_embed_tokens.img_processor.vision_model.` (Phi-3-V's) to show the prefix is the
caller's. The reference runs in float64 (weights widened from the stored float32): every
hidden_states entry, and the pooled output, for two random pixel inputs [2, 3, 28, 28].

Writes test/fixtures/model/clip-vision/{config.json, model.safetensors, model-phi3.safetensors,
gelu.safetensors, gelu.json, cases.json, *.bin}. Regenerate from the repository root:
    tools/reference/.venv/bin/python tools/reference/clip_vision_fixtures.py
"""

import json
import os

import numpy as np
import torch
from safetensors.torch import save_file

from no_torchvision import guard_torchvision

guard_torchvision()
from transformers import CLIPVisionConfig, CLIPVisionModel  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "test", "fixtures", "model", "clip-vision")
torch.set_num_threads(1)


def randomize(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g) / fan_in**0.5)
            elif "layer_norm" in name or "layrnorm" in name:
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g) if name.endswith("weight") else 0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.5 * torch.randn(p.shape, generator=g))


def build(act, seed):
    cfg = CLIPVisionConfig(hidden_size=32, intermediate_size=40, num_hidden_layers=3, num_attention_heads=4,
                           image_size=28, patch_size=7, hidden_act=act, layer_norm_eps=1e-5, projection_dim=16)
    cfg._attn_implementation = "eager"
    m = CLIPVisionModel(cfg).eval()
    randomize(m, seed)
    return cfg, m


def tower_state(model):
    """CLIPVisionTransformer's tensors (transformers 5 flattens CLIPVisionModel; 4.x nests them under vision_model.)."""
    return {k.removeprefix("vision_model."): v.contiguous() for k, v in model.state_dict().items()}


def write(name, arr, index):
    arr = np.ascontiguousarray(arr)
    dtype = "float32" if arr.dtype.kind == "f" else "int64"
    arr.astype("<f4" if dtype == "float32" else "<i8").tofile(os.path.join(OUT, f"{name}.bin"))
    index[name] = {"file": f"{name}.bin", "dtype": dtype, "shape": list(arr.shape)}


def run(model, pixels):
    m = model.double()
    with torch.no_grad():
        out = m(pixel_values=torch.from_numpy(pixels).double(), output_hidden_states=True)
    model.float()
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    g = torch.Generator().manual_seed(7)
    pixels = (torch.randn((2, 3, 28, 28), generator=g) * 1.5).float().numpy()
    index = {}
    write("pixels", pixels, index)

    cfg, model = build("quick_gelu", 1)
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump({"vision_config": cfg.to_dict()}, f, indent=1, sort_keys=True)
    state = tower_state(model)
    save_file({f"vision_tower.vision_model.{k}": v for k, v in state.items()}, os.path.join(OUT, "model.safetensors"))
    save_file({f"model.vision_embed_tokens.img_processor.vision_model.{k}": v for k, v in state.items()},
              os.path.join(OUT, "model-phi3.safetensors"))
    out = run(model, pixels)
    assert len(out.hidden_states) == cfg.num_hidden_layers + 1
    # hidden_states[0] is the pre_layrnorm output (what the tower's layers start from)
    tower = model.double()
    tower = getattr(tower, "vision_model", tower)
    with torch.no_grad():
        emb = tower.pre_layrnorm(tower.embeddings(torch.from_numpy(pixels).double()))
    model.float()
    assert torch.equal(emb, out.hidden_states[0])
    for i, h in enumerate(out.hidden_states):
        write(f"quick_gelu.hidden_{i}", h.numpy(), index)
    write("quick_gelu.pooled", out.pooler_output.numpy(), index)

    cfg2, model2 = build("gelu", 2)
    with open(os.path.join(OUT, "gelu.json"), "w") as f:
        json.dump({"vision_config": cfg2.to_dict()}, f, indent=1, sort_keys=True)
    state2 = tower_state(model2)
    save_file({f"vision_tower.vision_model.{k}": v for k, v in state2.items()}, os.path.join(OUT, "gelu.safetensors"))
    out2 = run(model2, pixels)
    write("gelu.hidden_2", out2.hidden_states[2].numpy(), index)

    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump({"arrays": index}, f, indent=1, sort_keys=True)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
