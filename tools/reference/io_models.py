"""Reference fixtures for src/io (safetensors, model folders, configs, PEFT adapters).

Writes, under test/fixtures/io/ (all tiny, KBs; see test/fixtures/io/models/README.md):
  safetensors/all_dtypes.safetensors + .json  every dtype, written by the Python `safetensors` library
  safetensors/conversions.safetensors         f32 values and torch's f16 / bf16 roundings of them
  models/qwen2vl-tiny/                        transformers 5.18 save_pretrained of a tiny random
                                              Qwen2VLForConditionalGeneration (nested text_config
                                              layout, f32, sharded with an index)
  models/qwen2vl-tiny-flat/                   the same model in the flat transformers-4.x layout the
                                              real Qwen2-VL / VLM2Vec checkpoints carry (hand-written
                                              config.json with Qwen2-VL-2B-Instruct's keys, bf16
                                              weights in one model.safetensors)
  models/qwen2vl-tiny-dora/                   PEFT 0.21 DoRA adapter on qwen2vl-tiny
  models/dora-merged-reference.safetensors    PEFT merge_and_unload() of that adapter (merged weights)
  models/configs/*.json                       config.json variants (real 2B flat, the same converted to
                                              the nested layout by transformers 5.18, a VLM2Vec
                                              trainer-saved 4.x config, an unknown model_type)

Regenerate (from the repository root; deterministic, seeds fixed):
    tools/reference/.venv/bin/python tools/reference/io_models.py
"""

import json
import os
import shutil
import tempfile

import numpy as np
import torch
from safetensors.torch import save_file, load_file

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIX = os.path.join(ROOT, "test", "fixtures", "io")
ST = os.path.join(FIX, "safetensors")
MODELS = os.path.join(FIX, "models")
# The real Qwen tokenizer (source and license in test/fixtures/model/README.md).
TOKENIZER_DIR = os.path.join(ROOT, "test", "fixtures", "model", "tiny-a")

torch.set_num_threads(1)


def raw_hex(t: torch.Tensor) -> str:
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.numpy().tobytes().hex()


