"""Golden fixtures for the weight quantizers of src/models/common/quantize.ts (--dtype int8 | q4 | q4-128).

An independent numpy implementation of the two schemes docs/quantization.md defines, all
arithmetic in float32 with numpy's round-half-to-even (np.rint):

  int8   per output row n of W [N, K]: scale = max|W[n]| / 127 (1 for an all-zero row),
         q = clip(rint(W / scale), -127, 127) as int8, stored transposed [K, N]
         (com.microsoft DynamicQuantizeMatMul's B); dequantized W' = q * scale.
  q4     per row n and block b of `bs` values along K (a ragged last block padded with zeros):
         lo = min(0, block), hi = max(0, block), scale = (hi - lo) / 15 (1 when hi == lo),
         zp = clip(rint(-lo / scale), 0, 15), q = clip(rint(W / scale) + zp, 0, 15);
         packed two per byte, the even element in the low nibble (com.microsoft MatMulNBits' B
         [N, blocks, bs/2]); zero points packed the same way [N, ceil(blocks/2)] (an odd count
         padded with a 0 nibble); dequantized W' = (q - zp) * scale.

Inputs: synthetic matrices with the edge cases (an all-zero row, all-positive and all-negative
rows, exact .5 ties, a ragged last block, K smaller than a block, more rows than one read chunk of
1024) written as float32 .bin files,
and every 2-D linear weight of the float32 tiny model test/fixtures/model/fp16/model.safetensors,
plus its token table model.embed_tokens.weight [256, 24] (quantized tables use the same schemes,
N = rows, K = width: a ragged single block of 24 under q4; int8 tables keep q row-major [N, K],
recorded as `int8_rows`, since they are read by rows).
Outputs: the SHA-256 of each output array's little-endian bytes (q, scales, zero points, the
dequantized [N, K] float32 matrix) plus the first values of each, in cases.json; the test
recomputes them with our quantizer and compares the hashes (exact equality, byte for byte).

Output: test/fixtures/quant/{cases.json, *.bin} (~100 KB). Regenerate from the repository root:
    tools/reference/.venv/bin/python tools/reference/quantize_weights.py
"""

import hashlib
import json
import os

import numpy as np
from safetensors.numpy import load_file

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "test", "fixtures", "quant")
MODEL = os.path.join(ROOT, "test", "fixtures", "model", "fp16", "model.safetensors")
F32 = np.float32


def quantize_int8(w):
    amax = np.abs(w).max(axis=1)
    scale = (amax / F32(127)).astype(F32)
    scale[amax == 0] = F32(1)
    q = np.clip(np.rint(w / scale[:, None]), -127, 127).astype(np.int8)
    deq = (q.astype(F32) * scale[:, None]).astype(F32)
    return {"q": np.ascontiguousarray(q.T), "scales": scale, "dequantized": deq}


def quantize_q4(w, bs):
    n, k = w.shape
    nb = -(-k // bs)
    padded = np.zeros((n, nb * bs), F32)
    padded[:, :k] = w
    blocks = padded.reshape(n, nb, bs)
    lo = np.minimum(blocks.min(axis=2), F32(0))
    hi = np.maximum(blocks.max(axis=2), F32(0))
    scale = ((hi - lo) / F32(15)).astype(F32)
    scale[hi == lo] = F32(1)
    zp = np.clip(np.rint(-lo / scale), 0, 15).astype(F32)
    q = np.clip(np.rint(blocks / scale[:, :, None]) + zp[:, :, None], 0, 15).astype(np.uint8)
    packed = (q[:, :, 0::2] | (q[:, :, 1::2] << 4)).astype(np.uint8)
    zpu = zp.astype(np.uint8)
    if nb % 2:
        zpu = np.concatenate([zpu, np.zeros((n, 1), np.uint8)], axis=1)
    zpp = (zpu[:, 0::2] | (zpu[:, 1::2] << 4)).astype(np.uint8)
    deq = ((q.astype(F32) - zp[:, :, None]) * scale[:, :, None]).astype(F32).reshape(n, nb * bs)[:, :k]
    return {"q": packed, "scales": scale, "zeroPoints": zpp, "dequantized": np.ascontiguousarray(deq)}


def summary(arrays):
    return {name: {"sha256": hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest(), "length": int(a.size),
                   "head": [float(v) if a.dtype == F32 else int(v) for v in a.reshape(-1)[:6]]}
            for name, a in arrays.items()}


def synthetic():
    rng = np.random.default_rng(7)
    mats = {}
    a = rng.standard_normal((6, 80)).astype(F32) * F32(0.05)
    a[1] = 0  # all-zero row
    a[2] = np.abs(a[2])  # all positive: lo = 0
    a[3] = -np.abs(a[3])  # all negative: hi = 0
    a[4, :8] = [127, 2.5, -3.5, 0.5, -0.5, 1.5, 126.5, -127]  # int8 scale 1: exact ties
    a[4, 8:] = 0
    mats["edge"] = a
    mats["ragged"] = (rng.standard_normal((5, 40)) * 0.1).astype(F32)  # K=40: blocks of 32 → 32 + 8
    mats["narrow"] = (rng.standard_normal((7, 12)) * 0.3).astype(F32)  # K=12 < one block
    mats["wide"] = (rng.standard_normal((3, 300)) * 0.02).astype(F32)  # K=300 with blocks of 128: 3 blocks, odd zp count
    mats["tall"] = (rng.standard_normal((1100, 9)) * 0.1).astype(F32)  # N > 1024: the quantizer reads 1024 rows at a time
    return mats


def main():
    os.makedirs(OUT, exist_ok=True)
    cases = []
    for name, w in synthetic().items():
        fname = f"{name}.bin"
        w.tofile(os.path.join(OUT, fname))
        cases.append({"name": name, "file": fname, "shape": list(w.shape), "w": w})
    weights = load_file(MODEL)
    for tname in sorted(weights):
        w = weights[tname]
        if w.ndim == 2 and tname.endswith(".weight") and "lm_head" not in tname:
            cases.append({"name": tname, "tensor": tname, "shape": list(w.shape), "w": w.astype(F32)})
    out = []
    for c in cases:
        w = c.pop("w")
        c["int8"] = summary(quantize_int8(w))
        if "embed_tokens" in c["name"]:
            rows = quantize_int8(w)
            rows["q"] = np.ascontiguousarray(rows["q"].T)
            c["int8_rows"] = summary(rows)
        for bs in (16, 32, 128):
            c[f"q4_{bs}"] = summary(quantize_q4(w, bs))
        out.append(c)
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump({"model": "test/fixtures/model/fp16/model.safetensors", "cases": out}, f, indent=1)
    print(f"{len(out)} matrices → {OUT}")


if __name__ == "__main__":
    main()
