"""PyTorch CPU baseline for bench/engine-blocks.ts (run by it through child_process; not a test).

Times transformers' own Qwen2VLDecoderLayer (SDPA attention, float32) at the width of
Qwen2-VL-2B: forward (torch.no_grad), inference (torch.inference_mode, the embedder's situation),
forward+backward (grads of every parameter and the input) and LoRA forward+backward (peft adapters
on q, k, v, o, down_proj; frozen base). Wall and process CPU time per rep.

Usage: tools/reference/.venv/bin/python bench/engine-blocks.torch.py '{"threads":2,"batch":4,"seq":512,...}'
Prints one JSON line: {"forward_ms": [...], "inference_ms": [...], "forward_backward_ms": [...],
"<name>_cpu_ms": [...], ...}. Optional "cases": ["forward", "inference", "forward_backward"].
With "serve": true it prints {"ready": true, "torch": ..., "threads": ...}, then times one run of
each case named on a stdin line and answers {"ms": ..., "cpu_ms": ...} (an empty line ends it).
"""

import json
import sys
import time

import torch
from transformers.models.qwen2_vl import modeling_qwen2_vl as M
from transformers.models.qwen2_vl.configuration_qwen2_vl import Qwen2VLTextConfig


def main() -> None:
    a = json.loads(sys.argv[1])
    torch.set_num_threads(a["threads"])
    torch.manual_seed(0)
    cfg = Qwen2VLTextConfig(hidden_size=a["hidden"], intermediate_size=a["intermediate"], num_hidden_layers=1,
                            num_attention_heads=a["heads"], num_key_value_heads=a["kvHeads"], rms_norm_eps=1e-6,
                            vocab_size=151936,
                            rope_parameters={"rope_type": "default", "rope_theta": 1e6,
                                             "mrope_section": a["mropeSection"]})
    cfg._attn_implementation = "sdpa"
    layer = M.Qwen2VLDecoderLayer(cfg, 0).eval()
    rot = M.Qwen2VLRotaryEmbedding(cfg)
    B, T = a["batch"], a["seq"]
    x = torch.randn(B, T, a["hidden"])
    pos = torch.arange(T)[None, None, :].expand(3, B, T)
    cos, sin = rot(x, pos)
    # A plain causal batch (no padding): SDPA's is_causal fast path, as transformers takes it.
    kwargs = dict(attention_mask=None, position_embeddings=(cos, sin))

    def fwd():
        with torch.no_grad():
            return layer(x, **kwargs)

    def inference():
        with torch.inference_mode():
            return layer(x, **kwargs)

    def fwd_bwd():
        xl = x.detach().requires_grad_(True)
        out = layer(xl, **kwargs)
        out.backward(torch.ones_like(out))
        for p in layer.parameters():
            p.grad = None

    lora_layer = None

    def lora_fwd_bwd():
        # VLM2Vec's training situation: frozen base weights, trainable rank-r adapters (peft LoRA
        # on q, k, v, o, down_proj, dropout 0 so both sides compute the same thing).
        nonlocal lora_layer
        if lora_layer is None:
            import copy
            from peft import LoraConfig, inject_adapter_in_model
            lora_layer = copy.deepcopy(layer).train()
            lora_layer.requires_grad_(False)
            cfg_l = LoraConfig(r=a["loraRank"], lora_alpha=2 * a["loraRank"], lora_dropout=0.0,
                               target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "down_proj"])
            lora_layer = inject_adapter_in_model(cfg_l, lora_layer)
            for n, p in lora_layer.named_parameters():
                if "lora_B" in n:  # peft starts B at zero; any values time the same, nonzero is realistic
                    torch.nn.init.normal_(p, std=0.02)
        xl = x.detach().requires_grad_(True)
        out = lora_layer(xl, **kwargs)
        out.backward(torch.ones_like(out))
        for p in lora_layer.parameters():
            p.grad = None

    fns = {"forward": fwd, "inference": inference, "forward_backward": fwd_bwd, "lora_forward_backward": lora_fwd_bwd}
    info = {"threads": torch.get_num_threads(), "torch": torch.__version__}

    def timed(fn):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        return {"ms": (time.perf_counter() - t0) * 1000, "cpu_ms": (time.process_time() - c0) * 1000}

    if a.get("serve"):
        # Paired mode: one JSON line per case name read from stdin, so the caller can alternate
        # single reps of ours and PyTorch and both sides see the same machine conditions.
        print(json.dumps({"ready": True, **info}), flush=True)
        for line in sys.stdin:
            name = line.strip()
            if not name:
                break
            print(json.dumps(timed(fns[name])), flush=True)
        return
    res = dict(info)
    for name in a.get("cases", list(fns)):
        fn = fns[name]
        for _ in range(a["warmup"]):
            fn()
        runs = [timed(fn) for _ in range(a["reps"])]
        res[name + "_ms"] = [r["ms"] for r in runs]
        res[name + "_cpu_ms"] = [r["cpu_ms"] for r in runs]
    print(json.dumps(res))


if __name__ == "__main__":
    main()
