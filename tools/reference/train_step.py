"""Goldens of one VLM2Vec training step: the loss, the optimizer and the whole-batch gradients.

Written independently of the TypeScript code, from the reference's own definitions:
  - the loss is TIGER-AI-Lab/VLM2Vec `SimpleContrastiveLoss` (src/loss.py) re-stated here:
    logits = q @ p.T, cross_entropy(logits / temperature, arange(0, Nq*k, k)) with k = Nt // Nq;
    the reps are L2-normalized by the pooling (`--normalize True`) before the loss;
  - the optimizer is HF Trainer's: torch.optim.AdamW over two parameter groups (decay on the
    names Trainer.get_decay_parameter_names returns, 0 on the rest), transformers' get_scheduler,
    torch.nn.utils.clip_grad_norm_, in the Trainer's order (clip, optimizer step, scheduler step).

Writes test/fixtures/train/step/:
  infonce.safetensors   q [4, 8], p [4, 8] and p_hard [8, 8] (raw reps; 1 hard negative per
                        query, grouped [pos_i, neg_i]), and for each case the loss and the
                        gradients w.r.t. the raw reps through F.normalize (float64 reference).
  optim.safetensors     3 parameters (w [6, 5] decays, bias [6] does not, lora_A [3, 5] decays),
                        5 steps of gradients g.{step}.{name}, and per schedule case the
                        parameters after each step {case}.{step}.{name} (torch float32 run).
  optim.json            the cases (schedule, lr, warmup, total, weight decay, max_grad_norm),
                        the lr and pre-clip grad norm of each step, and the largest |float32 −
                        float64| over the parameters (the float noise of the golden itself).
  decay.json            Trainer.get_decay_parameter_names on the tiny-a model (every parameter,
                        decayed or not) and on the same model with a peft DoRA on q/k/v/o/gate/
                        up/down_proj (its trainable parameters).
  lora_step.safetensors the InfoNCE step of the tiny-a model with the LoRA of
                        test/fixtures/model/lora-grad (r 4, alpha 8, q/v_proj, dropout 0):
                        queries = rows 0-2 of fixture case a_mixed_left (text, image, video),
                        targets = rows 3-5 (text, three images, tiny image), each encoded as its
                        own batch at the full padded length as the reference's chunks keep it;
                        temperature 0.02; loss, q/p embeddings and d loss / d every lora_A/B
                        (float64 reference, keys as adapter_model.safetensors).
  lora_step.json        the float32 run's largest relative gradient error against float64.
  train3.{lora,dora,full}.safetensors / train3.json
                        three HF-Trainer steps on tiny-a, as the reference's loop runs them
                        (InfoNCE on the step's queries and targets, backward, clip_grad_norm_ 1.0
                        … see TRAIN3, AdamW with Trainer.get_decay_parameter_names' groups, linear
                        schedule with 1 warmup step so step 0 has lr 0): for the LoRA of
                        model/lora-grad and the DoRA of model/tiny-a-dora (continuing from each
                        adapter: its factors and magnitudes train) and for full fine-tuning
                        (every parameter trains). Per step the loss, lr and
                        pre-clip grad norm; the trainable parameters after the third step (torch
                        float32 run, and the float64 run under "f64." keys; our names: checkpoint layout, LoRA factors as
                        <module>.lora_A.weight; of the embedding table only the rows
                        `embed_tokens.ids`); and the largest |float32 − float64| of those.

  train3.{lora,dora}_dropout.safetensors
                        the same three steps with LoRA dropout 0.1 (the reference's default) on
                        the LoRA and the DoRA adapter: peft's lora_dropout modules replaced by
                        fixed masks from the deterministic spec of src/nn/dropout.ts, implemented
                        again below in numpy (DROPOUT_SPEC), so torch sees our masks; peft's own
                        forwards do the rest (for DoRA, the base product of the dropped input).
  dropout.json          mask samples of that spec (keep 1 / drop 0) for a few sites.

Regenerate from the repository root (deterministic, one thread, under a minute; run after
model_qwen2vl.py and model_qwen2vl_lora_grad.py):
    tools/reference/.venv/bin/python tools/reference/train_step.py
"""

import json
import math
import os
import sys
import tempfile

import numpy as np

try:  # a torchvision built for another torch breaks `import transformers`; nothing here needs it
    import torchvision  # noqa: F401
