"""Goldens of three VLM2Vec training steps on the V1 backbones (issue 15): Phi-3-V and LLaVA-NeXT.

The same recipe as train_step.py's train3 (its loss, optimizer and schedule are imported from it):
SimpleContrastiveLoss over L2-normalized last-token reps (temperature 0.02), backward,
clip_grad_norm_ 1.0, torch AdamW with Trainer.get_decay_parameter_names' groups (weight decay 0.1),
transformers' linear schedule with 1 warmup step; each step embeds 2 queries and their 2 targets,
each side as its own padded batch (processor called per item, as VLM2Vec's process functions do).

  --model phi3v       the reference's own Phi-3-V code (imported from a VLM2Vec checkout with
                      --vlm2vec-src DIR, with the shims of phi3v_fixtures.py) on
                      test/fixtures/model/tiny-phi3v, num_crops 4, right padding, eager attention.
  --model llava_next  transformers' LlavaNextForConditionalGeneration on test/fixtures/model/tiny-llava
                      (the fixture's LlavaNextProcessor settings), left padding, SDPA attention
                      (eager float64 turns fully masked left-pad query rows into NaN, which the
                      backward would carry into the gradients).

Kinds: `lora` and `dora`: a peft adapter on the reference's default --lora_target_modules
(train.py / src/arguments.py: qkv_proj,o_proj,gate_up_proj,down_proj,k_proj,q_proj,out_proj,v_proj,
gate_proj,up_proj; peft's suffix match), r 4, alpha 8, dropout 0, with A, B (and DoRA's magnitudes)
randomized so every factor has a gradient; it is saved as a PEFT adapter folder, the start of
our run. `full`: every parameter trains (lr 1e-3).

`lora_dropout`, `dora_dropout`: the same adapters with LoRA dropout 0.1 (the reference's default),
peft's lora_dropout modules replaced by MaskDropout, which applies the masks of src/nn/dropout.ts
(DROPOUT_SPEC of train_step.py) as our V1 trainer draws them: a language-model module's input
[rows, T, in] per row of the whole batch; a CLIP module's input (every image's crops / anyres
patches of the batch concatenated on axis 0, as both models call the tower once) per image: image j
of the batch is part j of the chunk starting at row 0 (models/common/train-adapter.ts partDropout),
over all its crops x tokens. The Phi-3-V reference code also runs each image's padding crops (its
processor pads to num_crops + 1; the HD transform drops their outputs, and our encoder never runs
them): their mask continues the image's unit numbering. peft's own forwards do the rest (for
DoRA, the base product of the dropped input). `*_dropout_gc`: the same with the CLIP masks
GradCache with chunks of one row keys (part = the image's index in its row, the chunk = its row);
the language model's masks do not depend on the chunking. `mask_samples` in steps.json records
masks this module drew, for the TypeScript side to draw again.

`full_pad` (llava_next): full fine-tuning of the tiny LLaVA with text_config.pad_token_id set to
PAD_AS_REAL, a token that occurs as a real token in the steps' batches (the model read from a
temporary copy whose config.json says so): torch's nn.Embedding(padding_idx) gives that row no
gradient, so only weight decay moves it.

Writes test/fixtures/train/v1/<model>/:
  adapter-lora/, adapter-dora/     the starting adapters (transformers-4.x module paths)
  <kind>.safetensors               trained parameters after step 3, torch float32 run, and the
                                   float64 run under "f64." (our names: checkpoint layout, LoRA
                                   factors as <module>.lora_A.weight; of the token embedding
                                   table only the rows `embed_tokens.ids`)
  steps.json                       the items of each step, their input ids, and per kind the loss,
                                   lr and pre-clip grad norm of each step (float32 and float64
                                   runs) and the largest |float32 - float64| of the trained
                                   weights (CLIP's k_proj biases apart: their exact gradient is 0)

Regenerate from the repository root (deterministic, one thread, a few minutes):
    tools/reference/.venv/bin/python tools/reference/train_step_v1.py --model phi3v --vlm2vec-src DIR
    tools/reference/.venv/bin/python tools/reference/train_step_v1.py --model llava_next
DIR: a checkout of TIGER-AI-Lab/VLM2Vec (e.g. `git worktree add` or `git archive` of its repository).
"""

