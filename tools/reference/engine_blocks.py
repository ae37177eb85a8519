"""Golden fixtures for src/nn (compositions, Qwen2-VL decoder layer, Qwen2-VL ViT block).

Regenerate (from the repo root; needs the reference venv, never needed by the tests):

    tools/reference/.venv/bin/python tools/reference/engine_blocks.py

Writes test/fixtures/engine/blocks/{compositions,qwen2_decoder,qwen2_vision}.{json,bin}.

Everything is PyTorch CPU float32 with fixed seeds, one thread. The decoder layer and the vision
block are transformers' own modules (Qwen2VLDecoderLayer, Qwen2VLVisionBlock, their rotary
embeddings and mask builder, eager attention) built from tiny configs, so the goldens are the
reference's and not a re-implementation of it.

File format (shared by every group): `<group>.bin` is the concatenation of little-endian tensors;
`<group>.json` is
    {"format": "vlm2vec-golden-v1", "torch": ..., "transformers": ...,
     "cases": {case: {"attrs": {...}, "tensors": {name: {"dtype": "float32"|"int32",
                                                          "shape": [...], "offset": bytes}}}}}
Tensor names: inputs by their argument name (`x`, `q`, `weight`), `out` for the forward output,
`cotangent` for the random output cotangent, `grad.<input>` for the vector-Jacobian product
w.r.t. that input. Block parameters use checkpoint names (`params.self_attn.q_proj.weight`,
`grad.self_attn.q_proj.weight`).
"""

from __future__ import annotations

import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
import transformers
from transformers.masking_utils import create_causal_mask
from transformers.models.qwen2_vl import modeling_qwen2_vl as M
from transformers.models.qwen2_vl.configuration_qwen2_vl import Qwen2VLTextConfig, Qwen2VLVisionConfig
from transformers.vision_utils import get_vision_position_ids

torch.set_num_threads(1)
torch.set_default_dtype(torch.float32)

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT_DIR = os.path.join(ROOT, "test", "fixtures", "engine", "blocks")


