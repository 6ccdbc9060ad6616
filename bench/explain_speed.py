"""How long an explanation takes: ``Assistant.explain`` on one promoter (the demo promoter and fixture promoters),
and the ``agrochat explain`` command end to end (start-up and model load included).

Not a test: timings on one machine in one run (the median of ``--repeats`` after a warm-up; the first call in a
fresh environment also compiles the numba kernels of memelite and tangermeme's seqlet caller once, cached on disk).

    python bench/explain_speed.py --out bench/results/explain_speed_cpu.json
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from _common import report, timed

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "tests" / "fixtures" / "demo_promoter.fa"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from agrochat.chat import Assistant

    a = Assistant.from_pretrained()
    seq = "".join(DEMO.read_text().split("\n", 1)[1].split())
    out: dict = {"threads": args.threads, "sequence_bp": len(seq)}
    for method in ("ism", "deeplift_shap"):
        out[f"explain_{method}"] = timed(lambda m=method: a.explain(seq, method=m), args.repeats)
    out["explain_ism_protoplast"] = timed(lambda: a.explain(seq, tissue="protoplast"), args.repeats)
    out["explain_ism_with_logo"] = timed(lambda: a.explain(seq, plot="/tmp/agrochat_logo.png"), 3)
    cmd = [str(Path(sys.executable).parent / "agrochat"), "explain", "--fasta", str(DEMO)]
    runs = []
    for _ in range(3):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        runs.append(time.perf_counter() - t)
    out["cli_explain_end_to_end_s"] = {"median_s": statistics.median(runs), "n": len(runs)}
    from agrochat.chat import DEFAULT_MODEL_DIR
    from agrochat.provenance import provenance

    report(out, args.out, provenance(None, DEFAULT_MODEL_DIR))


if __name__ == "__main__":
    main()