import argparse
import json
import math
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
if "--model" in sys.argv and sys.argv[sys.argv.index("--model") + 1] == "phi3v":
    import phi3v_fixtures as PF  # re-runs this script under python -O (its shim 3), then installs shim 1
else:
    from no_torchvision import guard_torchvision

    guard_torchvision()

import numpy as np  # noqa: E402
import torch  # noqa: E402
from peft import LoraConfig, get_peft_model  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402
from transformers import Trainer, get_scheduler  # noqa: E402

from train_step import dropout_key, mix32  # noqa: E402  (DROPOUT_SPEC: the masks of src/nn/dropout.ts)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIX = os.path.join(ROOT, "test", "fixtures")
torch.set_num_threads(1)

TEMPERATURE = 0.02
DEFAULT_TARGETS = "qkv_proj,o_proj,gate_up_proj,down_proj,k_proj,q_proj,out_proj,v_proj,gate_proj,up_proj".split(",")
TRAIN = {"warmup_steps": 1, "max_grad_norm": 1.0, "weight_decay": 0.1, "schedule": "linear",
         "lr": {"lora": 1e-2, "dora": 1e-2, "full": 1e-3}, "r": 4, "alpha": 8}
KINDS = ["lora", "dora", "full", "lora_dropout", "dora_dropout", "lora_dropout_gc", "dora_dropout_gc"]
DROPOUT = {"p": 0.1, "seed": 42}
PAD_AS_REAL = 349  # llava_next full_pad: "▁is", a real token of the "wide" prompt (steps 0 and 1; main checks it is real)
STEPS = {
    "phi3v": [(["wide", "text"], ["text_special", "tiny"]), (["tall", "empty"], ["text", "square"]), (["tiny", "text_special"], ["wide", "text"])],
    "llava_next": [(["wide", "text"], ["tiny", "tall"]), (["tall", "tiny"], ["text", "wide"]), (["two", "photo"], ["text", "tall"])],
}


def contrastive(q, p):
    """SimpleContrastiveLoss (src/loss.py) with target None, one positive per query."""
    target = torch.arange(0, q.size(0), dtype=torch.long)
    return torch.nn.functional.cross_entropy(torch.matmul(q, p.transpose(0, 1)) / TEMPERATURE, target)


def keep_from_key(p, key, units, cols):
    """DROPOUT_SPEC's keep mask (bool [units, cols]) of a call key, units numbered from 0."""
    u = np.arange(units, dtype=np.uint32)
    ku = mix32(np.uint32(key) ^ mix32(u))
    h = mix32(ku[:, None] ^ np.arange(cols, dtype=np.uint32)[None, :])
    return h >= np.uint32(math.floor(p * 2**32))


class MaskDropout(torch.nn.Module):
    """peft's lora_dropout module with the masks our V1 trainer draws (see the header)."""

    # The current call: seed, optimizer step, side (0 queries, 1 targets), and per image of the
    # side's batch in tower order (tower rows, first row of its chunk, index in the chunk).
    site = {"seed": None, "step": None, "side": None, "images": []}

    def __init__(self, p, module, vision):
        super().__init__()
        self.p, self.module, self.vision = p, module, vision

    def keep(self, shape):
        s = MaskDropout.site
        cols = shape[-1]
        if not self.vision:  # [rows, T, in]: units row * T + t of the whole batch
            assert len(shape) >= 3, (self.module, shape)
            return keep_from_key(self.p, dropout_key(s["seed"], s["step"], s["side"], self.module), int(np.prod(shape[:-1])), cols)
        per_row = int(np.prod(shape[1:-1]))  # tokens per crop
        parts = [keep_from_key(self.p, mix32(dropout_key(s["seed"], s["step"], s["side"], self.module, chunk) ^ np.uint32(part + 1)), rows * per_row, cols)
                 for rows, chunk, part in s["images"]]
        assert sum(r for r, _, _ in s["images"]) == shape[0], (self.module, shape, s["images"])
        return np.concatenate(parts, 0)

    def forward(self, x):
        keep = self.keep(list(x.shape)).reshape(x.shape)
        return x * (torch.from_numpy(keep).to(x.dtype) / (1 - self.p))


