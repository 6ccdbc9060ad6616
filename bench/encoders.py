"""Old encoder vs new, in one run: fast-path prediction throughput (sequences/s at batch 1 and 256) and the time
of a single-promoter in-silico mutagenesis (510 mutants of a 170 bp promoter), for two model directories.

Not a test: a benchmark whose results are ratios measured in one run on one machine.

    git archive 0a7f0bf chat/default_model | tar -x -C /tmp/v1     # the v1 model (agront-mini 6-mer encoder)
    python bench/encoders.py --old /tmp/v1/chat/default_model --out bench/results/encoders_cpu.json

``--new`` defaults to the shipped model. Each number is the best of ``--repeats`` runs after a warm-up.
"""

from __future__ import annotations

import argparse
import platform
from pathlib import Path

import torch
from _common import report, timed
from throughput import promoters


def best_time(fn, repeats: int) -> float:
    return timed(fn, repeats)["min_s"]


def measure(path: str | None, seqs: list[str], n1: int, repeats: int) -> dict:
    from agrochat.chat import DEFAULT_MODEL_DIR, Assistant
    from agrochat.provenance import model_hash

    a = Assistant.from_pretrained(path)
    out = {
        "model": path or "shipped default",
        "model_sha256": model_hash(path or DEFAULT_MODEL_DIR),
        "encoder": a.model.config.encoder.type,
        "encoder_parameters": sum(p.numel() for p in a.model.encoder.parameters()),
    }
    t1 = best_time(lambda: [a.predict(s, explanations=False) for s in seqs[:n1]], repeats)
    out["fast_path_b1_seq_per_s"] = n1 / t1
    t256 = best_time(lambda: a.predict(seqs, explanations=False, batch_size=256), repeats)
    out["fast_path_b256_seq_per_s"] = len(seqs) / t256
    out["mutagenesis_170bp_s"] = best_time(lambda: a.explain(seqs[0]), repeats)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--old", required=True, help="model directory of the old encoder (e.g. the v1 model)")
    ap.add_argument(
        "--new", default=None, help="model directory of the new encoder (default: the shipped model)"
    )
    ap.add_argument("--n", type=int, default=1024, help="sequences per measurement at batch 256")
    ap.add_argument("--n1", type=int, default=32, help="sequences per measurement at batch 1")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    seqs = promoters(args.n)
    old = measure(args.old, seqs, args.n1, args.repeats)
    new = measure(args.new, seqs, args.n1, args.repeats)
    res = {
        "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads",
        "torch": torch.__version__,
        "sequence_bp": len(seqs[0]),
        "old": old,
        "new": new,
        "new_over_old": {k: new[k] / old[k] for k in ("fast_path_b1_seq_per_s", "fast_path_b256_seq_per_s")}
        | {"mutagenesis_speedup": old["mutagenesis_170bp_s"] / new["mutagenesis_170bp_s"]},
    }
    from agrochat.chat import DEFAULT_MODEL_DIR
    from agrochat.provenance import provenance

    report(res, args.out, provenance(None, args.new or DEFAULT_MODEL_DIR))  # fixture sequences, no split


if __name__ == "__main__":
    main()
