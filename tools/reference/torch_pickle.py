"""Reference fixtures for src/io/weights/torch-pickle*.ts and src/io/archive/torch-zip.ts (torch.save checkpoints).

Writes, under test/fixtures/io/torch/ (all tiny, ~190 KB in total; README.md repeats this text):
  state.pt            torch.save of an OrderedDict: f32/f16/bf16/f64/i64/i32/i16/i8/u8/bool tensors, a 0-d
                      tensor, empty tensors, a Parameter, non-contiguous views (t.T, a slice with a
                      storage offset, a stride-0 expand with a 4-byte BININT size), two tensors sharing
                      one storage, and 120 one-element tensors (memo > 255 → LONG_BINPUT/LONG_BINGET)
  nested.pt           {'model': nn.Module.state_dict() (OrderedDict carrying _metadata → BUILD),
                       'extra': {...}, 'layers': [t0, t1], 'step': 2**40 (LONG1), 'lr': BINFLOAT,
                       'name': str, 'flag': True, 'none': None}
  proto4.pt           torch.save(..., pickle_protocol=4): FRAME, STACK_GLOBAL, SHORT_BINUNICODE, MEMOIZE
  zip64-extra.pt      state.pt's entries re-packed by hand with every size/offset in the central
                      directory moved to zip64 extra fields (what torch writes for > 4 GB files)
  deflated.pt         state.pt re-zipped with ZIP_DEFLATED (must be rejected: torch writes STORED)
  cycle.pt            a torch-layout zip whose data.pkl is a dict containing itself (must be rejected)
  evil.pt             a torch-layout zip whose data.pkl calls GLOBAL 'os system' (must be rejected)
  bad-view.pt         small.pt with the size in data.pkl changed to (9,) over a 4-element storage
  bad-storage.pt      small.pt with its storage entry cut to 3 of its 4 elements
  bad-huge.pt         small.pt viewed as (2**40,) with stride 0 (valid view, too large to materialize)
  bad-shape.pt        small.pt viewed as (2**40, 2**40) (element count beyond 2**53)
  legacy.pt           torch.save(..., _use_new_zipfile_serialization=False) (legacy non-zip format)
  manifest.json       for every tensor of state.pt / nested.pt: dtype, shape, stride, storage offset,
                      sha256 of its contiguous little-endian bytes, and its values (floats as numbers,
                      f16/bf16 as raw 16-bit patterns, i64 as decimal strings) when it has ≤ 64 elements;
                      and the non-tensor leaves of nested.pt; plus "pickles": plain Python objects
                      pickled by CPython (protocols 2 and 4) with their JSON value
  lora-bin/           PEFT 0.21 LoRA adapter on test/fixtures/io/models/qwen2vl-tiny saved with
                      save_pretrained(..., safe_serialization=False)  → adapter_model.bin
  lora-st/            the same adapter saved as adapter_model.safetensors
  lora-merged-reference.safetensors   PEFT merge_and_unload() of that adapter (merged target weights)

Regenerate (from the repository root; deterministic, seeds fixed, one thread):
    tools/reference/.venv/bin/python tools/reference/torch_pickle.py
"""

import collections
import hashlib
import io
import json
import os
import pickle
import shutil
import struct
import zipfile
import zlib

import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "test", "fixtures", "io", "torch")
TINY = os.path.join(ROOT, "test", "fixtures", "io", "models", "qwen2vl-tiny")

torch.set_num_threads(1)

DTYPES = {
    torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
    torch.uint8: "U8", torch.bool: "BOOL",
}


def contiguous_bytes(t: torch.Tensor) -> bytes:
    c = t.detach().contiguous()
    if c.dtype == torch.bfloat16:
        c = c.view(torch.int16)
    return c.numpy().tobytes()


def describe(t: torch.Tensor) -> dict:
    d = {
        "dtype": DTYPES[t.dtype],
        "shape": list(t.shape),
        "stride": list(t.stride()),
        "storageOffset": t.storage_offset(),
        "sha256": hashlib.sha256(contiguous_bytes(t)).hexdigest(),
    }
    if t.numel() <= 64:
        flat = t.detach().contiguous().reshape(-1)
        if t.dtype in (torch.float16, torch.bfloat16):
            d["bits"] = [int(x) & 0xFFFF for x in flat.view(torch.int16).tolist()]
        elif t.dtype == torch.int64:
            d["values"] = [str(x) for x in flat.tolist()]
        elif t.dtype == torch.bool:
            d["values"] = [1 if x else 0 for x in flat.tolist()]
        else:
            d["values"] = flat.tolist()  # f32 → double is exact, so JSON round-trips the f32 value
    return d