def use_mask_dropout(bb, model, p):
    """Replaces every LoRA layer's dropout (nn.Identity at the adapters' 0.0) with MaskDropout."""
    n = 0
    for name, mod in model.named_modules():
        if hasattr(mod, "lora_dropout") and "default" in mod.lora_dropout:
            ours = bb.our_name(name)
            mod.lora_dropout["default"] = MaskDropout(p, ours, ours.startswith(bb.vision))
            n += 1
    assert n > 0
    return n


def image_parts(layout, gc):
    """MaskDropout's images of a side: (tower rows, chunk's first row, part) per image."""
    if not gc:
        return [(rows, 0, j) for j, (_, rows) in enumerate(layout)]
    seen = {}
    out = []
    for row, rows in layout:
        out.append((rows, row, seen.get(row, 0)))
        seen[row] = seen.get(row, 0) + 1
    return out


# ---------------------------------------------------------------- Phi-3-V (the reference's code)
class Phi3V:
    name = "phi3v"
    model_dir = os.path.join(FIX, "model", "tiny-phi3v")
    vision = "model.vision_embed_tokens."

    def __init__(self, src):
        from PIL import Image
        from transformers import PreTrainedTokenizerFast
        C, M, IP, P = PF.import_reference(os.path.abspath(src))
        self.C, self.M = C, M
        tj = os.path.join(self.model_dir, "tokenizer.json")
        self.tok = PreTrainedTokenizerFast(tokenizer_file=tj, bos_token="<s>", eos_token="<|endoftext|>", pad_token="<|endoftext|>",
                                           unk_token="<unk>", padding_side="right")
        self.proc = P.Phi3VProcessor(IP.Phi3VImageProcessor(num_crops=4, num_img_tokens=144), self.tok)
        self.images = {k: Image.open(os.path.join(self.model_dir, "images", f)) for k, (_, f) in PF.ITEMS.items() if f}

    def base(self):
        model = self.M.Phi3VForCausalLM(PF.make_config(self.C))
        clip = "model.vision_embed_tokens.img_processor."
        sd = {(clip + k[len(clip + "vision_model."):] if k.startswith(clip + "vision_model.") else k): v.float()
              for k, v in load_file(os.path.join(self.model_dir, "model.safetensors")).items()}
        missing, unexpected = model.load_state_dict(sd, strict=False)
        assert not unexpected and set(missing) <= {"lm_head.weight", "model.vision_embed_tokens.wte.weight"}, (missing, unexpected)
        model.tie_weights()
        return model

    def batch(self, keys):
        return [PF.process_item(self.proc, PF.ITEMS[k][0], self.images.get(k)) for k in keys]

    @staticmethod
    def layout(_keys, processed):
        """(row, tower rows) per image: each item's crops padded to num_crops + 1, all run by CLIP."""
        return [(r, int(np.prod(p["pixel_values"].shape[:-3]))) for r, p in enumerate(processed) if p["pixel_values"] is not None]

    def reps(self, model, processed, dtype):
        """Phi3V_process_fn's right padding and MMEBModel.encode_input's last-token pooling."""
        b = self.tok.pad({"input_ids": [p["ids"] for p in processed]}, return_tensors="pt")
        ids, mask = b["input_ids"], b["attention_mask"]
        if any(p["image_sizes"] is not None for p in processed):
            pv = [None if p["pixel_values"] is None else torch.from_numpy(p["pixel_values"]).to(dtype) for p in processed]
            sizes = [None if p["image_sizes"] is None else torch.as_tensor(p["image_sizes"]) for p in processed]
        else:
            pv, sizes = torch.zeros(ids.shape[0], 1, dtype=dtype), torch.ones(ids.shape[0], 1)
        torch.set_default_dtype(dtype)  # phi3v_fixtures shim 7 (the 4-D mask is built in the default dtype)
        try:
            out = model(input_ids=ids.clone(), attention_mask=mask, pixel_values=pv, image_sizes=sizes,
                        output_hidden_states=True, return_dict=True, use_cache=False)
        finally:
            torch.set_default_dtype(torch.float32)
        h = out.hidden_states[-1]
        last = torch.full((h.shape[0],), h.shape[1] - 1) if bool(mask[:, -1].all()) else mask.sum(dim=1) - 1
        return torch.nn.functional.normalize(h[torch.arange(h.shape[0]), last], dim=-1), ids

    @staticmethod
    def our_name(n):
        n = n.replace(".default.", ".").replace(".default", "")
        if n.startswith("base_model.model."):
            n = n[len("base_model.model."):]
        clip = "model.vision_embed_tokens.img_processor."
        if n.startswith(clip) and not n.startswith(clip + "vision_model."):
            n = clip + "vision_model." + n[len(clip):]
        return n


