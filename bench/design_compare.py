"""agrochat's greedy design against tangermeme's ``greedy_substitution`` on the same model and promoters.

Both make single-base substitutions one round at a time, each round keeping the substitution that raises the
prediction most (goal "stronger"), for ``--k`` rounds; tangermeme's on the model's one-hot view
(:class:`agrochat.bridge.onehot.OneHotPredictor`), agrochat's through ``Assistant.design`` (which also carries
each round's uncertainty and OOD flag, positions or motifs to keep, targets, beams and objectives across systems).
Scored: the predicted gain after ``--k`` substitutions (the fast path's number for both designed sequences) and
the time per design. Validation promoters only (never the test split).

    python bench/design_compare.py --n 15 --k 5 --out bench/results/design_compare_cpu.json
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path

import torch
from _common import report

KEYS = ("promoter_strength/leaf", "promoter_strength/protoplast")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=15, help="validation promoters per key")
    ap.add_argument("--k", type=int, default=5, help="substitutions")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data", default=None)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from tangermeme.design import greedy_substitution

    from agrochat.bridge.onehot import bases_of, one_hot_sequences
    from agrochat.chat import DEFAULT_MODEL_DIR, Assistant
    from agrochat.chat.interpret import predictor
    from agrochat.data_gen.regression import rows_by_key
    from agrochat.provenance import provenance

    a = Assistant.from_pretrained()
    rows = rows_by_key(args.data, "validation", list(KEYS))
    prov = provenance("validation", DEFAULT_MODEL_DIR, sum(len(v) for v in rows.values()), args.data)
    out: dict = {"k": args.k, "n": args.n, "goal": "stronger", "keys": {}}
    for key in KEYS:
        seqs = [r["sequence"] for r in random.Random(0).sample(rows[key], args.n)]
        task, tissue = key.split("/")
        pred = predictor(a.model, key)
        ours, theirs, t_ours, t_theirs, same = [], [], [], [], 0
        for seq in seqs:
            start = a.predict(seq, task, tissue)[0].value
            t = time.perf_counter()
            d = a.design(seq, task, tissue, goal="stronger", max_mutations=args.k)
            t_ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            x = greedy_substitution(pred, one_hot_sequences([seq]), max_iter=args.k, device="cpu")
            t_theirs.append(time.perf_counter() - t)
            designed = bases_of(x)[0]
            ours.append(a.predict(d.best.sequence, task, tissue)[0].value - start)
            theirs.append(a.predict(designed, task, tissue)[0].value - start)
            same += designed == d.best.sequence
        out["keys"][key] = {
            "gain_agrochat_median": statistics.median(ours),
            "gain_tangermeme_median": statistics.median(theirs),
            "gain_agrochat_mean": statistics.fmean(ours),
            "gain_tangermeme_mean": statistics.fmean(theirs),
            "same_designed_sequence": same,
            "seconds_per_design_agrochat": statistics.median(t_ours),
            "seconds_per_design_tangermeme": statistics.median(t_theirs),
        }
    report(out, args.out, prov)


if __name__ == "__main__":
    main()