class Group:
    """Collects named tensors per case and writes them as one .bin + one .json index."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.cases: dict[str, dict] = {}
        self.chunks: list[bytes] = []
        self.offset = 0

    def case(self, name: str, tensors: dict[str, torch.Tensor], attrs: dict | None = None) -> None:
        assert name not in self.cases, name
        index = {}
        for key, t in tensors.items():
            t = t.detach()
            if t.dtype.is_floating_point:
                arr, dtype = t.to(torch.float32).contiguous().numpy().astype("<f4"), "float32"
            else:
                arr, dtype = t.to(torch.int32).contiguous().numpy().astype("<i4"), "int32"
            raw = arr.tobytes()
            index[key] = {"dtype": dtype, "shape": list(t.shape), "offset": self.offset}
            self.chunks.append(raw)
            self.offset += len(raw)
        self.cases[name] = {"attrs": attrs or {}, "tensors": index}

    def write(self) -> None:
        os.makedirs(OUT_DIR, exist_ok=True)
        with open(os.path.join(OUT_DIR, f"{self.name}.bin"), "wb") as f:
            for c in self.chunks:
                f.write(c)
        meta = {
            "format": "vlm2vec-golden-v1",
            "generator": "tools/reference/engine_blocks.py",
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "cases": self.cases,
        }
        with open(os.path.join(OUT_DIR, f"{self.name}.json"), "w") as f:
            json.dump(meta, f, indent=1)
        print(f"{self.name}: {len(self.cases)} cases, {self.offset / 1024:.0f} KiB")


def vjp_case(group: Group, name: str, fn, inputs: dict[str, torch.Tensor], consts=None, attrs=None,
             cotangent_mask: torch.Tensor | None = None) -> None:
    """Runs fn(**inputs, **consts), draws a random cotangent and stores out + grads w.r.t. inputs."""
    leaves = {k: v.detach().clone().requires_grad_(True) for k, v in inputs.items()}
    out = fn(**leaves, **(consts or {}))
    cot = torch.randn_like(out)
    if cotangent_mask is not None:
        cot = cot * cotangent_mask
    grads = torch.autograd.grad(out, list(leaves.values()), cot, allow_unused=False)
    tensors = dict(inputs)
    tensors.update(consts_tensors(consts))
    tensors["out"] = out
    tensors["cotangent"] = cot
    for k, g in zip(leaves, grads):
        tensors[f"grad.{k}"] = g
    group.case(name, tensors, attrs)


def consts_tensors(consts) -> dict[str, torch.Tensor]:
    return {k: v for k, v in (consts or {}).items() if isinstance(v, torch.Tensor)}


# ----------------------------------------------------------------------------- compositions

def rope_1d_ref(x, positions, theta):
    # LLaMA / NeoX rotate-half convention: pairs (i, i + D/2), angles tiled as [ang, ang].
    d = x.shape[-1]
    inv_freq = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=torch.float32) / d))
    ang = positions.to(torch.float32)[..., None] * inv_freq  # [B, T, D/2]
    emb = torch.cat([ang, ang], dim=-1)[:, None]  # [B, 1, T, D]
    return x * emb.cos() + M.rotate_half(x) * emb.sin()


def mrope_ref(x, position_ids, theta, sections):
    d = x.shape[-1]
    cfg = Qwen2VLTextConfig(hidden_size=d, num_attention_heads=1, num_key_value_heads=1, vocab_size=8,
                            bos_token_id=None, eos_token_id=None,
                            rope_parameters={"rope_type": "default", "rope_theta": theta,
                                             "mrope_section": sections})
    rot = M.Qwen2VLRotaryEmbedding(cfg)
    cos, sin = rot(x, position_ids)  # [B, T, D]
    q, _ = M.apply_rotary_pos_emb(x, x, cos, sin)
    return q


def vision_rope_ref(x, pos_hw, theta):
    d = x.shape[-1] * 1  # head_dim
    vc = Qwen2VLVisionConfig(depth=1, embed_dim=d, num_heads=1, rope_parameters={"rope_type": "axial",
                                                                                 "rope_theta": theta})
    rot = M.Qwen2VLVisionRotaryEmbedding(vc)
    cos, sin = rot(x, pos_hw)  # [N, D]
    q, _ = M.apply_rotary_pos_emb_vision(x, x, cos, sin)
    return q


def segment_mask(cu_seqlens, n):
    seg = torch.zeros(n, dtype=torch.long)
    for i in range(1, len(cu_seqlens) - 1):
        seg[cu_seqlens[i]:] += 1
    return seg[:, None] == seg[None, :]


def compositions() -> Group:
    g = Group("compositions")
    torch.manual_seed(1234)
    x = torch.randn(2, 3, 5) * 2.0
    vjp_case(g, "softmax", lambda x: torch.softmax(x, dim=-1), {"x": x}, attrs={"axis": -1})
    vjp_case(g, "softmax_axis1", lambda x: torch.softmax(x, dim=1), {"x": x}, attrs={"axis": 1})
    vjp_case(g, "log_softmax", lambda x: torch.log_softmax(x, dim=-1), {"x": x}, attrs={"axis": -1})

    x = torch.randn(2, 3, 8) * 1.5 + 0.3
    w = 1.0 + 0.2 * torch.randn(8)
    b = 0.1 * torch.randn(8)
    vjp_case(g, "layer_norm", lambda x, weight, bias: F.layer_norm(x, (8,), weight, bias, eps=1e-6),
             {"x": x, "weight": w, "bias": b}, attrs={"eps": 1e-6})
    rms = M.Qwen2VLRMSNorm(8, eps=1e-6)

    def rms_norm(x, weight):
        # Same arithmetic as Qwen2VLRMSNorm.forward (float32 in, float32 out).
        var = x.pow(2).mean(-1, keepdim=True)
        return weight * (x * torch.rsqrt(var + 1e-6))

    # Cross-check the hand-written form against the transformers module before storing it.
    with torch.no_grad():
        rms.weight.copy_(w)
        assert torch.equal(rms(x), rms_norm(x, w))
    vjp_case(g, "rms_norm", rms_norm, {"x": x, "weight": w}, attrs={"eps": 1e-6})

    x = torch.randn(4, 7) * 2.5
    vjp_case(g, "gelu", lambda x: F.gelu(x), {"x": x})
    vjp_case(g, "quick_gelu", lambda x: transformers.activations.ACT2FN["quick_gelu"](x), {"x": x})
    vjp_case(g, "silu", lambda x: F.silu(x), {"x": x})

    # Rotary: 1-D (LLaMA positions, theta 1e6), M-RoPE sections [2,3,3] on head_dim 16
    # ([16,24,24] scaled down by 8), and the vision 2-D rope (theta 1e4).
    q = torch.randn(2, 3, 5, 8)
    pos = torch.tensor([[0, 1, 2, 3, 4], [1, 1, 0, 1, 2]]) + torch.tensor([[0], [300]])
    vjp_case(g, "rope_1d", lambda x, positions: rope_1d_ref(x, positions, 1e6), {"x": q},
             consts={"positions": pos}, attrs={"theta": 1e6})
    q = torch.randn(2, 3, 6, 16)
    pos3 = torch.stack([
        torch.tensor([[0, 1, 2, 2, 2, 2], [3, 4, 5, 5, 5, 5]]),
        torch.tensor([[0, 1, 2, 2, 3, 3], [3, 4, 5, 6, 5, 6]]),
        torch.tensor([[0, 1, 2, 3, 2, 3], [3, 4, 5, 5, 7, 7]]),
    ])  # [3, B, T]
    vjp_case(g, "mrope", lambda x, position_ids: mrope_ref(x, position_ids, 1e6, [2, 3, 3]), {"x": q},
             consts={"position_ids": pos3}, attrs={"theta": 1e6, "sections": [2, 3, 3]})
    # The real Qwen2-VL-2B layouts: head_dim 128 with sections [16, 24, 24], large positions.
    q = torch.randn(1, 2, 5, 128)
    pos3 = torch.stack([
        torch.tensor([[7, 8, 8, 8, 900]]),
        torch.tensor([[7, 8, 8, 9, 901]]),
        torch.tensor([[7, 8, 9, 8, 902]]),
    ])
    vjp_case(g, "mrope_hd128", lambda x, position_ids: mrope_ref(x, position_ids, 1e6, [16, 24, 24]), {"x": q},
             consts={"position_ids": pos3}, attrs={"theta": 1e6, "sections": [16, 24, 24]})
    grid = torch.tensor([[1, 4, 6]])
    pos_hw = get_vision_position_ids(grid, 2)
    q = torch.randn(pos_hw.shape[0], 1, 80)
    vjp_case(g, "vision_rope_hd80", lambda x, position_ids: vision_rope_ref(x, position_ids, 1e4), {"x": q},
             consts={"position_ids": pos_hw}, attrs={"theta": 1e4})
    grid = torch.tensor([[1, 4, 4], [2, 2, 2]])
    pos_hw = get_vision_position_ids(grid, 2)  # [N, 2]
    q = torch.randn(pos_hw.shape[0], 2, 16)  # [N, H, D]
    vjp_case(g, "vision_rope", lambda x, position_ids: vision_rope_ref(x, position_ids, 1e4), {"x": q},
             consts={"position_ids": pos_hw}, attrs={"theta": 1e4})

    # Attention (PyTorch's own SDPA, math backend on CPU).
    q = torch.randn(2, 4, 6, 8)
    k = torch.randn(2, 2, 6, 8)
    v = torch.randn(2, 2, 6, 8)
    vjp_case(g, "attention_causal_gqa",
             lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True),
             {"q": q, "k": k, "v": v}, attrs={"causal": True})
    k = torch.randn(2, 4, 6, 8)
    v = torch.randn(2, 4, 6, 8)
    key_mask = torch.tensor([[1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1]])  # left-padded row 1
    vjp_case(g, "attention_padding",
             lambda q, k, v, attention_mask: F.scaled_dot_product_attention(
                 q, k, v, attn_mask=attention_mask.bool()[:, None, None, :]),
             {"q": q, "k": k, "v": v}, consts={"attention_mask": key_mask}, attrs={"causal": False})
    q = torch.randn(1, 2, 9, 8)
    k = torch.randn(1, 2, 9, 8)
    v = torch.randn(1, 2, 9, 8)
    cu = torch.tensor([0, 4, 9])
    vjp_case(g, "attention_segments",
             lambda q, k, v, cu_seqlens: F.scaled_dot_product_attention(
                 q, k, v, attn_mask=segment_mask(cu_seqlens.tolist(), 9)),
             {"q": q, "k": k, "v": v}, consts={"cu_seqlens": cu}, attrs={"causal": False})

    x = torch.randn(2, 3, 5)
    vjp_case(g, "linear", lambda x, weight, bias: F.linear(x, weight, bias),
             {"x": x, "weight": torch.randn(4, 5) * 0.5, "bias": torch.randn(4) * 0.1})
    vjp_case(g, "linear_nobias", lambda x, weight: F.linear(x, weight),
             {"x": x, "weight": torch.randn(4, 5) * 0.5})

    logits = torch.randn(6, 10) * 3.0
    targets = torch.tensor([3, 0, 9, -100, 5, 3])
    vjp_case(g, "cross_entropy", lambda logits, targets: F.cross_entropy(logits, targets, ignore_index=-100),
             {"logits": logits}, consts={"targets": targets}, attrs={"ignore_index": -100})

    x = torch.randn(4, 6)
    x[2] *= 1e-3
    vjp_case(g, "l2_normalize", lambda x: F.normalize(x, p=2, dim=-1, eps=1e-12), {"x": x},
             attrs={"eps": 1e-12})

    table = torch.randn(10, 6)
    ids = torch.tensor([[1, 4, 4, 9], [0, 1, 7, 4]])
    vjp_case(g, "embedding", lambda weight, ids: F.embedding(ids, weight), {"weight": table},
             consts={"ids": ids})
    return g


# ----------------------------------------------------------------------------- blocks

def randomize(module: torch.nn.Module) -> None:
    """Replaces default inits (ones/zeros norms, zero biases) so every parameter matters."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("layernorm.weight") or (name.startswith("norm") and name.endswith("weight")):
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn_like(p))
            else:
                p.copy_(torch.randn_like(p) / math.sqrt(p.shape[-1]))