# ---------------------------------------------------------------- LLaVA-NeXT (transformers)
class LlavaNext:
    name = "llava_next"
    model_dir = os.path.join(FIX, "model", "tiny-llava")
    vision = "vision_tower."

    def __init__(self, _src):
        import llava_next_fixtures as LF
        from transformers import AutoTokenizer, LlavaNextProcessor
        self.LF = LF
        tok = AutoTokenizer.from_pretrained(self.model_dir)
        self.proc = LlavaNextProcessor(image_processor=LF.image_processor(28, LF.TINY_PINPOINTS), tokenizer=tok, patch_size=7,
                                       vision_feature_select_strategy="default", num_additional_image_tokens=1)

    def base(self):
        from transformers import LlavaNextForConditionalGeneration
        return LlavaNextForConditionalGeneration.from_pretrained(self.model_dir, dtype=torch.float32, attn_implementation="sdpa")

    def batch(self, keys):
        return self.LF.process_items(self.proc, [self.LF.PROMPTS[k] for k in keys])

    def layout(self, keys, processed):
        """(row, tower rows) per image: the anyres patches of each image, concatenated in row order."""
        sizes = processed[3]
        rows = [r for r, k in enumerate(keys) for _ in self.LF.PROMPTS[k].get("images", [])]
        return [(r, self.LF.num_patches(tuple(int(x) for x in sz), self.LF.TINY_PINPOINTS, 28)) for r, sz in zip(rows, [] if sizes is None else sizes)]

    def reps(self, model, processed, dtype):
        ids, mask, pv, sizes = processed
        kw = {} if pv is None else {"pixel_values": torch.from_numpy(pv).to(dtype), "image_sizes": torch.from_numpy(sizes)}
        out = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask), output_hidden_states=True, return_dict=True, **kw)
        return torch.nn.functional.normalize(out.hidden_states[-1][:, -1], dim=-1), torch.from_numpy(ids)  # left padding

    @staticmethod
    def our_name(n):
        """peft / transformers 5 names -> the 4.x checkpoint layout the fixture is stored in."""
        n = n.replace(".default.", ".").replace(".default", "")
        if n.startswith("base_model.model."):
            n = n[len("base_model.model."):]
        if n.startswith("model.language_model."):
            return "language_model.model." + n[len("model.language_model."):]
        if n.startswith("model.vision_tower."):
            rest = n[len("model.vision_tower."):]
            return "vision_tower." + (rest if rest.startswith("vision_model.") else "vision_model." + rest)
        if n.startswith("model."):
            return n[len("model."):]
        return n


