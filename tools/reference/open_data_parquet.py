"""What pyarrow reads from the parquet file our open-data writer (hyparquet-writer) produces.

Reads test/fixtures/open-data/columns.parquet (written by test/open-data/parquet-fixture.ts) and
writes columns.pyarrow.json next to it: the arrow schema as text and every value, bytes as lists
of ints and int64 as decimal strings (JSON numbers would lose precision beyond 2^53).
"""
import json
import pathlib

import pyarrow.parquet as pq

here = pathlib.Path(__file__).resolve().parents[2] / "test" / "fixtures" / "open-data"
table = pq.read_table(here / "columns.parquet")


def plain(v):
    if isinstance(v, bytes):
        return list(v)
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [plain(x) for x in v]
    if isinstance(v, int):
        return str(v)
    return v


out = {
    "schema": [f"{f.name}: {f.type}" for f in table.schema],
    "rows": [plain(r) for r in table.to_pylist()],
}
(here / "columns.pyarrow.json").write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
print(json.dumps(out["schema"]))