def flatten(obj, prefix: str, tensors: dict, leaves: dict) -> None:
    """The naming our reader exposes: nested dict keys and list indices joined with '.'."""
    if isinstance(obj, torch.Tensor):
        tensors[prefix] = describe(obj)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            flatten(v, f"{prefix}.{k}" if prefix else str(k), tensors, leaves)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            flatten(v, f"{prefix}.{i}" if prefix else str(i), tensors, leaves)
    else:
        leaves[prefix] = str(obj) if isinstance(obj, int) and not isinstance(obj, bool) and abs(obj) > 2**53 else obj


def state_dict_fixture() -> collections.OrderedDict:
    g = torch.Generator().manual_seed(0)
    base = torch.randn(4, 6, generator=g)
    shared = torch.randn(10, generator=g)
    sd = collections.OrderedDict()
    sd["f32"] = torch.randn(3, 5, generator=g)
    sd["f16"] = torch.randn(2, 3, generator=g).half()
    sd["bf16"] = torch.randn(7, generator=g).bfloat16()
    sd["f64"] = torch.randn(2, 2, generator=g).double()
    sd["i64"] = torch.tensor([0, -1, 2**40 + 3, -(2**62), 2**63 - 1], dtype=torch.int64)
    sd["i32"] = torch.tensor([[1, -2], [2**31 - 1, -(2**31)]], dtype=torch.int32)
    sd["i16"] = torch.tensor([-300, 300], dtype=torch.int16)
    sd["i8"] = torch.tensor([-128, 5, 127], dtype=torch.int8)
    sd["u8"] = torch.tensor([0, 7, 255], dtype=torch.uint8)
    sd["bool"] = torch.tensor([True, False, False, True, True, False])
    sd["scalar"] = torch.tensor(-2.5)
    sd["empty"] = torch.zeros(0, 3)
    sd["empty_bf16"] = torch.zeros(2, 0, dtype=torch.bfloat16)
    sd["param"] = torch.nn.Parameter(torch.randn(2, 2, generator=g))
    sd["base"] = base
    sd["transposed"] = base.T                      # [6,4] strides (1,6)
    sd["slice"] = base[1:3, 2:5]                   # offset 8, strides (6,1)
    sd["strided"] = base[::2, ::3]                 # strides (12,3)
    sd["expanded"] = torch.tensor([1.5]).expand(70000)  # stride 0; 70000 needs a 4-byte BININT
    sd["shared_a"] = shared[:6].view(2, 3)         # these two share one storage
    sd["shared_b"] = shared[4:]                    # overlapping, offset 4
    sd["f16_T"] = sd["f16"].T
    sd["i64_view"] = (torch.arange(12, dtype=torch.int64) * -(2**40)).reshape(3, 4)[:, 1::2]  # 8-byte gather
    sd["i64_cols"] = torch.tensor([[1, 2**50], [-3, -(2**61)]], dtype=torch.int64).T
    sd["bf16_slice"] = torch.randn(8, generator=g).bfloat16()[2:5]
    sd["bool_T"] = torch.tensor([[True, False, True], [False, False, True]]).T
    sd["f64_T"] = torch.randn(2, 3, generator=g).double().T
    for i in range(120):
        sd[f"bulk.{i}"] = torch.tensor([i * 3 - 100], dtype=torch.int32)
    return sd


def nested_fixture():
    torch.manual_seed(2)
    module = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.LayerNorm(2))
    module.register_buffer("counter", torch.tensor(5, dtype=torch.int64))
    g = torch.Generator().manual_seed(3)
    return {
        "model": module.state_dict(),
        "extra": collections.OrderedDict(inner={"deep": torch.randn(2, generator=g).half()}),
        "layers": [torch.arange(3, dtype=torch.int64), torch.ones(1, 2)],
        "step": 2**40,
        "neg": -5,
        "lr": 0.001,
        "name": "vlm2vec-" + "x" * 300,
        "flag": True,
        "none": None,
    }


