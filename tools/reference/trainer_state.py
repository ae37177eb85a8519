"""transformers' own trainer_state.json for a fixed TrainerState (src/train/checkpoint-trainer-state.test.ts).

TrainerState.save_to_json (transformers 5.18) of the state below, floats as Python writes them
(2.0, 5e-05, 1e+16, NaN, Infinity). The TS test builds the same state and must write these bytes.
Writes test/fixtures/train/checkpoint/trainer_state.json. Run from the repository root:
    tools/reference/.venv/bin/python tools/reference/trainer_state.py
"""

import os

from transformers.trainer_callback import TrainerState

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "test", "fixtures", "train", "checkpoint", "trainer_state.json")

state = TrainerState(
    epoch=0.75, global_step=3, max_steps=4, logging_steps=1, save_steps=2, train_batch_size=8,
    num_train_epochs=1, total_flos=0.0,
    log_history=[
        {"loss": 2.0794415416798357, "grad_norm": 1.2345678806304932, "learning_rate": 0.0, "epoch": 0.25, "step": 1},
        {"loss": 2.0, "grad_norm": float("nan"), "learning_rate": 5e-05, "epoch": 0.5, "step": 2},
        {"loss": 1.5e-07, "grad_norm": float("inf"), "learning_rate": 2.5e-05, "epoch": 0.75, "step": 3},
        {"train_runtime": 12.3456, "train_samples_per_second": 1e16, "total_flos": 0.0, "train_loss": 123456789.0,
         "epoch": 1.0, "step": 4},
    ],
)
state.save_to_json(OUT)
print("wrote", OUT)
