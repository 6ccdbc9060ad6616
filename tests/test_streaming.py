"""Batch prediction streams: peak memory does not grow with the FASTA size, and results are written as they come.

Slow (about a minute): run with ``make test-slow``.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

RUN = """
import resource, sys
from agrochat.cli import app
try:
    app(sys.argv[1:])
except SystemExit as e:
    code = e.code
print("MAXRSS_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
sys.exit(code)
"""


def _fasta(path: Path, n: int) -> Path:
    rng = random.Random(n)
    with open(path, "w") as f:
        for i in range(n):
            f.write(f">r{i}\n{''.join(rng.choice('ACGT') for _ in range(rng.randint(60, 170)))}\n")
    return path


def _predict(model_dir: Path, fasta: Path, out: Path) -> int:
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            RUN,
            "predict",
            "--model",
            str(model_dir),
            "--fasta",
            str(fasta),
            "--format",
            "jsonl",
            "-o",
            str(out),
            "--no-explanations",
            "--batch-size",
            "256",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return int(proc.stderr.split("MAXRSS_KB")[-1].split()[0])


@pytest.mark.slow
def test_predict_50k_fasta_peak_memory_does_not_grow_with_file_size(model_dir, tmp_path):
    small = _predict(model_dir, _fasta(tmp_path / "5k.fa", 5_000), tmp_path / "5k.jsonl")
    big_out = tmp_path / "50k.jsonl"
    big = _predict(model_dir, _fasta(tmp_path / "50k.fa", 50_000), big_out)
    lines = big_out.read_text().splitlines()
    assert len(lines) == 50_000 and json.loads(lines[-1])["id"] == "r49999"
    print(f"peak RSS: 5,000 records {small / 1024:.0f} MB, 50,000 records {big / 1024:.0f} MB")
    # 10x the records: peak RSS within 10 % + 40 MB of the small run (holding all 50k results would not be)
    assert big < small * 1.10 + 40_000, f"peak RSS 5k: {small / 1024:.0f} MB, 50k: {big / 1024:.0f} MB"