def make_adapter(bb, kind, out_dir):
    """A peft adapter on the default targets with every factor randomized (bf16-representable values)."""
    pm = get_peft_model(bb.base(), LoraConfig(r=TRAIN["r"], lora_alpha=TRAIN["alpha"], lora_dropout=0.0, use_dora=kind == "dora",
                                              init_lora_weights="gaussian", target_modules=DEFAULT_TARGETS))
    g = torch.Generator().manual_seed(11 if kind == "lora" else 12)
    with torch.no_grad():
        for n, p in pm.named_parameters():
            if "lora_A" in n or "lora_B" in n:  # B small: the adapter moves the outputs without swamping them
                std = 0.3 if "lora_A" in n else 0.05
                p.copy_((std * torch.randn(p.shape, generator=g, dtype=torch.float64)).to(torch.bfloat16).float())
            elif "lora_magnitude_vector" in n:
                p.copy_((p.double() * (1 + 0.2 * torch.randn(p.shape, generator=g, dtype=torch.float64))).float())
    if os.path.exists(out_dir):
        shutil.rmtree(out_dir)
    # transformers-4.x module paths, as the published V1 adapters (and our trainer) write them.
    sd = {f"base_model.model.{bb.our_name(n)}": p.detach().float().contiguous() for n, p in pm.named_parameters() if p.requires_grad}
    sd = {k.replace(".lora_magnitude_vector.weight", ".lora_magnitude_vector"): v for k, v in sd.items()}
    os.makedirs(out_dir)
    save_file(sd, os.path.join(out_dir, "adapter_model.safetensors"), metadata={"format": "pt"})
    modules = sorted({k[len("base_model.model."):].rsplit(".lora_", 1)[0] for k in sd})
    cfg = {"peft_type": "LORA", "r": TRAIN["r"], "lora_alpha": TRAIN["alpha"], "lora_dropout": 0.0, "use_dora": kind == "dora",
           "use_rslora": False, "target_modules": sorted(DEFAULT_TARGETS), "bias": "none", "fan_in_fan_out": False,
           "init_lora_weights": "gaussian", "base_model_name_or_path": None, "task_type": None, "inference_mode": True,
           "rank_pattern": {}, "alpha_pattern": {}, "modules_to_save": None}
    with open(os.path.join(out_dir, "adapter_config.json"), "w") as fh:
        json.dump(cfg, fh, indent=1)
    return {k: v.detach().clone() for k, v in pm.state_dict().items()}, modules


def run(bb, kind, dtype, batches, adapter_state, base=None):
    model = (base or bb.base)()
    if not kind.startswith("full"):
        model = get_peft_model(model, LoraConfig(r=TRAIN["r"], lora_alpha=TRAIN["alpha"], lora_dropout=0.0, use_dora=kind.startswith("dora"),
                                                 init_lora_weights="gaussian", target_modules=DEFAULT_TARGETS))
        model.load_state_dict(adapter_state)
    model = model.to(dtype)
    if "_dropout" in kind:
        use_mask_dropout(bb, model, DROPOUT["p"])
    model.train()  # no other dropout: the model's own rates are 0
    decayed = set(Trainer.get_decay_parameter_names(None, model))
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW([{"params": [p for n, p in params if n in decayed], "weight_decay": TRAIN["weight_decay"]},
                                   {"params": [p for n, p in params if n not in decayed], "weight_decay": 0.0}],
                                  lr=TRAIN["lr"][kind.split("_")[0]], betas=(0.9, 0.999), eps=1e-8)
    sched = get_scheduler(TRAIN["schedule"], optimizer, num_warmup_steps=TRAIN["warmup_steps"], num_training_steps=len(batches))
    losses, lrs, norms, ids = [], [], [], []  # noqa
    gc = kind.endswith("_gc")
    for step, ((qk, qb), (pk, pb)) in enumerate(batches):
        MaskDropout.site.update(seed=DROPOUT["seed"], step=step, side=0, images=image_parts(bb.layout(qk, qb), gc))
        q, qi = bb.reps(model, qb, dtype)
        MaskDropout.site.update(side=1, images=image_parts(bb.layout(pk, pb), gc))
        p, pi = bb.reps(model, pb, dtype)
        loss = contrastive(q, p)
        loss.backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_([p for _, p in params], TRAIN["max_grad_norm"])))
        lrs.append(sched.get_last_lr()[0])
        optimizer.step()
        sched.step()
        optimizer.zero_grad()
        losses.append(float(loss))
        ids.append([qi.tolist(), pi.tolist()])
    out = {}
    for n, p in params:
        k = bb.our_name(n)
        if k == "lm_head.weight":
            continue  # never read by the embedding path (random and untied in the tiny LLaVA: only decay moves it)
        out[k.replace(".lora_magnitude_vector.weight", ".lora_magnitude_vector")] = p.detach().clone()
    return losses, lrs, norms, out, ids