except Exception:
    sys.modules["torchvision"] = None
import peft
import torch
import torch.nn.functional as F
import transformers
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import save_file
from transformers import Qwen2VLForConditionalGeneration, Trainer, TrainingArguments, get_scheduler

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIX = os.path.join(ROOT, "test", "fixtures")
OUT = os.path.join(FIX, "train", "step")
TINY = os.path.join(FIX, "model", "tiny-a")
LORA = os.path.join(FIX, "model", "lora-grad")
DORA = os.path.join(FIX, "model", "tiny-a-dora")
TEMPERATURE = 0.02
torch.set_num_threads(1)
VERSIONS = {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__}


def contrastive(q, p, temperature):
    """SimpleContrastiveLoss.__call__ with target=None, reduction='mean'."""
    k = p.size(0) // q.size(0)
    target = torch.arange(0, q.size(0) * k, k, dtype=torch.long)
    return F.cross_entropy(torch.matmul(q, p.transpose(0, 1)) / temperature, target)


def infonce():
    g = torch.Generator().manual_seed(1)
    q = torch.randn((4, 8), generator=g, dtype=torch.float64)
    p = q + 0.7 * torch.randn((4, 8), generator=g, dtype=torch.float64)  # positives near their query
    p_hard = torch.stack([p, q + 0.9 * torch.randn((4, 8), generator=g, dtype=torch.float64)], 1).reshape(8, 8)
    out = {"q": q, "p": p, "p_hard": p_hard}
    for name, targets, temp in [("plain", p, 0.05), ("hard", p_hard, 0.05)]:
        qq = q.clone().requires_grad_(True)
        pp = targets.clone().requires_grad_(True)
        loss = contrastive(F.normalize(qq, dim=-1), F.normalize(pp, dim=-1), temp)
        loss.backward()
        out[f"{name}.loss"] = loss.detach().reshape(1)
        out[f"{name}.dq"] = qq.grad
        out[f"{name}.dp"] = pp.grad
    save_file({k: v.float().contiguous() for k, v in out.items()}, os.path.join(OUT, "infonce.safetensors"))


STEPS = 5
GRAD_SCALES = [3.0, 0.2, 2.0, 0.5, 1.5]  # total norms on both sides of max_grad_norm 1.0
CASES = [
    {"name": "linear", "schedule": "linear", "lr": 1e-2, "warmup_steps": 2, "weight_decay": 0.1, "max_grad_norm": 1.0},
    {"name": "cosine", "schedule": "cosine", "lr": 1e-2, "warmup_ratio": 0.2, "weight_decay": 0.1, "max_grad_norm": 1.0},
    {"name": "constant", "schedule": "constant", "lr": 1e-2, "warmup_steps": 0, "weight_decay": 0.0, "max_grad_norm": 1.0},
    {"name": "constant_with_warmup", "schedule": "constant_with_warmup", "lr": 1e-2, "warmup_steps": 2, "weight_decay": 0.1, "max_grad_norm": 1.0},
]


def run_optim(case, init, grads, dtype):
    params = {k: torch.nn.Parameter(v.to(dtype).clone()) for k, v in init.items()}
    decay = [params["w"], params["lora_A"]]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": case["weight_decay"]},
                                   {"params": [params["bias"]], "weight_decay": 0.0}],
                                  lr=case["lr"], betas=(0.9, 0.999), eps=1e-8)
    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(output_dir=tmp, warmup_steps=case.get("warmup_steps", 0) or case.get("warmup_ratio", 0.0))
        warmup = args.get_warmup_steps(STEPS)
    sched = get_scheduler(case["schedule"], optimizer, num_warmup_steps=warmup, num_training_steps=STEPS)
    after, lrs, norms = [], [], []
    for s in range(STEPS):
        for k, p in params.items():
            p.grad = grads[s][k].to(dtype).clone()
        norms.append(float(torch.nn.utils.clip_grad_norm_(list(params.values()), case["max_grad_norm"])))
        lrs.append(sched.get_last_lr()[0])
        optimizer.step()
        sched.step()
        optimizer.zero_grad()
        after.append({k: p.detach().clone() for k, p in params.items()})
    return warmup, after, lrs, norms


