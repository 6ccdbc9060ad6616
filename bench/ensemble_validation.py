"""How to combine a model with specialist members, decided on validation rows (never the test split).

Scores each model alone with the fast path on the validation rows of the benchmark keys, then combines the
numbers as ``agrochat ensemble`` would, for every choice: which models answer each key (all that know it, or the
specialists only) and how the spread enters the uncertainty (``mixture``: mean variance + spread; ``ambiguity``:
mean variance - spread, at least mean variance / members). Prints R² and 68 % / 95 % coverage per choice::

    python bench/ensemble_validation.py src/agrochat/chat/default_model runs/term-s0/model runs/term-s1/model \
        runs/prom-s0/model runs/prom-s1/model --data data_out/full --out bench/results/ensemble_validation.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from _common import add_split_argument, report

from agrochat.bridge import DnaLanguageModel
from agrochat.data_gen.regression import rows_by_key
from agrochat.provenance import model_hash, provenance
from agrochat.train.metrics import regression_metrics

BENCH = [
    "promoter_strength/leaf",
    "promoter_strength/protoplast",
    "terminator_strength/leaf",
    "terminator_strength/protoplast",
]


def scores(model: DnaLanguageModel, seqs: list[str], key: str, batch: int = 256) -> tuple[np.ndarray, ...]:
    """Fast-path value and standard deviation of each sequence (one model, no OOD widening)."""
    model.ood = None
    msgs = [{"role": "user", "content": "<dna>"}]
    vals, stds = [], []
    for i in range(0, len(seqs), batch):
        out = model.score(
            [(msgs, [s], "<num>") for s in seqs[i : i + batch]], [key] * len(seqs[i : i + batch])
        )
        vals += [v.value for v in out]
        stds += [v.std for v in out]
    return np.array(vals), np.array(stds)


def combine(means: np.ndarray, stds: np.ndarray, rule: str) -> tuple[np.ndarray, np.ndarray]:
    """(P, N) member values and deviations -> the ensemble's (N,) values and deviations."""
    mean = means.mean(0)
    spread = means.var(0)
    mean_var = (stds**2).mean(0)
    var = mean_var + spread if rule == "mixture" else np.maximum(mean_var - spread, mean_var / len(means))
    return mean, np.sqrt(var)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("base", type=Path, help="the model of every key")
    ap.add_argument("members", type=Path, nargs="+", help="specialists (or seeds)")
    ap.add_argument("--data", required=True, help="an `agrochat data build` output")
    ap.add_argument("--out", type=Path)
    add_split_argument(ap)
    return ap


def main() -> None:
    args = parser().parse_args()
    torch.set_num_threads(1)
    models = {str(p): DnaLanguageModel.from_pretrained(p) for p in [args.base, *args.members]}
    by_key = rows_by_key(args.data, args.split, BENCH)
    prov = provenance(args.split, args.base, sum(len(v) for v in by_key.values()), args.data)
    prov["members_sha256"] = {str(p): model_hash(p) for p in args.members}
    result = {}
    for key, rows in by_key.items():
        seqs, y = [r["sequence"] for r in rows], np.array([r["target"] for r in rows])
        paths = {
            name: scores(m, seqs, key) for name, m in models.items() if key in m.config.numeric_head.keys
        }
        res = {"n": len(rows), "alone": {n: regression_metrics(v, y, s) for n, (v, s) in paths.items()}}
        specialists = [n for n in paths if n != str(args.base)]
        for who, names in (("all", list(paths)), ("specialists", specialists)):
            if not names or (who == "specialists" and len(names) == len(paths)):
                continue
            means = np.stack([paths[n][0] for n in names])
            stds = np.stack([paths[n][1] for n in names])
            for rule in ("mixture", "ambiguity"):
                value, std = combine(means, stds, rule)
                res[f"{who}/{rule}"] = regression_metrics(value, y, std)
        result[key] = res
        alone = {Path(n).parent.name or n: round(v["r2"], 4) for n, v in res["alone"].items()}
        both = {
            k: (round(v["r2"], 4), round(v["cover68"], 3), round(v["cover95"], 3))
            for k, v in res.items()
            if k not in ("n", "alone")
        }
        print(key, alone, both, flush=True)
    report(result, args.out, prov)


if __name__ == "__main__":
    main()