# ----------------------------------------------------------------------------- safetensors
def safetensors_fixtures() -> None:
    os.makedirs(ST, exist_ok=True)
    g = torch.Generator().manual_seed(1)
    f32 = torch.tensor([[0.0, -0.0, 1.5, -2.25], [1e-40, 3.4e38, float("inf"), float("-inf")], [0.1, -0.3, 7.0, 1e-8]])
    tensors = {
        "model.embed.f32": f32,
        "model.layers.0.h.f16": torch.tensor([1.0, -2.5, 65504.0, 6e-8, 0.1, float("inf")], dtype=torch.float16),
        "model.layers.0.w.bf16": torch.randn(3, 5, generator=g).to(torch.bfloat16),
        "ids.i64": torch.tensor([0, -1, 2**62, -(2**63), 151655], dtype=torch.int64),
        "grid.i32": torch.tensor([[1, 2, 3], [-7, 2**31 - 1, -(2**31)]], dtype=torch.int32),
        "pixels.u8": torch.tensor([0, 1, 127, 128, 255], dtype=torch.uint8),
        "mask.bool": torch.tensor([[True, False, True], [False, False, True]]),
        "scalar.f32": torch.tensor(3.5),
        "empty.f32": torch.zeros(0, 4),
    }
    path = os.path.join(ST, "all_dtypes.safetensors")
    save_file(tensors, path, metadata={"format": "pt"})
    index = {}
    for name, t in tensors.items():
        entry = {"dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape), "hex": raw_hex(t)}
        if t.is_floating_point():
            # float32 values as torch widens them; inf written as strings for JSON.
            entry["f32"] = [v if np.isfinite(v) else str(v) for v in t.float().flatten().tolist()]
        index[name] = entry
    with open(os.path.join(ST, "all_dtypes.json"), "w") as fh:
        json.dump({"generator": "tools/reference/io_models.py", "metadata": {"format": "pt"}, "tensors": index}, fh, indent=1)

    # f32 -> f16 / bf16 rounding goldens: edge cases (ties, subnormals, overflow, NaN) + random.
    special = [0.0, -0.0, 1.0, -1.0, 65504.0, 65519.0, 65520.0, 1e6, -1e6, 6.1e-5, 6.0e-8, 2.98e-8, 3.0e-8,
               1e-10, 1.0009765625, 1.00048828125, 1.00146484375, 1.001953125, 3.4028234663852886e38,
               1.17549435e-38, 1e-45, float("inf"), float("-inf"), 0.1, 0.2, 0.3, 1 / 3, -1 / 3]
    ties_bf16 = np.array([0x3F808000, 0x3F818000, 0x3F80C000, 0x7F7FFFFF, 0x00008000, 0x80018000], dtype=np.uint32).view(np.float32)
    ties_f16 = np.array([0x3F801000, 0x3F803000, 0x38001000, 0x33800000, 0x33000001, 0x33000000, 0x477FF000, 0x477FEFFF], dtype=np.uint32).view(np.float32)
    rand = torch.randn(512, generator=g) * torch.exp(torch.randn(512, generator=g) * 6)
    src = torch.cat([torch.tensor(special, dtype=torch.float32), torch.from_numpy(ties_bf16.copy()),
                     torch.from_numpy(ties_f16.copy()), rand.float()])
    save_file({"src.f32": src, "torch.bf16": src.to(torch.bfloat16), "torch.f16": src.to(torch.float16),
               "bf16_back.f32": src.to(torch.bfloat16).float(), "f16_back.f32": src.to(torch.float16).float()},
              os.path.join(ST, "conversions.safetensors"), metadata={"format": "pt"})


# ----------------------------------------------------------------------------- models
TINY_TEXT = dict(vocab_size=512, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, max_position_embeddings=1024, rms_norm_eps=1e-6, rope_theta=1000000.0,
                 rope_scaling={"type": "mrope", "mrope_section": [2, 1, 1]}, hidden_act="silu",
                 bos_token_id=151643, eos_token_id=151645)
TINY_VISION = dict(depth=2, embed_dim=16, num_heads=2, mlp_ratio=2, hidden_size=32, patch_size=14,
                   temporal_patch_size=2, spatial_merge_size=2, in_channels=3)
TINY_IDS = dict(image_token_id=500, video_token_id=501, vision_start_token_id=502, vision_end_token_id=503)

# The real Qwen/Qwen2-VL-2B-Instruct config.json (transformers 4.41 era, flat layout).
QWEN2VL_2B = {
    "architectures": ["Qwen2VLForConditionalGeneration"],
    "attention_dropout": 0.0,
    "bos_token_id": 151643,
    "eos_token_id": 151645,
    "vision_start_token_id": 151652,
    "vision_end_token_id": 151653,
    "vision_token_id": 151654,
    "image_token_id": 151655,
    "video_token_id": 151656,
    "hidden_act": "silu",
    "hidden_size": 1536,
    "initializer_range": 0.02,
    "intermediate_size": 8960,
    "max_position_embeddings": 32768,
    "max_window_layers": 28,
    "model_type": "qwen2_vl",
    "num_attention_heads": 12,
    "num_hidden_layers": 28,
    "num_key_value_heads": 2,
    "rms_norm_eps": 1e-06,
    "rope_theta": 1000000.0,
    "sliding_window": 32768,
    "tie_word_embeddings": True,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.41.2",
    "use_cache": True,
    "use_sliding_window": False,
    "vision_config": {
        "depth": 32,
        "embed_dim": 1280,
        "mlp_ratio": 4,
        "num_heads": 16,
        "in_chans": 3,
        "hidden_size": 1536,
        "patch_size": 14,
        "spatial_merge_size": 2,
        "spatial_patch_size": 14,
        "temporal_patch_size": 2,
    },
    "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]},
    "vocab_size": 151936,
}

QWEN2VL_2B_PREPROCESSOR = {
    "min_pixels": 3136,
    "max_pixels": 12845056,
    "patch_size": 14,
    "temporal_patch_size": 2,
    "merge_size": 2,
    "image_mean": [0.48145466, 0.4578275, 0.40821073],
    "image_std": [0.26862954, 0.26130258, 0.27577711],
    "image_processor_type": "Qwen2VLImageProcessor",
    "processor_class": "Qwen2VLProcessor",
}

# Generic PretrainedConfig keys a transformers-4.4x `to_dict()` writes into nested sub-configs.
GENERIC_4X = {
    "_name_or_path": "", "add_cross_attention": False, "architectures": None, "bad_words_ids": None,
    "begin_suppress_tokens": None, "bos_token_id": None, "chunk_size_feed_forward": 0,
    "cross_attention_hidden_size": None, "decoder_start_token_id": None, "diversity_penalty": 0.0,
    "do_sample": False, "early_stopping": False, "encoder_no_repeat_ngram_size": 0, "eos_token_id": None,
    "exponential_decay_length_penalty": None, "finetuning_task": None, "forced_bos_token_id": None,
    "forced_eos_token_id": None, "id2label": {"0": "LABEL_0", "1": "LABEL_1"}, "is_decoder": False,
    "is_encoder_decoder": False, "label2id": {"LABEL_0": 0, "LABEL_1": 1}, "length_penalty": 1.0,
    "max_length": 20, "min_length": 0, "no_repeat_ngram_size": 0, "num_beam_groups": 1, "num_beams": 1,
    "num_return_sequences": 1, "output_attentions": False, "output_hidden_states": False,
    "output_scores": False, "pad_token_id": None, "prefix": None, "problem_type": None, "pruned_heads": {},
    "remove_invalid_values": False, "repetition_penalty": 1.0, "return_dict": True,
    "return_dict_in_generate": False, "sep_token_id": None, "suppress_tokens": None,
    "task_specific_params": None, "temperature": 1.0, "tf_legacy_loss": False, "tie_encoder_decoder": False,
    "tie_word_embeddings": True, "tokenizer_class": None, "top_k": 50, "top_p": 1.0, "torch_dtype": None,
    "torchscript": False, "typical_p": 1.0, "use_bfloat16": False,
}


def flat_config(text: dict, vision: dict, ids: dict, tie: bool) -> dict:
    """A config.json in the flat transformers-4.x layout, with Qwen2-VL-2B-Instruct's key set."""
    out = {k: v for k, v in QWEN2VL_2B.items()}
    for k in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
              "num_key_value_heads", "max_position_embeddings", "rms_norm_eps", "rope_theta", "hidden_act",
              "bos_token_id", "eos_token_id"):
        out[k] = text[k]
    out["max_window_layers"] = text["num_hidden_layers"]
    out.update(ids)
    out["vision_token_id"] = ids["vision_start_token_id"] + 2
    out["tie_word_embeddings"] = tie
    out["rope_scaling"] = {"type": "mrope", "mrope_section": text["rope_scaling"]["mrope_section"]}
    v = {k: vision[k] for k in ("depth", "embed_dim", "mlp_ratio", "num_heads", "hidden_size", "patch_size",
                                "spatial_merge_size", "temporal_patch_size")}
    v["in_chans"] = vision["in_channels"]
    v["spatial_patch_size"] = vision["patch_size"]
    out["vision_config"] = v
    return out