def optim():
    g = torch.Generator().manual_seed(2)
    init = {"w": torch.randn((6, 5), generator=g), "bias": torch.randn((6,), generator=g), "lora_A": torch.randn((3, 5), generator=g)}
    grads = []
    for s in range(STEPS):
        raw = {k: torch.randn(v.shape, generator=g) for k, v in init.items()}
        n = math.sqrt(sum(float((x.double() ** 2).sum()) for x in raw.values()))
        grads.append({k: (x * (GRAD_SCALES[s] / n)).float() for k, x in raw.items()})
    tensors = {f"init.{k}": v for k, v in init.items()}
    tensors.update({f"g.{s}.{k}": v for s in range(STEPS) for k, v in grads[s].items()})
    meta = []
    for case in CASES:
        warmup, after32, lrs, norms = run_optim(case, init, grads, torch.float32)
        _, after64, lrs64, _ = run_optim(case, init, grads, torch.float64)
        assert lrs == lrs64
        noise = max(float((a[k].double() - b[k]).abs().max()) for a, b in zip(after32, after64) for k in init)
        for s in range(STEPS):
            tensors.update({f"{case['name']}.{s}.{k}": v for k, v in after32[s].items()})
        meta.append({**case, "warmup": warmup, "total_steps": STEPS, "lr_per_step": lrs, "grad_norm_per_step": norms,
                     "float32_vs_float64_max_abs": noise})
        print(f"optim {case['name']}: warmup {warmup}, lrs {lrs}, f32 vs f64 {noise:.3g}")
    save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(OUT, "optim.safetensors"))
    with open(os.path.join(OUT, "optim.json"), "w") as fh:
        json.dump({"generator": "tools/reference/train_step.py", "steps": STEPS, "betas": [0.9, 0.999], "eps": 1e-8,
                   "decay": ["w", "lora_A"], "no_decay": ["bias"], "cases": meta, "versions": VERSIONS}, fh, indent=1)


def decay():
    model = Qwen2VLForConditionalGeneration.from_pretrained(TINY, dtype=torch.float32)
    names = [n for n, _ in model.named_parameters()]
    decayed = set(Trainer.get_decay_parameter_names(None, model))
    dora = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, use_dora=True, init_lora_weights="gaussian",
                                            target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]))
    trainable = [n for n, p in dora.named_parameters() if p.requires_grad]
    dora_decayed = set(Trainer.get_decay_parameter_names(None, dora))
    with open(os.path.join(OUT, "decay.json"), "w") as fh:
        json.dump({"generator": "tools/reference/train_step.py", "model": "tiny-a",
                   "full": {n: n in decayed for n in names},
                   "dora": {n: n in dora_decayed for n in trainable}, "versions": VERSIONS}, fh, indent=1)


def case_arrays(name):
    fix = os.path.join(FIX, "model")
    with open(os.path.join(fix, "cases.json")) as fh:
        case = next(c for c in json.load(fh)["cases"] if c["name"] == name)

    def arr(key):
        ref = case.get(key)
        if ref is None:
            return None
        dt = np.float32 if ref["dtype"] == "float32" else np.int64
        return torch.from_numpy(np.fromfile(os.path.join(fix, ref["file"]), dtype=dt).reshape(ref["shape"]))

    return {k: arr(k) for k in ["input_ids", "attention_mask", "position_ids", "pixel_values", "image_grid_thw",
                                "pixel_values_videos", "video_grid_thw"]}


def rows(x, cfg, lo, hi):
    """Rows lo..hi-1 of a padded batch at its full length, with their own patches and grids."""
    out = {k: x[k][lo:hi] for k in ["input_ids", "attention_mask", "position_ids"]}
    for token, pv, grid in [(cfg.image_token_id, "pixel_values", "image_grid_thw"), (cfg.video_token_id, "pixel_values_videos", "video_grid_thw")]:
        grids = x[grid]
        per_row, gi = [], 0  # grids follow the rows' placeholder runs (merge 2 x 2)
        for r in range(x["input_ids"].shape[0]):
            n = int(((x["input_ids"][r] == token) & (x["attention_mask"][r] == 1)).sum())
            start = gi
            while n > 0:
                n -= int(grids[gi].prod()) // 4
                gi += 1
            per_row.append((start, gi))
        g0, g1 = per_row[lo][0], per_row[hi - 1][1]
        if g1 == g0:
            out[pv], out[grid] = None, None
            continue
        sizes = [int(t.prod()) for t in grids]
        out[pv] = x[pv][sum(sizes[:g0]):sum(sizes[:g1])]
        out[grid] = grids[g0:g1]
    return out