def repack_zip64(src: str, dst: str) -> None:
    """Writes src's STORED entries again with all central-directory sizes/offsets in zip64 extras."""
    zin = zipfile.ZipFile(src)
    out = io.BytesIO()
    central = []
    for info in zin.infolist():
        data = zin.read(info.filename)
        name = info.filename.encode()
        crc = zlib.crc32(data)
        offset = out.tell()
        local_extra = struct.pack("<HHQQ", 1, 16, len(data), len(data))
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                              len(name), len(local_extra)))
        out.write(name + local_extra + data)
        cd_extra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), offset)
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF,
                                   0xFFFFFFFF, len(name), len(cd_extra), 0, 0, 0, 0, 0xFFFFFFFF) + name + cd_extra)
    cd_offset = out.tell()
    for c in central:
        out.write(c)
    cd_size = out.tell() - cd_offset
    z64_offset = out.tell()
    n = len(central)
    out.write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, cd_size, cd_offset))
    out.write(struct.pack("<IIQI", 0x07064B50, 0, z64_offset, 1))
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0))
    with open(dst, "wb") as fh:
        fh.write(out.getvalue())


def torch_layout_zip(dst: str, pickle_bytes: bytes) -> None:
    arc = os.path.splitext(os.path.basename(dst))[0]
    with zipfile.ZipFile(dst, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr(f"{arc}/data.pkl", pickle_bytes)
        z.writestr(f"{arc}/byteorder", "little")
        z.writestr(f"{arc}/version", "3\n")


def lora_fixtures() -> None:
    from peft import LoraConfig, PeftModel, get_peft_model
    from safetensors.torch import load_file, save_file
    from transformers import Qwen2VLForConditionalGeneration

    rel_tiny = os.path.relpath(TINY, ROOT)
    cwd = os.getcwd()
    os.chdir(ROOT)  # so base_model_name_or_path is the repo-relative path, as in the DoRA fixture
    try:
        base = Qwen2VLForConditionalGeneration.from_pretrained(rel_tiny)
        lcfg = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, init_lora_weights="gaussian",
                          target_modules=["q_proj", "v_proj", "up_proj"])
        peft_model = get_peft_model(base, lcfg)
        torch.manual_seed(4)
        with torch.no_grad():  # trained-looking adapter: B != 0
            for name, p in peft_model.named_parameters():
                if "lora_B" in name:
                    p.copy_(0.2 * torch.randn_like(p))
        bin_dir = os.path.join(OUT, "lora-bin")
        st_dir = os.path.join(OUT, "lora-st")
        peft_model.save_pretrained(bin_dir, safe_serialization=False)
        peft_model.save_pretrained(st_dir, safe_serialization=True)
        for d in (bin_dir, st_dir):
            os.remove(os.path.join(d, "README.md"))
            acfg_path = os.path.join(d, "adapter_config.json")
            with open(acfg_path) as fh:
                acfg = json.load(fh)
            acfg["target_modules"] = sorted(acfg["target_modules"])
            with open(acfg_path, "w") as fh:
                json.dump(acfg, fh, indent=2, sort_keys=True)
        assert os.listdir(bin_dir) == ["adapter_model.bin", "adapter_config.json"] or sorted(os.listdir(bin_dir)) == ["adapter_config.json", "adapter_model.bin"]
        merged = PeftModel.from_pretrained(Qwen2VLForConditionalGeneration.from_pretrained(rel_tiny), bin_dir).merge_and_unload()
    finally:
        os.chdir(cwd)
    sd = merged.state_dict()
    base_sd = load_file(os.path.join(ROOT, "test", "fixtures", "io", "models", "qwen2vl-tiny-flat", "model.safetensors"))
    targets = {}
    for k in base_sd:  # names in the checkpoint layout (model.layers.*), like dora-merged-reference
        if any(f".{t}.weight" in k for t in lcfg.target_modules):
            sk = k if k in sd else k.replace("model.", "model.language_model.", 1)
            targets[k] = sd[sk].detach().float().contiguous()
    save_file(targets, os.path.join(OUT, "lora-merged-reference.safetensors"), metadata={"format": "pt"})


