"""PyTorch CPU baseline for bench/engine-blocks.ts (run by it through child_process; not a test).

Times transformers' own Qwen2VLDecoderLayer (SDPA attention, float32) at the width of
Qwen2-VL-2B: forward (torch.no_grad), inference (torch.inference_mode, the embedder's situation)
and forward+backward (grads of every parameter and the input). Wall and process CPU time per rep.

Usage: /work/refenv/bin/python bench/engine-blocks.torch.py '{"threads":2,"batch":4,"seq":512,...}'
Prints one JSON line: {"forward_ms": [...], "inference_ms": [...], "forward_backward_ms": [...],
"<name>_cpu_ms": [...], ...}. Optional "cases": ["forward", "inference", "forward_backward"].
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

    res = {"threads": torch.get_num_threads(), "torch": torch.__version__}
    fns = {"forward": fwd, "inference": inference, "forward_backward": fwd_bwd}
    for name in a.get("cases", list(fns)):
        fn = fns[name]
        for _ in range(a["warmup"]):
            fn()
        times, cpu = [], []
        for _ in range(a["reps"]):
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            times.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
        res[name + "_ms"] = times
        res[name + "_cpu_ms"] = cpu
    print(json.dumps(res))


if __name__ == "__main__":
    main()