def embed(model, x, dtype):
    f = lambda t: None if t is None else t.to(dtype)
    out = model(input_ids=x["input_ids"], attention_mask=x["attention_mask"], position_ids=x["position_ids"],
                pixel_values=f(x["pixel_values"]), image_grid_thw=x["image_grid_thw"],
                pixel_values_videos=f(x["pixel_values_videos"]), video_grid_thw=x["video_grid_thw"],
                output_hidden_states=True, use_cache=False)
    hs = out.hidden_states[-1]
    return F.normalize(hs[:, -1], dim=-1)  # left padded: the last column is every row's last token


def lora_run(dtype, attn, x, cfg):
    base = Qwen2VLForConditionalGeneration.from_pretrained(TINY, dtype=torch.float32, attn_implementation=attn)
    model = PeftModel.from_pretrained(base, LORA, is_trainable=True).to(dtype)
    model.train()  # dropout 0: train mode changes nothing but is what the trainer runs
    q = embed(model, rows(x, cfg, 0, 3), dtype)
    p = embed(model, rows(x, cfg, 3, 6), dtype)
    loss = contrastive(q, p, TEMPERATURE)
    loss.backward()
    grads = {n.replace(".default.", "."): t.grad.detach() for n, t in model.named_parameters() if t.requires_grad}
    return loss, q, p, grads


def lora_step():
    x = case_arrays("a_mixed_left")
    assert bool((x["attention_mask"][:, -1] == 1).all()), "left padded"
    cfg = transformers.AutoConfig.from_pretrained(TINY)
    loss32, _, _, g32 = lora_run(torch.float32, "eager", x, cfg)
    # float64 with SDPA (eager float64 turns the fully masked rows of left padding into NaN).
    loss64, q64, p64, g64 = lora_run(torch.float64, "sdpa", x, cfg)
    rel = max(float((g32[k].double() - g64[k]).norm() / g64[k].norm()) for k in g64)
    print(f"lora step loss f64 {loss64.item():.9g} f32 {loss32.item():.9g}; grad rel err max {rel:.3g}")
    tensors = {f"grad.{k}": v.float() for k, v in g64.items()}
    tensors.update({"loss": loss64.detach().float().reshape(1), "q": q64.detach().float(), "p": p64.detach().float()})
    save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(OUT, "lora_step.safetensors"))
    with open(os.path.join(OUT, "lora_step.json"), "w") as fh:
        json.dump({"generator": "tools/reference/train_step.py", "model": "tiny-a", "adapter": "model/lora-grad",
                   "case": "a_mixed_left", "queries": [0, 1, 2], "targets": [3, 4, 5], "temperature": TEMPERATURE,
                   "float32_torch_max_rel_grad_err": rel, "versions": VERSIONS}, fh, indent=1)


# DROPOUT_SPEC: the LoRA dropout masks of src/nn/dropout.ts, written again from its header.
def mix32(x):
    """lowbias32 over uint32 arrays (products wrap mod 2^32)."""
    x = np.array(x, dtype=np.uint32)
    x ^= x >> np.uint32(16)
    x *= np.uint32(0x7FEB352D)
    x ^= x >> np.uint32(15)
    x *= np.uint32(0x846CA68B)
    x ^= x >> np.uint32(16)
    return x


def fnv1a32(s):
    h = 0x811C9DC5
    for b in s.encode("utf-8"):
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def dropout_key(seed, step, side, module, chunk=None):
    k = mix32(mix32(mix32(mix32(seed % 2**32) ^ np.uint32(step)) ^ np.uint32(side)) ^ np.uint32(fnv1a32(module)))
    if chunk is not None:
        k = mix32(k ^ np.uint32(chunk + 1))
    return k


