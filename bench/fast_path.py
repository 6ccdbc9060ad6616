"""Fast-path throughput per key (sequences/s) at batch 256 and batch 1, of the shipped model.

Not a test: ratios measured in one run on one machine (2 CPU cores here; keep the machine quiet).

    python bench/fast_path.py --unfused --out bench/results/fast_path_cpu.json

Keys: one per number path family (promoter and terminator strength, a natural-promoter condition, a synthetic
library condition, a maize tissue). Sequences: the fixture promoters (170 bp) and terminators, repeated.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import torch
from _common import report, timed

ROOT = Path(__file__).resolve().parents[1]
KEYS = (
    "promoter_strength/leaf",
    "terminator_strength/protoplast",
    "natural_promoter/leaf_noENH_dark",
    "synthetic_promoter/leaf_withENH_dark",
    "tissue_expression/maize:mature pollen",
)


def sequences(key: str, n: int) -> list[str]:
    """``n`` fixture sequences of the key's kind (terminators for terminator keys, else promoters)."""
    fixtures = ROOT / "tests" / "fixtures"
    if key.startswith("terminator"):
        lines = (fixtures / "terminators_train_8.tsv").read_text().splitlines()
        pool = [ln.split("\t")[4] for ln in lines if ln and not ln.startswith(("#", "id\t"))]
    else:
        with open(fixtures / "promoters_leaf_64.tsv") as f:
            rows = csv.DictReader((ln for ln in f if not ln.startswith("#")), delimiter="\t")
            pool = [r["sequence"] for r in rows]
    return [pool[i % len(pool)] for i in range(n)]


def _batch(assistant, seqs: list[str], key: str) -> None:
    assistant.predict(seqs, *key.split("/", 1), explanations=False, batch_size=256)


def _one_by_one(assistant, seqs: list[str], key: str) -> None:
    for s in seqs:
        assistant.predict(s, *key.split("/", 1), explanations=False)


def rates(assistant, n256: int, n1: int, repeats: int, unfused: bool = False) -> dict:
    """Sequences/s per key at batch 256 and 1; ``unfused``: batch 1 also with every number path run alone
    (``FUSE_MAX = 0``, as before :mod:`agrochat.bridge.fused`), in the same run."""
    import agrochat.bridge.model as model_module

    out = {}
    for key in KEYS:
        big, small = sequences(key, n256), sequences(key, n1)
        t256 = timed(lambda big=big, key=key: _batch(assistant, big, key), repeats)["median_s"]
        t1 = timed(lambda small=small, key=key: _one_by_one(assistant, small, key), repeats)["median_s"]
        out[key] = {"batch_256_seq_per_s": round(n256 / t256, 1), "batch_1_seq_per_s": round(n1 / t1, 1)}
        if unfused:
            fuse_max, model_module.FUSE_MAX = model_module.FUSE_MAX, 0
            try:
                t = timed(lambda small=small, key=key: _one_by_one(assistant, small, key), repeats)[
                    "median_s"
                ]
            finally:
                model_module.FUSE_MAX = fuse_max
            out[key]["batch_1_unfused_seq_per_s"] = round(n1 / t, 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n256", type=int, default=1024, help="sequences per batch-256 measurement")
    ap.add_argument("--n1", type=int, default=64, help="sequences per batch-1 measurement")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--unfused", action="store_true", help="batch 1 also with the number paths run one by one"
    )
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    from agrochat.chat import DEFAULT_MODEL_DIR, Assistant
    from agrochat.provenance import provenance

    with torch.inference_mode():
        result = {
            "threads": torch.get_num_threads(),
            "keys": rates(Assistant.from_pretrained(), args.n256, args.n1, args.repeats, args.unfused),
        }
    report(result, args.out, provenance(None, DEFAULT_MODEL_DIR))


if __name__ == "__main__":
    main()
