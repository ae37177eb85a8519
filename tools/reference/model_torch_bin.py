"""Fixtures for reading base-model weights saved by torch.save (`pytorch_model.bin`), the format
transformers 4.x wrote with `save_pretrained(..., safe_serialization=False)` (the default before
4.35) and that older fine-tuned checkpoints still ship.

transformers 5.x can no longer write that format, so this script writes it the way 4.x did
(`modeling_utils.save_pretrained` + `shard_checkpoint`): each shard is `torch.save(dict)` of the
shard's tensors, named `pytorch_model-0000i-of-0000n.bin`, listed by `pytorch_model.bin.index.json`
= {"metadata": {"total_size": bytes}, "weight_map": {name: shard}}.

Source: the float32 tiny Qwen2-VL of test/fixtures/model/fp16 (model_qwen2vl_fp16.py), loaded by
transformers 5.18, so the expected values are that folder's model.safetensors and its fp32
reference outputs.

Output under test/fixtures/model/fp16-torch/ (~0.4 MB; a sibling of fp16/, which its own script
deletes and rewrites):
  sharded/  config.json + 3 shards + index; keys in the flat 4.x layout (`model.layers.*`,
            `visual.*`), tied `lm_head.weight` dropped as 4.x did.
  single/   config.json + one `pytorch_model.bin` = torch.save(model.state_dict()) with the 5.x
            keys, so `lm_head.weight` is saved as a second view of the embedding storage.
Regenerate from the repository root, after model_qwen2vl_fp16.py (deterministic):
    tools/reference/.venv/bin/python tools/reference/model_torch_bin.py
"""

import json
import os
import shutil

import torch
from transformers import Qwen2VLForConditionalGeneration

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SRC = os.path.join(ROOT, "test", "fixtures", "model", "fp16")
OUT = os.path.join(ROOT, "test", "fixtures", "model", "fp16-torch")


def flat_4x(name):
    """5.x state-dict key -> the 4.x checkpoint key."""
    if name.startswith("model.visual."):
        return name[len("model."):]
    if name.startswith("model.language_model."):
        return "model." + name[len("model.language_model."):]
    return name


def main():
    model = Qwen2VLForConditionalGeneration.from_pretrained(SRC, torch_dtype=torch.float32).eval()
    sd = model.state_dict()
    assert sd["lm_head.weight"].data_ptr() == sd["model.language_model.embed_tokens.weight"].data_ptr()

    out = os.path.join(OUT, "sharded")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    shutil.copy(os.path.join(SRC, "config.json"), out)
    items = [(flat_4x(k), v.contiguous().clone()) for k, v in sd.items() if k != "lm_head.weight"]
    n = 3
    shards = [dict() for _ in range(n)]
    for i, (k, v) in enumerate(items):
        shards[i * n // len(items)][k] = v
    weight_map, total = {}, 0
    for i, shard in enumerate(shards):
        fname = f"pytorch_model-{i + 1:05d}-of-{n:05d}.bin"
        torch.save(shard, os.path.join(out, fname))
        for k, v in shard.items():
            weight_map[k] = fname
            total += v.numel() * v.element_size()
    with open(os.path.join(out, "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2, sort_keys=True)
        f.write("\n")

    single = os.path.join(OUT, "single")
    shutil.rmtree(single, ignore_errors=True)
    os.makedirs(single)
    shutil.copy(os.path.join(SRC, "config.json"), single)
    torch.save(sd, os.path.join(single, "pytorch_model.bin"))
    print(f"wrote {out} ({len(items)} tensors in {n} shards) and {single} ({len(sd)} tensors)")


if __name__ == "__main__":
    main()
