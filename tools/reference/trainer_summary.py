"""HF Trainer's end-of-training log entry for a model like the reference's (src/train/loop.test.ts).

The reference trains an `MMEBModel`, a plain torch.nn.Module (no `num_parameters`, fed a dict
without `input_ids`), on an IterableDataset without a length, with `max_steps`. This runs
transformers 5.18's Trainer on such a stand-in (a linear layer, a made-up loss) for 3 steps of
batch 2 and records the last `log_history` entry: its keys in order, `total_flos`, whether
`train_loss` is the mean of the logged step losses, and the speeds against the runtime, which
together fix what `trainSummary` (src/train/loop.ts) must write.
Writes test/fixtures/train/trainer_summary.json. Run from the repository root:
    tools/reference/.venv/bin/python tools/reference/trainer_summary.py
"""

import json
import os
import sys
import tempfile

try:  # a torchvision built for another torch breaks `import transformers`; nothing here needs it
    import torchvision  # noqa: F401
except Exception:
    sys.modules["torchvision"] = None
import torch
from torch.utils.data import IterableDataset
from transformers import Trainer, TrainingArguments

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "test", "fixtures", "train", "trainer_summary.json")


class Pairs(IterableDataset):
    def __iter__(self):
        g = torch.Generator().manual_seed(0)
        for _ in range(100):
            yield {"qry": torch.randn(4, generator=g), "tgt": torch.randn(4, generator=g)}


class Model(torch.nn.Module):
    """Like MMEBModel: an nn.Module whose forward takes qry/tgt and returns a loss."""

    def __init__(self):
        super().__init__()
        self.proj = torch.nn.Linear(4, 4)

    def forward(self, qry, tgt):
        q = torch.nn.functional.normalize(self.proj(qry), dim=-1)
        t = torch.nn.functional.normalize(self.proj(tgt), dim=-1)
        scores = q @ t.T / 0.05
        return {"loss": torch.nn.functional.cross_entropy(scores, torch.arange(q.shape[0]))}


torch.manual_seed(0)
with tempfile.TemporaryDirectory() as out:
    args = TrainingArguments(output_dir=out, max_steps=3, per_device_train_batch_size=2, logging_steps=1,
                             save_strategy="no", report_to=[], learning_rate=1e-2, use_cpu=True, remove_unused_columns=False)
    trainer = Trainer(model=Model(), args=args, train_dataset=Pairs())
    trainer.train()
    log = trainer.state.log_history
    steps = [e for e in log if "loss" in e]
    last = log[-1]
    runtime = last["train_runtime"]
    golden = {
        "keys": list(last.keys()),
        "total_flos": last["total_flos"],
        "step": last["step"],
        "epoch": last["epoch"],
        "train_loss": last["train_loss"],
        "mean_logged_loss": sum(e["loss"] for e in steps) / len(steps),
        "samples_per_second_times_runtime": last["train_samples_per_second"] * runtime,
        "steps_per_second_times_runtime": last["train_steps_per_second"] * runtime,
        "runtime_decimals": len(repr(runtime).split(".")[1]) if "." in repr(runtime) else 0,
    }
with open(OUT, "w") as f:
    json.dump(golden, f, indent=1)
    f.write("\n")
print(json.dumps(golden, indent=1))