def pad_as_real_model(bb, tmp, batches):
    """The tiny LLaVA from a copy whose text_config.pad_token_id is PAD_AS_REAL (a real token of the batches)."""
    from transformers import LlavaNextForConditionalGeneration
    real = {t for (_, qb), (_, pb) in batches for b in (qb, pb) for t in b[0][b[1] == 1].tolist()}
    assert PAD_AS_REAL in real, "PAD_AS_REAL must be a real token of the steps' batches"
    for f in os.listdir(bb.model_dir):
        if os.path.isfile(os.path.join(bb.model_dir, f)):
            shutil.copy(os.path.join(bb.model_dir, f), tmp)
    with open(os.path.join(tmp, "config.json")) as fh:
        cfg = json.load(fh)
    cfg["text_config"]["pad_token_id"] = PAD_AS_REAL
    with open(os.path.join(tmp, "config.json"), "w") as fh:
        json.dump(cfg, fh, indent=2)

    def base():
        m = LlavaNextForConditionalGeneration.from_pretrained(tmp, dtype=torch.float32, attn_implementation="sdpa")
        e = m.get_input_embeddings()
        assert e.padding_idx == PAD_AS_REAL
        ref = load_file(os.path.join(tmp, "model.safetensors"))
        stored = next(v for k, v in ref.items() if k.endswith("embed_tokens.weight"))
        assert torch.equal(e.weight[PAD_AS_REAL].detach(), stored[PAD_AS_REAL].float()), "the loaded padding row is the file's"
        return m

    return base


