"""Golden fixtures for the float16 weight option of src/models/qwen2-vl (issue 5, `dtype: 'float16'`).

One tiny random Qwen2-VL (vocab 256, special ids 250-254, text hidden 24, 4 heads / 2 KV heads,
2 layers; vision embed 16, 2 heads, depth 2) whose weights are stored as FLOAT32 safetensors, so
rounding them to float16 changes them (the bf16 fixtures of model_qwen2vl.py are exactly
representable in float16 and could not tell the paths apart). Inputs are built directly (ids
below 250, random patch values) because the processor is not under test here: a batch of a
text-only row, an image row (grid [1, 4, 6]) and a video row (grid [2, 4, 4]), left padded, with
VLM2Vec's explicit 1-D position_ids (real tokens 0..n-1, pads at 1).

Three transformers 5.18 runs of the same batch (eager attention, CPU, 1 thread):
  fp32         the float32 model.
  half_weights every parameter rounded to float16 and run in float32 (`p.half().float()`; rotary
               inv_freq buffers untouched) — what our float16 option computes: float16-held
               weights, float32 math.
  half         `model.half()` run on CPU in float16 (PyTorch 2.13 CPU has float16 kernels for
               every op used here; pixel values cast to float16 as well), outputs widened to f32.
               Activations are rounded to float16 between ops here, so this is the loose check.
Each stores last-token hidden states (final-norm output) and their L2-normalized embeddings.

Output: test/fixtures/model/fp16/{config.json, model.safetensors, cases.json, *.bin} (~0.2 MB).
Regenerate from the repository root (deterministic, seeds fixed; a few seconds):
    tools/reference/.venv/bin/python tools/reference/model_qwen2vl_fp16.py
"""

import copy
import json
import os
import shutil
import sys

import numpy as np
import torch
from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model_qwen2vl import randomize  # noqa: E402  (the same weight recipe, without the bf16 rounding)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "test", "fixtures", "model", "fp16")
torch.set_num_threads(1)

VOCAB, PAD_ID, IMAGE_ID, VIDEO_ID, VSTART_ID, VEND_ID = 256, 249, 250, 251, 252, 253
PATCH = 3 * 2 * 14 * 14


def make_model():
    cfg = Qwen2VLConfig(
        text_config=dict(
            vocab_size=VOCAB, hidden_size=24, intermediate_size=48, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-6,
            max_position_embeddings=4096, tie_word_embeddings=True,
            rope_parameters={"rope_type": "default", "mrope_section": [1, 1, 1], "rope_theta": 1000000.0},
        ),
        vision_config=dict(depth=2, embed_dim=16, num_heads=2, mlp_ratio=2, hidden_size=24,
                           in_channels=3, patch_size=14, temporal_patch_size=2, spatial_merge_size=2),
        image_token_id=IMAGE_ID, video_token_id=VIDEO_ID, vision_start_token_id=VSTART_ID,
        vision_end_token_id=VEND_ID, tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    model = Qwen2VLForConditionalGeneration(cfg).eval()
    # O(1) signal as in model_qwen2vl.py, but left in float32 (no bf16 rounding).
    randomize(model, 7, round_bf16=False)
    model.set_attn_implementation("eager")
    return model


def make_batch():
    rng = np.random.default_rng(11)
    text = list(rng.integers(0, 240, size=7))
    image = list(rng.integers(0, 240, size=3)) + [IMAGE_ID] * 6 + list(rng.integers(0, 240, size=4))
    video = list(rng.integers(0, 240, size=2)) + [VIDEO_ID] * 8 + list(rng.integers(0, 240, size=3))
    rows = [text, image, video]
    L = max(len(r) for r in rows)
    ids = np.full((3, L), PAD_ID, dtype=np.int64)
    mask = np.zeros((3, L), dtype=np.int64)
    for b, r in enumerate(rows):
        ids[b, L - len(r):] = r
        mask[b, L - len(r):] = 1
    pos = np.where(mask == 1, np.cumsum(mask, 1) - 1, 1).astype(np.int64)
    pv = rng.normal(0, 1, size=(24, PATCH)).astype(np.float32)
    vv = rng.normal(0, 1, size=(32, PATCH)).astype(np.float32)
    return dict(ids=ids, mask=mask, pos=pos, pv=pv, pg=np.array([[1, 4, 6]], np.int64), vv=vv,
                vg=np.array([[2, 4, 4]], np.int64))


def run(model, batch, dtype):
    t = lambda x: torch.from_numpy(x)
    with torch.no_grad():
        out = model(input_ids=t(batch["ids"]), attention_mask=t(batch["mask"]), position_ids=t(batch["pos"]),
                    pixel_values=t(batch["pv"]).to(dtype), image_grid_thw=t(batch["pg"]),
                    pixel_values_videos=t(batch["vv"]).to(dtype), video_grid_thw=t(batch["vg"]),
                    output_hidden_states=True, use_cache=False)
    last = out.hidden_states[-1][:, -1]  # left padded: every row ends with a real token
    assert last.dtype == dtype, last.dtype
    last = last.float()
    emb = torch.nn.functional.normalize(last, dim=-1)
    return last.numpy().astype(np.float32), emb.numpy().astype(np.float32)


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    model = make_model()
    model.save_pretrained(OUT)  # float32 safetensors, nested 5.x config
    for f in ("generation_config.json",):
        if os.path.exists(os.path.join(OUT, f)):
            os.remove(os.path.join(OUT, f))
    batch = make_batch()

    half_weights = copy.deepcopy(model)
    with torch.no_grad():
        for p in half_weights.parameters():
            p.copy_(p.half().float())
    half = copy.deepcopy(model).half()

    index = {"generator": "tools/reference/model_qwen2vl_fp16.py", "arrays": {}}

    def save(key, a, dtype):
        a = np.ascontiguousarray(a, dtype=dtype)
        with open(os.path.join(OUT, f"{key}.bin"), "wb") as fh:
            fh.write(a.tobytes())
        index["arrays"][key] = {"file": f"{key}.bin", "dtype": "float32" if dtype == np.float32 else "int64",
                                "shape": list(a.shape)}

    for key, dt in [("ids", np.int64), ("mask", np.int64), ("pos", np.int64), ("pv", np.float32), ("pg", np.int64),
                    ("vv", np.float32), ("vg", np.int64)]:
        save(key, batch[key], dt)
    for name, m, dt in [("fp32", model, torch.float32), ("half_weights", half_weights, torch.float32),
                        ("half", half, torch.float16)]:
        h, e = run(m, batch, dt)
        save(f"{name}.last_hidden", h, np.float32)
        save(f"{name}.embedding", e, np.float32)
    with open(os.path.join(OUT, "cases.json"), "w") as fh:
        json.dump(index, fh, indent=1)
    ref = np.fromfile(os.path.join(OUT, "fp32.last_hidden.bin"), np.float32)
    for name in ("half_weights", "half"):
        got = np.fromfile(os.path.join(OUT, f"{name}.last_hidden.bin"), np.float32)
        print(f"{name} vs fp32: max|d| {np.abs(got - ref).max():.3g}")


if __name__ == "__main__":
    main()
