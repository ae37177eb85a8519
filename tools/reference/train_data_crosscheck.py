"""Cross-check of test/fixtures/train/data/expected-mixture.json against the reference's own code.

train_data_fixtures.py re-implements the reference's interleave loop; this script runs the real
one instead: `interleave_datasets` of TIGER-AI-Lab/VLM2Vec src/data/dataset/hf_datasets.py (for
an interleave batch size > 0) and HF `datasets.interleave_datasets` (batch size 0, the reference's
path for `homogeneous_batch_size_per_device` 0), each over IterableDatasets of one shard, and
checks that every case's (source, row) order equals the fixture's.

Usage: PYTHON tools/reference/train_data_crosscheck.py /path/to/VLM2Vec-checkout
Needs `datasets` (checked with 5.0.1) and numpy; not torch: the reference's logging helper module
(src/utils/basic_utils.py, which imports torch) is replaced by a stub.
"""

import json
import os
import sys
import types

from datasets import Dataset, Features, Value
from datasets import interleave_datasets as hf_interleave

FEATURES = Features({"s": Value("int64"), "r": Value("int64")})  # declared, as the reference declares its own
FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "fixtures", "train", "data", "expected-mixture.json")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.path.insert(0, sys.argv[1])
    stub = types.ModuleType("src.utils.basic_utils")
    stub.print_master = lambda *a, **k: None
    stub.print_rank = lambda *a, **k: None
    sys.modules["src.utils.basic_utils"] = stub
    from src.data.dataset.hf_datasets import interleave_datasets as ref_interleave

    cases = json.load(open(FIXTURE))["cases"]
    failed = 0
    for c in cases:
        # Like the reference's sources: an iterable of one shard, mapped in batches (an empty
        # source = one whose rows the parser all skipped).
        sources = [Dataset.from_dict({"s": [i] * max(n, 1), "r": list(range(max(n, 1)))}).to_iterable_dataset(num_shards=1)
                   .map(lambda b: b, batched=True, batch_size=2048, features=FEATURES).filter(lambda ex, n=n: n > 0)
                   for i, n in enumerate(c["lengths"])]
        s = sum(c["weights"])
        probs = [w / s for w in c["weights"]]
        if c["batch_size"] > 0:
            mixed = ref_interleave(sources, probabilities=probs, batch_size=c["batch_size"], seed=c["seed"],
                                   stopping_strategy=c["stopping_strategy"])
        else:
            mixed = hf_interleave(sources, probabilities=probs, seed=c["seed"], stopping_strategy=c["stopping_strategy"])
        order = []
        for ex in mixed:
            if len(order) >= c["limit"]:
                break
            order.append([ex["s"], ex["r"]])
        ok = order == c["order"]
        failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {c['name']}: {len(order)} examples")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