def keep_mask(p, seed, step, side, module, first_row, shape):
    """Keep mask (bool, `shape`): rank >= 3 per row of the whole batch, rank 2 per chunk."""
    cols = shape[-1]
    units = int(np.prod(shape[:-1]))
    if len(shape) >= 3:
        key, first = dropout_key(seed, step, side, module), first_row * int(np.prod(shape[1:-1]))
    else:
        key, first = dropout_key(seed, step, side, module, first_row), 0
    u = np.arange(first, first + units, dtype=np.uint64).astype(np.uint32)
    ku = mix32(key ^ mix32(u))
    h = mix32(ku[:, None] ^ np.arange(cols, dtype=np.uint32)[None, :])
    return (h >= np.uint32(math.floor(p * 2**32))).reshape(shape)


DROPOUT_SAMPLES = [
    {"p": 0.3, "seed": 42, "step": 0, "side": 0, "module": "model.layers.0.self_attn.q_proj", "first_row": 0, "shape": [3, 5, 16]},
    {"p": 0.3, "seed": 42, "step": 0, "side": 0, "module": "model.layers.0.self_attn.q_proj", "first_row": 2, "shape": [1, 5, 16]},
    {"p": 0.1, "seed": 2**40 + 7, "step": 5, "side": 1, "module": "model.layers.1.mlp.down_proj", "first_row": 0, "shape": [2, 3, 40]},
    {"p": 0.5, "seed": 1, "step": 2, "side": 1, "module": "visual.blocks.0.attn.qkv", "first_row": 4, "shape": [6, 16]},
]


def dropout_samples():
    out = [{**c, "keep": keep_mask(c["p"], c["seed"], c["step"], c["side"], c["module"], c["first_row"], c["shape"]).astype(int).reshape(-1).tolist()}
           for c in DROPOUT_SAMPLES]
    with open(os.path.join(OUT, "dropout.json"), "w") as fh:
        json.dump({"generator": "tools/reference/train_step.py", "samples": out}, fh)


class FixedMaskDropout(torch.nn.Module):
    """peft's lora_dropout module with the masks of DROPOUT_SPEC for the current (seed, step, side)."""

    site = {"seed": None, "step": None, "side": None}

    def __init__(self, p, module):
        super().__init__()
        self.p, self.module = p, module

    def forward(self, x):
        s = FixedMaskDropout.site
        keep = keep_mask(self.p, s["seed"], s["step"], s["side"], self.module, 0, list(x.shape))
        return x * (torch.from_numpy(keep).to(x.dtype) / (1 - self.p))


def use_fixed_dropout(model, p):
    """Replaces every LoRA layer's dropout (nn.Identity at the fixture adapters' 0.0) with fixed masks."""
    n = 0
    for name, mod in model.named_modules():
        if hasattr(mod, "lora_dropout") and "default" in mod.lora_dropout:
            mod.lora_dropout["default"] = FixedMaskDropout(p, our_name(name))
            n += 1
    assert n > 0
    return n


# Steps of train3: (query rows, target rows) of case a_mixed_left.
TRAIN3 = {"rows": [[[0, 3], [3, 6]], [[3, 6], [0, 3]], [[0, 3], [3, 6]]], "warmup_steps": 1, "max_grad_norm": 1.0,
          "weight_decay": 0.1, "lr": {"lora": 1e-2, "dora": 1e-2, "full": 1e-3, "lora_dropout": 1e-2, "dora_dropout": 1e-2},
          "schedule": "linear", "dropout": 0.1, "seed": 42}


def our_name(n):
    """peft / transformers parameter name -> checkpoint layout (LoRA factors without the adapter name)."""
    n = n.replace(".default.", ".")
    if n.startswith("base_model.model."):
        n = n[len("base_model.model."):]
    if n.startswith("model.visual."):
        return n[len("model."):]
    if n.startswith("model.language_model."):
        return "model." + n[len("model.language_model."):]
    return n