def mask_samples(bb, modules):
    """Masks MaskDropout draws (keep 1 / drop 0, flattened) at small shapes: a CLIP module over two
    images, whole batch and GradCache chunks of one row, and a language-model module."""
    clip = next(m for m in modules if m.startswith(bb.vision) and m.endswith("layers.0.self_attn.q_proj"))
    lm = next(m for m in modules if not m.startswith(bb.vision))
    out = []
    for module, vision, images, shape in [(clip, True, [(2, 0, 0), (3, 0, 1)], [5, 3, 16]), (clip, True, [(2, 0, 0), (3, 1, 0)], [5, 3, 16]),
                                          (lm, False, [], [2, 3, 16])]:
        MaskDropout.site.update(seed=DROPOUT["seed"], step=2, side=1, images=images)
        y = MaskDropout(0.3, module, vision)(torch.ones(shape, dtype=torch.float64))
        out.append({"module": module, "p": 0.3, "seed": DROPOUT["seed"], "step": 2, "side": 1, "images": images, "shape": shape,
                    "keep": (y != 0).to(torch.int64).reshape(-1).tolist()})
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, choices=["phi3v", "llava_next"])
    ap.add_argument("--vlm2vec-src", help="a checkout of TIGER-AI-Lab/VLM2Vec (phi3v)")
    a = ap.parse_args()
    if a.model == "phi3v" and not a.vlm2vec_src:
        sys.exit("--model phi3v needs --vlm2vec-src")
    bb = Phi3V(a.vlm2vec_src) if a.model == "phi3v" else LlavaNext(None)
    out = os.path.join(FIX, "train", "v1", a.model)
    os.makedirs(out, exist_ok=True)
    batches = [((q, bb.batch(q)), (p, bb.batch(p))) for q, p in STEPS[a.model]]
    meta = {"generator": "tools/reference/train_step_v1.py", "model": os.path.relpath(bb.model_dir, FIX), "temperature": TEMPERATURE,
            "steps": [{"queries": q, "targets": p} for q, p in STEPS[a.model]], **{k: v for k, v in TRAIN.items() if k != "lr"},
            "targets": DEFAULT_TARGETS, "runs": {}}
    states = {}
    kinds = KINDS + (["full_pad"] if a.model == "llava_next" else [])
    for kind in kinds:
        base_kind = kind.split("_")[0]
        if base_kind != "full" and base_kind not in states:
            states[base_kind] = make_adapter(bb, base_kind, os.path.join(out, f"adapter-{base_kind}"))
        state, modules = states.get(base_kind, (None, None))
        with tempfile.TemporaryDirectory() as tmp:
            base = None
            if kind == "full_pad":
                base = pad_as_real_model(bb, tmp, batches)
            l32, lr32, n32, w32, ids = run(bb, kind, torch.float32, batches, state, base)
            l64, lr64, n64, w64, _ = run(bb, kind, torch.float64, batches, state, base)
        assert lr32 == lr64 and lr32[0] == 0.0
        # CLIP's key biases have an exact gradient of zero (softmax ignores a constant per query):
        # only float noise moves them, and AdamW scales that noise up to lr-sized steps, so they are
        # measured apart from the rest.
        key_bias = [k for k in w32 if k.endswith("self_attn.k_proj.bias")]
        noise = max(float((w32[k].double() - w64[k]).abs().max()) for k in w32 if k not in key_bias)
        key_bias_noise = max([float((w32[k].double() - w64[k]).abs().max()) for k in key_bias], default=0.0)
        print(f"{a.model} {kind}: losses {l32} (f64 {l64}), norms {n32}; f32 vs f64 weights {noise:.3g}; {len(w32)} tensors")
        tensors = dict(w32)
        tensors.update({f"f64.{k}": v.float() for k, v in w64.items()})
        extra = {}
        if base_kind == "full":
            emb = next(k for k in w32 if k.endswith("embed_tokens.weight"))
            used = torch.unique(torch.tensor([t for s in ids for side in s for row in side for t in row]))
            used = used[used >= 0]  # Phi-3-V's image placeholders are negative ids (looked up as row 0)
            used = torch.cat([used, torch.tensor([5, 1000, 20000])])
            tensors[emb] = w32[emb][used]
            tensors[f"f64.{emb}"] = w64[emb][used].float()
            tensors["embed_tokens.ids"] = used.to(torch.int64)
            if kind == "full_pad":
                # The padding row moved by weight decay alone; in the plain full run it has a gradient.
                w0 = bb.base().state_dict()
                row0 = next(v for k, v in w0.items() if k.endswith("embed_tokens.weight"))[PAD_AS_REAL].double()
                decayed = row0 * math.prod(1 - lr * TRAIN["weight_decay"] for lr in lr32)
                assert float((w64[emb][PAD_AS_REAL] - decayed).abs().max()) < 1e-12, "the padding row got a gradient"
                extra = {"pad_token_id": PAD_AS_REAL, "pad_row_moved": float((w64[emb][PAD_AS_REAL] - row0).abs().max()),
                         "pad_row_moved_without_padding_idx": float((full_rows[PAD_AS_REAL] - row0).abs().max())}
            else:
                full_rows = w64[emb]
        save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(out, f"{kind}.safetensors"))
        meta["runs"][kind] = {"lr": TRAIN["lr"][base_kind], "loss_per_step": l32, "loss_per_step_float64": l64, "lr_per_step": lr32,
                              "grad_norm_per_step": n32, "grad_norm_per_step_float64": n64, "float32_vs_float64_max_abs": noise,
                              "key_bias_float32_vs_float64_max_abs": key_bias_noise, "trainable": len(w32),
                              **({} if modules is None else {"adapted_modules": len(modules)}), **extra}
        if kind == "lora":
            meta["input_ids"] = ids
        else:
            assert ids == meta["input_ids"]
    meta["dropout"] = {**DROPOUT, "gc_chunk_rows": 1}
    meta["mask_samples"] = mask_samples(bb, states["lora"][1])
    meta["versions"] = {"torch": torch.__version__, "peft": __import__("peft").__version__, "transformers": __import__("transformers").__version__}
    with open(os.path.join(out, "steps.json"), "w") as fh:
        json.dump(meta, fh, indent=1)
    print("wrote", out)


if __name__ == "__main__":
    main()