def main() -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    manifest = {}

    sd = state_dict_fixture()
    torch.save(sd, os.path.join(OUT, "state.pt"))
    tensors, leaves = {}, {}
    flatten(sd, "", tensors, leaves)
    manifest["state.pt"] = {"tensors": tensors, "leaves": leaves}

    nested = nested_fixture()
    torch.save(nested, os.path.join(OUT, "nested.pt"))
    tensors, leaves = {}, {}
    flatten(nested, "", tensors, leaves)
    manifest["nested.pt"] = {"tensors": tensors, "leaves": leaves}

    p4 = collections.OrderedDict(w=torch.randn(3, 4, generator=torch.Generator().manual_seed(5)))
    p4["wT"] = p4["w"].T
    p4["b"] = torch.tensor([1.0, -2.0, 3.5]).bfloat16()
    torch.save(p4, os.path.join(OUT, "proto4.pt"), pickle_protocol=4)
    tensors, leaves = {}, {}
    flatten(p4, "", tensors, leaves)
    manifest["proto4.pt"] = {"tensors": tensors, "leaves": leaves}

    plain = {"a": 1, "b": [True, None, 2**40, -(2**40), -1, 255, 65535, 65536], "c": "é" * 3, "d": {"x": 1.5, "t": (1, 2)}}
    manifest["pickles"] = {f"protocol{p}": {"hex": pickle.dumps(plain, protocol=p).hex(),
                                           "value": json.loads(json.dumps(plain))} for p in (2, 4)}

    # Sanity: what we claim torch wrote is what torch reads back.
    back = torch.load(os.path.join(OUT, "state.pt"), weights_only=True)
    assert back["transposed"].stride() == (1, 6) and back["slice"].storage_offset() == 8
    assert back["expanded"].stride() == (0,)
    assert back["shared_a"].untyped_storage().data_ptr() == back["shared_b"].untyped_storage().data_ptr()

    repack_zip64(os.path.join(OUT, "state.pt"), os.path.join(OUT, "zip64-extra.pt"))
    assert torch.equal(torch.load(os.path.join(OUT, "zip64-extra.pt"), weights_only=True)["slice"], sd["slice"])

    small = collections.OrderedDict(w=torch.arange(4, dtype=torch.float32))
    torch.save(small, os.path.join(OUT, "small.pt"))
    with zipfile.ZipFile(os.path.join(OUT, "small.pt")) as zin, \
            zipfile.ZipFile(os.path.join(OUT, "deflated.pt"), "w", compression=zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info.filename))
    manifest["small.pt"] = {"tensors": {"w": describe(small["w"])}, "leaves": {}}

    # Corrupt views: re-zip small.pt's entries (STORED, fresh CRCs) with one thing broken.
    with zipfile.ZipFile(os.path.join(OUT, "small.pt")) as zin:
        entries = {i.filename: zin.read(i.filename) for i in zin.infolist()}
    pkl = entries["small/data.pkl"]
    assert pkl.count(b"K\x04\x85") == 1  # the size tuple (4,): BININT1 4, TUPLE1
    assert pkl.count(b"K\x01\x85") == 1  # the stride tuple (1,)
    big = b"\x8a\x06\x00\x00\x00\x00\x00\x01"  # LONG1 2**40
    huge = pkl.replace(b"K\x04\x85", big + b"\x85").replace(b"K\x01\x85", b"K\x00\x85")  # (2**40,) stride 0
    absurd = pkl.replace(b"K\x04\x85", big + big + b"\x86").replace(b"K\x01\x85", b"K\x00K\x00\x86")  # (2**40, 2**40)
    for name, patch in (("bad-view.pt", {"small/data.pkl": pkl.replace(b"K\x04\x85", b"K\x09\x85")}),
                        ("bad-storage.pt", {"small/data/0": entries["small/data/0"][:12]}),
                        ("bad-huge.pt", {"small/data.pkl": huge}),
                        ("bad-shape.pt", {"small/data.pkl": absurd})):
        with zipfile.ZipFile(os.path.join(OUT, name), "w", compression=zipfile.ZIP_STORED) as zout:
            for k, v in entries.items():
                zout.writestr(k, patch.get(k, v))

    # Protocol-2 pickle of os.system('echo pwned'), as a malicious checkpoint would carry it.
    evil = b"\x80\x02cos\nsystem\nq\x00X\n\x00\x00\x00echo pwnedq\x01\x85q\x02Rq\x03."
    torch_layout_zip(os.path.join(OUT, "evil.pt"), evil)
    # d = {}; d['a'] = d — what pickle.dumps writes for a self-containing dict.
    cyc = {}
    cyc["a"] = cyc
    torch_layout_zip(os.path.join(OUT, "cycle.pt"), pickle.dumps(cyc, protocol=2))

    torch.save(small, os.path.join(OUT, "legacy.pt"), _use_new_zipfile_serialization=False)

    lora_fixtures()

    with open(os.path.join(OUT, "README.md"), "w") as fh:  # the folder is rebuilt from scratch: keep its doc here
        fh.write("# torch.save fixtures (src/io/weights/torch-pickle*.ts, src/io/archive/torch-zip.ts, src/io/weights/peft.ts)\n\n```\n")
        fh.write(__doc__.strip() + "\n```\n")
    with open(os.path.join(OUT, "manifest.json"), "w") as fh:
        json.dump(manifest, fh, indent=1, sort_keys=True)
    total = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(OUT) for f in fs)
    print(f"fixtures written under {OUT} ({total} bytes)")


if __name__ == "__main__":
    main()