def block_case(g: Group, name: str, module: torch.nn.Module, x: torch.Tensor, run, extra: dict,
               attrs: dict, cot_mask: torch.Tensor | None = None) -> None:
    params = dict(module.named_parameters())
    xl = x.clone().requires_grad_(True)
    out = run(xl)
    cot = torch.randn_like(out)
    if cot_mask is not None:
        cot = cot * cot_mask
    grads = torch.autograd.grad(out, [xl, *params.values()], cot)
    tensors = {"x": x}
    tensors.update(extra)
    for k, p in params.items():
        tensors[f"params.{k}"] = p
    tensors["out"] = out
    tensors["cotangent"] = cot
    tensors["grad.x"] = grads[0]
    for k, gr in zip(params, grads[1:]):
        tensors[f"grad.{k}"] = gr
    g.case(name, tensors, attrs)


def qwen2_decoder() -> Group:
    g = Group("qwen2_decoder")
    torch.manual_seed(2024)
    sections = [2, 1, 1]  # sums to head_dim / 2 = 4, like [16, 24, 24] for head_dim 128
    cfg = Qwen2VLTextConfig(hidden_size=96, intermediate_size=160, num_hidden_layers=1, num_attention_heads=12,
                            num_key_value_heads=2, rms_norm_eps=1e-6, vocab_size=32, bos_token_id=None,
                            eos_token_id=None,
                            rope_parameters={"rope_type": "default", "rope_theta": 1e6, "mrope_section": sections})
    cfg._attn_implementation = "eager"
    layer = M.Qwen2VLDecoderLayer(cfg, 0)
    randomize(layer)
    rot = M.Qwen2VLRotaryEmbedding(cfg)
    B, T = 2, 7
    x = torch.randn(B, T, 96)
    attention_mask = torch.tensor([[1] * 7, [0, 0] + [1] * 5])  # row 1 left-padded
    # Row 0: text, a 1x2x2 "vision" block (t, h, w differ), text; row 1: pads (position 1, as
    # get_rope_index sets them) then text 0..4. Exercises every M-RoPE section.
    position_ids = torch.stack([
        torch.tensor([[0, 1, 2, 2, 2, 2, 4], [1, 1, 0, 1, 2, 3, 4]]),
        torch.tensor([[0, 1, 2, 2, 3, 3, 4], [1, 1, 0, 1, 2, 3, 4]]),
        torch.tensor([[0, 1, 2, 3, 2, 3, 4], [1, 1, 0, 1, 2, 3, 4]]),
    ])  # [3, B, T]
    mask = create_causal_mask(config=cfg, inputs_embeds=x, attention_mask=attention_mask,
                              past_key_values=None, position_ids=None)
    cos, sin = rot(x, position_ids)

    def run(h):
        return layer(h, attention_mask=mask, position_embeddings=(cos, sin))

    # Pad query rows attend to nothing (eager gives a uniform average there); their outputs are
    # meaningless, so their cotangent is zero and tests compare real rows only.
    valid = attention_mask[:, :, None].to(torch.float32)
    block_case(g, "decoder_layer", layer, x, run,
               {"attention_mask": attention_mask, "position_ids": position_ids, "cos": cos, "sin": sin},
               {"hidden_size": 96, "intermediate_size": 160, "num_attention_heads": 12,
                "num_key_value_heads": 2, "head_dim": 8, "rms_norm_eps": 1e-6, "rope_theta": 1e6,
                "mrope_section": sections, "attn_implementation": "eager",
                "note": "compare out only where attention_mask == 1; cotangent is zero on pad rows"},
               cot_mask=valid)
    return g


