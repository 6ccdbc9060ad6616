"""Prediction throughput (sequences/s): the fast path vs generating the whole answer, at batch 1 and 64, and the
start-up time of ``agrochat predict`` for one sequence.

Not a test: a benchmark whose results are ratios measured in one run on one machine.

    python bench/throughput.py --out bench/results/throughput_shipped_cpu.json
    python bench/throughput.py --model runs/text/model --out bench/results/throughput_text_cpu.json

Fast path: ``Assistant.predict`` (no explanations; with ``numeric_head.readout: dna`` the decoder is skipped).
Generation: ``DnaLanguageModel.generate_batch`` answering natural-language questions greedily (up to
``--new-tokens`` tokens), the way ``agrochat eval`` does and the way a digits (``numeric: text``) model must.
Start-up: wall time of ``python -m agrochat predict --sequence ...`` in a fresh process (median of 3).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from _common import report

ROOT = Path(__file__).resolve().parents[1]


def promoters(n: int) -> list[str]:
    import csv

    with open(ROOT / "tests" / "fixtures" / "promoters_leaf_64.tsv") as f:
        rows = list(csv.DictReader((line for line in f if not line.startswith("#")), delimiter="\t"))
    return [rows[i % len(rows)]["sequence"] for i in range(n)]


def timed(fn, n_items: int, repeats: int = 1) -> float:
    """Items per second (best of ``repeats`` after one warm-up call)."""
    fn()
    best = min(_once(fn) for _ in range(repeats))
    return n_items / best


def _once(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=None, help="model directory (default: the shipped model)")
    ap.add_argument("--n", type=int, default=64, help="sequences per measurement at batch 64")
    ap.add_argument("--n1", type=int, default=8, help="sequences per measurement at batch 1")
    ap.add_argument("--new-tokens", type=int, default=40)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    from agrochat.bridge.generate import generate_batch
    from agrochat.chat import Assistant
    from agrochat.domain.prompts import canonical_prompt

    torch.set_grad_enabled(False)
    a = Assistant.from_pretrained(args.model)
    key = "promoter_strength/leaf"
    question, _ = canonical_prompt(key)
    seqs = promoters(args.n)
    res: dict = {
        "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads",
        "torch": torch.__version__,
        "model": str(args.model or "shipped default"),
        "readout": a.model.config.numeric_head.readout,
        "numeric": a.model.config.numeric,
        "sequence_bp": len(seqs[0]),
    }
    head = a.model.config.numeric == "head"
    if head:
        res["fast_path_b1_seq_per_s"] = timed(
            lambda: [a.predict(s, explanations=False) for s in seqs[: args.n1]], args.n1
        )
        res["fast_path_b64_seq_per_s"] = timed(
            lambda: a.predict(seqs, explanations=False, batch_size=64), args.n
        )
        res["fast_path_b64_with_explanations_seq_per_s"] = timed(
            lambda: a.predict(seqs, batch_size=64), args.n
        )

    def gen(batch: list[str]):
        prompts = [([{"role": "user", "content": question}], [s]) for s in batch]
        return generate_batch(a.model, prompts, [[key]] * len(batch), max_new_tokens=args.new_tokens)

    res["generation_b1_seq_per_s"] = timed(lambda: [gen([s]) for s in seqs[: args.n1]], args.n1)
    res["generation_b64_seq_per_s"] = timed(lambda: gen(seqs), args.n)
    res["example_generated_answer"] = gen(seqs[:1])[0].text
    if head:
        for b in ("b1", "b64"):
            res[f"fast_over_generation_{b}"] = (
                res[f"fast_path_{b}_seq_per_s"] / res[f"generation_{b}_seq_per_s"]
            )

    cmd = [sys.executable, "-m", "agrochat", "predict", "--sequence", seqs[0], "--no-explanations"]
    if args.model:
        cmd += ["--model", str(args.model)]
    starts = []
    for _ in range(3):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        starts.append(time.perf_counter() - t)
    res["startup_predict_one_sequence_s"] = statistics.median(starts)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import agrochat.chat"], check=True)
    res["import_agrochat_chat_s"] = time.perf_counter() - t
    from agrochat.chat import DEFAULT_MODEL_DIR
    from agrochat.provenance import provenance

    report(res, args.out, provenance(None, args.model or DEFAULT_MODEL_DIR))  # fixture sequences, no split


if __name__ == "__main__":
    main()
