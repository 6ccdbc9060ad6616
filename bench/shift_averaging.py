"""Test-time averaging over small shifts, decided on validation rows: does the mean of the predictions for a
sequence trimmed by 0-3 bases at either end (the shifts the regress stage trains with) beat the plain prediction?

Not a test. Reads the validation rows of the four benchmark keys by default (``--split test`` only to report a
choice already made, once per shipped model).

    python bench/shift_averaging.py --out bench/results/shift_averaging_validation.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from _common import add_split_argument, report

KEYS = (
    "promoter_strength/leaf",
    "promoter_strength/protoplast",
    "terminator_strength/leaf",
    "terminator_strength/protoplast",
)
SHIFTS = [(0, 0)] + [(k, 0) for k in (1, 2, 3)] + [(0, k) for k in (1, 2, 3)]  # bases cut from (5', 3')


def r2(y: np.ndarray, p: np.ndarray) -> float:
    return float(1 - ((y - p) ** 2).sum() / ((y - y.mean()) ** 2).sum())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_split_argument(ap)
    ap.add_argument("--data", default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from agrochat.chat import DEFAULT_MODEL_DIR, Assistant
    from agrochat.data_gen.regression import rows_by_key
    from agrochat.provenance import provenance

    a = Assistant.from_pretrained()
    rows = rows_by_key(args.data, args.split, list(KEYS))
    prov = provenance(args.split, DEFAULT_MODEL_DIR, sum(len(v) for v in rows.values()), args.data)
    out: dict = {"shifts": SHIFTS, "keys": {}}
    for key in KEYS:
        seqs = [r["sequence"] for r in rows[key]]
        y = np.array([r["target"] for r in rows[key]], dtype=float)
        preds = []
        for left, right in SHIFTS:
            cut = [s[left : len(s) - right] for s in seqs]
            preds.append(
                np.array([p.value for p in a.iter_predict_key(cut, key, batch_size=256, explanations=False)])
            )
        plain, mean = preds[0], np.mean(preds, axis=0)
        out["keys"][key] = {"n": len(y), "r2_plain": r2(y, plain), "r2_shift_mean": r2(y, mean)}
        out["keys"][key]["gain"] = out["keys"][key]["r2_shift_mean"] - out["keys"][key]["r2_plain"]
    report(out, args.out, prov)


if __name__ == "__main__":
    main()