def train3_run(kind, dtype, attn, x, cfg):
    base = Qwen2VLForConditionalGeneration.from_pretrained(TINY, dtype=torch.float32, attn_implementation=attn)
    adapter = {"lora": LORA, "dora": DORA, "lora_dropout": LORA, "dora_dropout": DORA}.get(kind)
    model = (PeftModel.from_pretrained(base, adapter, is_trainable=True) if adapter else base).to(dtype)
    if kind.endswith("_dropout"):
        use_fixed_dropout(model, TRAIN3["dropout"])
    model.train()
    decayed = set(Trainer.get_decay_parameter_names(None, model))
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW([{"params": [p for n, p in params if n in decayed], "weight_decay": TRAIN3["weight_decay"]},
                                   {"params": [p for n, p in params if n not in decayed], "weight_decay": 0.0}],
                                  lr=TRAIN3["lr"][kind], betas=(0.9, 0.999), eps=1e-8)
    steps = len(TRAIN3["rows"])
    sched = get_scheduler(TRAIN3["schedule"], optimizer, num_warmup_steps=TRAIN3["warmup_steps"], num_training_steps=steps)
    losses, lrs, norms = [], [], []
    for step, ((qa, qb), (pa, pb)) in enumerate(TRAIN3["rows"]):
        FixedMaskDropout.site.update(seed=TRAIN3["seed"], step=step, side=0)
        q = embed(model, rows(x, cfg, qa, qb), dtype)
        FixedMaskDropout.site.update(side=1)
        loss = contrastive(q, embed(model, rows(x, cfg, pa, pb), dtype), TEMPERATURE)
        loss.backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_([p for _, p in params], TRAIN3["max_grad_norm"])))
        lrs.append(sched.get_last_lr()[0])
        optimizer.step()
        sched.step()
        optimizer.zero_grad()
        losses.append(float(loss))
    return losses, lrs, norms, {our_name(n): p.detach().clone() for n, p in params}


def train3():
    x = case_arrays("a_mixed_left")
    cfg = transformers.AutoConfig.from_pretrained(TINY)
    meta = {}
    for kind in ["lora", "dora", "full", "lora_dropout", "dora_dropout"]:
        l32, lr32, n32, w32 = train3_run(kind, torch.float32, "eager", x, cfg)
        l64, lr64, n64, w64 = train3_run(kind, torch.float64, "sdpa", x, cfg)
        assert lr32 == lr64 and lr32[0] == 0.0
        w0 = {our_name(n): p.detach() for n, p in Qwen2VLForConditionalGeneration.from_pretrained(TINY, dtype=torch.float32).named_parameters()}
        noise = max(float((w32[k].double() - w64[k]).abs().max()) for k in w32)
        moved = max(float((w32[k] - w0[k]).abs().max()) for k in w32 if k in w0) if kind == "full" else None
        print(f"train3 {kind}: losses {l32} (f64 {l64}), lrs {lr32}, norms {n32}; f32 vs f64 weights {noise:.3g}; moved {moved}")
        # Weights of the float32 torch run, and of the float64 run rounded to float32 ("f64." keys).
        out = dict(w32)
        out.update({f"f64.{k}": v.float() for k, v in w64.items()})
        if kind == "full":
            # The embedding table is most of the model's bytes: keep the rows of the batch's tokens
            # (they have gradients) and a few others (weight decay only), with their ids.
            ids = torch.unique(x["input_ids"])
            ids = torch.cat([ids, torch.tensor([1, 1000, 100000])])
            out["model.embed_tokens.weight"] = w32["model.embed_tokens.weight"][ids]
            out["f64.model.embed_tokens.weight"] = w64["model.embed_tokens.weight"][ids].float()
            out["embed_tokens.ids"] = ids.to(torch.int64)
        save_file({k: v.contiguous() for k, v in out.items()}, os.path.join(OUT, f"train3.{kind}.safetensors"))
        meta[kind] = {"lr": TRAIN3["lr"][kind], "loss_per_step": l32, "loss_per_step_float64": l64, "lr_per_step": lr32,
                      "grad_norm_per_step": n32, "float32_vs_float64_max_abs": noise, "trainable": len(w32)}
    with open(os.path.join(OUT, "train3.json"), "w") as fh:
        json.dump({"generator": "tools/reference/train_step.py", "model": "tiny-a",
                   "adapters": {"lora": "model/lora-grad", "dora": "model/tiny-a-dora", "lora_dropout": "model/lora-grad", "dora_dropout": "model/tiny-a-dora"},
                   "case": "a_mixed_left", "temperature": TEMPERATURE, **{k: v for k, v in TRAIN3.items() if k != "lr"}, "runs": meta, "versions": VERSIONS}, fh, indent=1)


def main():
    os.makedirs(OUT, exist_ok=True)
    infonce()
    optim()
    decay()
    lora_step()
    dropout_samples()
    train3()
    print("wrote", OUT)


if __name__ == "__main__":
    main()