def trainer_saved_config() -> dict:
    """What VLM2Vec's trainer saves with transformers 4.45-4.49: the flat layout, padding_side and
    use_cache edits, a normalized rope_scaling and the full generic key set in vision_config."""
    out = dict(QWEN2VL_2B)
    out["_name_or_path"] = "Qwen/Qwen2-VL-2B-Instruct"
    out["padding_side"] = "left"
    out["use_cache"] = False
    out["transformers_version"] = "4.45.2"
    out["rope_scaling"] = {"mrope_section": [16, 24, 24], "rope_type": "default", "type": "default"}
    v = dict(GENERIC_4X)
    v.update(QWEN2VL_2B["vision_config"])
    v["in_channels"] = 3
    v["model_type"] = "qwen2_vl"
    v["tie_word_embeddings"] = True
    out["vision_config"] = dict(sorted(v.items()))
    return out


def model_fixtures() -> None:
    from transformers import AutoTokenizer, Qwen2VLConfig, Qwen2VLForConditionalGeneration
    from peft import LoraConfig, PeftModel, get_peft_model

    if os.path.isdir(MODELS):
        for name in ("qwen2vl-tiny", "qwen2vl-tiny-flat", "qwen2vl-tiny-dora", "configs"):
            shutil.rmtree(os.path.join(MODELS, name), ignore_errors=True)
    os.makedirs(MODELS, exist_ok=True)
    tiny_dir = os.path.join(MODELS, "qwen2vl-tiny")
    flat_dir = os.path.join(MODELS, "qwen2vl-tiny-flat")
    dora_dir = os.path.join(MODELS, "qwen2vl-tiny-dora")
    cfg_dir = os.path.join(MODELS, "configs")
    for d in (flat_dir, cfg_dir):
        os.makedirs(d)

    cfg = Qwen2VLConfig(text_config=dict(TINY_TEXT), vision_config=dict(TINY_VISION), **TINY_IDS,
                        tie_word_embeddings=False)
    torch.manual_seed(0)
    model = Qwen2VLForConditionalGeneration(cfg).eval()
    with torch.no_grad():  # random non-trivial norms and biases, so a loader that zeroes them is caught
        for name, p in model.named_parameters():
            if name.endswith("norm.weight") or name.endswith("norm1.weight") or name.endswith("norm2.weight") or name.endswith("ln_q.weight"):
                p.copy_(1 + 0.1 * torch.randn_like(p))
            elif name.endswith(".bias"):
                p.copy_(0.05 * torch.randn_like(p))
    model.save_pretrained(tiny_dir, max_shard_size="100KB")

    # Tokenizer / preprocessor files as transformers 5.18 writes them (tokenizer.json itself is the
    # 11 MB npm one; we keep only tokenizer_config.json).
    tok = AutoTokenizer.from_pretrained(TOKENIZER_DIR, padding_side="left")
    tmp = tempfile.mkdtemp()
    tok.save_pretrained(tmp)
    shutil.copy(os.path.join(tmp, "tokenizer_config.json"), tiny_dir)
    pre = dict(QWEN2VL_2B_PREPROCESSOR)
    pre.update({"min_pixels": 3136, "max_pixels": 1003520,
                "size": {"shortest_edge": 3136, "longest_edge": 1003520}, "do_resize": True,
                "do_rescale": True, "rescale_factor": 0.00392156862745098, "do_normalize": True,
                "do_convert_rgb": True, "resample": 3})
    with open(os.path.join(tiny_dir, "preprocessor_config.json"), "w") as fh:
        json.dump(pre, fh, indent=2)

    # Flat 4.x layout of the same model, bf16 weights in one file (what real checkpoints look like).
    flat = flat_config(TINY_TEXT, TINY_VISION, TINY_IDS, tie=False)
    with open(os.path.join(flat_dir, "config.json"), "w") as fh:
        json.dump(flat, fh, indent=2)
    # Read back the shards: save_pretrained writes checkpoint names (model.layers.*, visual.*), while
    # transformers 5's in-memory state_dict uses model.language_model.* / model.visual.*.
    state = {}
    for shard in sorted(f for f in os.listdir(tiny_dir) if f.endswith(".safetensors")):
        state.update({k: v.to(torch.bfloat16).contiguous() for k, v in load_file(os.path.join(tiny_dir, shard)).items()})
    save_file(state, os.path.join(flat_dir, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(flat_dir, "preprocessor_config.json"), "w") as fh:
        json.dump(QWEN2VL_2B_PREPROCESSOR, fh, indent=2)
    shutil.copy(os.path.join(TOKENIZER_DIR, "tokenizer_config.json"), flat_dir)

    # transformers must read the hand-written flat config as the same model as the nested one.
    reread = Qwen2VLConfig.from_pretrained(flat_dir)
    for k in ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
              "num_key_value_heads", "vocab_size", "rms_norm_eps", "max_position_embeddings"):
        assert getattr(reread.text_config, k) == getattr(cfg.text_config, k), k
    assert reread.text_config.rope_parameters["mrope_section"] == [2, 1, 1]
    for k in ("depth", "embed_dim", "num_heads", "hidden_size", "patch_size", "in_channels"):
        assert getattr(reread.vision_config, k) == getattr(cfg.vision_config, k), k

    # Config variants.
    with open(os.path.join(cfg_dir, "qwen2vl-2b-instruct.flat.json"), "w") as fh:
        json.dump(QWEN2VL_2B, fh, indent=2)
    conv_dir = tempfile.mkdtemp()
    with open(os.path.join(conv_dir, "config.json"), "w") as fh:
        json.dump(QWEN2VL_2B, fh)
    Qwen2VLConfig.from_pretrained(conv_dir).save_pretrained(conv_dir)  # transformers 5 rewrites it nested
    shutil.copy(os.path.join(conv_dir, "config.json"), os.path.join(cfg_dir, "qwen2vl-2b-instruct.nested-5.18.json"))
    with open(os.path.join(cfg_dir, "vlm2vec-trainer-4.45.flat.json"), "w") as fh:
        json.dump(trainer_saved_config(), fh, indent=2)
    with open(os.path.join(cfg_dir, "unknown-model-type.json"), "w") as fh:
        json.dump({"architectures": ["MambaForCausalLM"], "model_type": "mamba", "hidden_size": 768}, fh, indent=2)

    # PEFT DoRA adapter, VLM2Vec's recipe scaled down (r=4, alpha=16, targets q,k,v,o,down_proj).
    base = Qwen2VLForConditionalGeneration.from_pretrained(os.path.relpath(tiny_dir, ROOT) if os.getcwd() == ROOT else tiny_dir)
    lcfg = LoraConfig(r=4, lora_alpha=16, lora_dropout=0.1, init_lora_weights="gaussian", use_dora=True,
                      target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "down_proj"])
    peft_model = get_peft_model(base, lcfg)
    torch.manual_seed(1)
    with torch.no_grad():  # trained-looking adapter: B != 0 and magnitudes off the base norms
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.copy_(0.2 * torch.randn_like(p))
            elif "lora_magnitude_vector" in name:
                p.mul_(1 + 0.1 * torch.randn_like(p))
    peft_model.save_pretrained(dora_dir)
    os.remove(os.path.join(dora_dir, "README.md"))  # PEFT's model-card template, irrelevant here
    # PEFT stores target_modules from a set: sort it so regenerating gives identical bytes.
    acfg_path = os.path.join(dora_dir, "adapter_config.json")
    with open(acfg_path) as fh:
        acfg = json.load(fh)
    acfg["target_modules"] = sorted(acfg["target_modules"])
    with open(acfg_path, "w") as fh:
        json.dump(acfg, fh, indent=2, sort_keys=True)
    merged = PeftModel.from_pretrained(
        Qwen2VLForConditionalGeneration.from_pretrained(tiny_dir), dora_dir).merge_and_unload()
    targets = {}
    sd = merged.state_dict()
    base_sd = load_file(os.path.join(flat_dir, "model.safetensors"))  # names in checkpoint layout
    for k in base_sd:
        if any(f".{t}.weight" in k for t in lcfg.target_modules):
            sk = k
            if sk not in sd:
                sk = k.replace("model.", "model.language_model.", 1)
            targets[k] = sd[sk].detach().float().contiguous()
    save_file(targets, os.path.join(MODELS, "dora-merged-reference.safetensors"), metadata={"format": "pt"})


if __name__ == "__main__":
    safetensors_fixtures()
    model_fixtures()
    print("fixtures written under", FIX)