def qwen2_vision() -> Group:
    g = Group("qwen2_vision")
    torch.manual_seed(77)
    vc = Qwen2VLVisionConfig(depth=1, embed_dim=64, hidden_size=48, num_heads=4, mlp_ratio=4,
                             rope_parameters={"rope_type": "axial", "rope_theta": 10000.0})
    vc._attn_implementation = "eager"
    block = M.Qwen2VLVisionBlock(vc)
    randomize(block)
    rot = M.Qwen2VLVisionRotaryEmbedding(vc)
    grid = torch.tensor([[1, 4, 4], [1, 2, 4]])  # two images -> two attention segments
    pos_hw = get_vision_position_ids(grid, 2)  # [N, 2]
    cu_seqlens = torch.tensor([0, 16, 24], dtype=torch.int32)
    n = int(cu_seqlens[-1])
    x = torch.randn(n, 64)
    cos, sin = rot(x, pos_hw)  # [N, head_dim]

    def run(h):
        return block(h, cu_seqlens=cu_seqlens, position_embeddings=(cos, sin))

    block_case(g, "vision_block", block, x, run,
               {"grid_thw": grid, "position_ids": pos_hw, "cu_seqlens": cu_seqlens, "cos": cos, "sin": sin},
               {"embed_dim": 64, "num_heads": 4, "head_dim": 16, "mlp_hidden": 256, "layer_norm_eps": 1e-6,
                "rope_theta": 10000.0, "spatial_merge_size": 2, "hidden_act": "quick_gelu",
                "attn_implementation": "eager"})
    return g


def main() -> None:
    for group in (compositions(), qwen2_decoder(), qwen2_vision()):
        group.write()


if __name__ == "__main__":
    sys.exit(main())
