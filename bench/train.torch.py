"""PyTorch + peft baseline for bench/train.ts (run by it through child_process; not a test).

One VLM2Vec training step as the reference runs it (TIGER-AI-Lab/VLM2Vec src/grad_cache/ and
src/trainer.py), re-stated here: GradCache over query and target chunks (pass 1 without gradient,
each chunk's RNG state saved as the reference's RandContext does; InfoNCE over all reps and its
gradient w.r.t. the reps; pass 2 replays each chunk with its saved RNG state and back-propagates
the cached rep gradients), clip_grad_norm_ 1.0, torch AdamW, constant schedule. The model is
Qwen2VLForConditionalGeneration at Qwen2-VL-2B's widths and the given depth (random weights,
float32) with peft DoRA (use_dora, init_lora_weights "gaussian") on the reference's default
lora_target_modules. Reps are the last token's final hidden state, L2-normalized; the inner
Qwen2VLModel is called, without the LM head whose logits the reference's encoder computes and
never uses (that would only make PyTorch slower).

Usage: python bench/train.torch.py '{"threads":2,"config":{...},"batch":8,"chunk":2,...}'
Prints {"ready": true, "torch": ..., "peft": ..., "trainable": N} after setting up, then runs one
step per "step" line on stdin, answering {"ms": wall, "cpu_ms": process cpu, "loss": ...}; an
empty line ends it with {"peak_rss_mb": ...}.
"""

import json
import resource
import sys
import time

try:  # a torchvision built for another torch breaks `import transformers`; nothing here needs it
    import torchvision  # noqa: F401
except Exception:
    sys.modules["torchvision"] = None

import peft
import torch
import torch.nn.functional as F
from peft import LoraConfig, get_peft_model
from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration


class RandContext:
    """The reference's grad_cache RandContext, CPU only: saves the RNG state, replays it."""

    def __init__(self):
        self.state = torch.get_rng_state()

    def __enter__(self):
        self._fork = torch.random.fork_rng(devices=[])
        self._fork.__enter__()
        torch.set_rng_state(self.state)

    def __exit__(self, *exc):
        self._fork.__exit__(*exc)


def main() -> None:
    a = json.loads(sys.argv[1])
    torch.set_num_threads(a["threads"])
    torch.manual_seed(0)
    cfg = Qwen2VLConfig.from_dict(a["config"])
    base = Qwen2VLForConditionalGeneration(cfg)
    model = get_peft_model(base, LoraConfig(r=a["r"], lora_alpha=a["alpha"], lora_dropout=a["dropout"], use_dora=True,
                                            init_lora_weights="gaussian", target_modules=a["targets"]))
    inner = model.base_model.model.model  # Qwen2VLModel, LoRA layers injected
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-5, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)

    q_ids = torch.tensor(a["query_ids"])
    p_ids = torch.tensor(a["target_ids"])
    grid = torch.tensor([a["grid"]] * q_ids.shape[0])
    patches = a["grid"][0] * a["grid"][1] * a["grid"][2]
    pixels = torch.randn(q_ids.shape[0] * patches, 1176)

    def encode(ids, pv=None, g=None):
        mm = (ids == cfg.image_token_id).long()  # what the processor returns: M-RoPE positions need it
        out = inner(input_ids=ids, attention_mask=torch.ones_like(ids), pixel_values=pv, image_grid_thw=g, mm_token_type_ids=mm,
                    use_cache=False)
        return F.normalize(out.last_hidden_state[:, -1], dim=-1)

    c = a["chunk"]

    def q_chunk(i):
        return q_ids[i:i + c], pixels[i * patches:(i + c) * patches], grid[i:i + c]

    def p_chunk(i):
        return (p_ids[i:i + c],)

    chunks = [(q_chunk, i) for i in range(0, q_ids.shape[0], c)] + [(p_chunk, i) for i in range(0, p_ids.shape[0], c)]

    def step():
        reps, rnds = [], []
        with torch.no_grad():
            for f, i in chunks:
                rnds.append(RandContext())
                reps.append(encode(*f(i)))
        nq = q_ids.shape[0] // c
        q = torch.cat(reps[:nq]).requires_grad_()
        p = torch.cat(reps[nq:]).requires_grad_()
        loss = F.cross_entropy(q @ p.T / a["temperature"], torch.arange(q.shape[0]))
        loss.backward()
        cache = list(q.grad.split(c)) + list(p.grad.split(c))
        for (f, i), rnd, g in zip(chunks, rnds, cache):
            with rnd:
                r = encode(*f(i))
            torch.dot(r.flatten(), g.flatten()).backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad()
        return float(loss)

    print(json.dumps({"ready": True, "torch": torch.__version__, "peft": peft.__version__,
                      "trainable": sum(p.numel() for p in params)}), flush=True)
    def profile():
        out = {}
        for name, f in [("query", q_chunk), ("target", p_chunk)]:
            t0 = time.perf_counter()
            with torch.no_grad():
                encode(*f(0))
            out[f"{name}_forward_run_ms"] = (time.perf_counter() - t0) * 1000
            t0 = time.perf_counter()
            r = encode(*f(0))
            r.sum().mul(1e-3).backward()
            out[f"{name}_vjp_run_ms"] = (time.perf_counter() - t0) * 1000
        opt.zero_grad()
        return out

    for line in sys.stdin:
        if line.strip() == "profile":
            print(json.dumps(profile()), flush=True)
            continue
        if line.strip() != "step":
            break
        t0, c0 = time.perf_counter(), time.process_time()
        loss = step()
        print(json.dumps({"ms": (time.perf_counter() - t0) * 1000, "cpu_ms": (time.process_time() - c0) * 1000, "loss": loss}), flush=True)
    print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}), flush=True)


if __name__ == "__main__":
    main()
