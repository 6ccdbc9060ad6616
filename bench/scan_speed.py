"""`agrochat scan` on a genome-like file: windows per second and peak memory as the genome grows.

Not a test: a benchmark measured in one run on one machine.

    python bench/scan_speed.py --windows 20000,80000 --out bench/results/scan_speed_cpu.json

For each size N: a genome of random contigs (1 Mb each) with N/2 transcripts (alternating strands, 2 kb apart),
described by a GFF3, is written to a temporary folder; then ``agrochat scan`` (the shipped model, its default keys:
promoter and terminator strength, two keys per window) runs in its own process, and its time and peak resident
memory are recorded (the gffutils database is built before timing and reported apart). Flat memory means the peak
does not grow with N.
"""

from __future__ import annotations

import argparse
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import report

SPACING = 2000
CONTIG = 1_000_000


def write_genome(folder: Path, transcripts: int, seed: int = 0) -> tuple[Path, Path]:
    rng = random.Random(seed)
    per_contig = CONTIG // SPACING - 1
    n_contigs = -(-transcripts // per_contig)
    fa, gff = folder / "genome.fa", folder / "genes.gff3"
    with open(fa, "w") as out:
        for c in range(n_contigs):
            out.write(f">chr{c + 1}\n")
            seq = "".join(rng.choices("ACGT", k=CONTIG))
            out.write("\n".join(seq[i : i + 80] for i in range(0, CONTIG, 80)) + "\n")
    with open(gff, "w") as out:
        out.write("##gff-version 3\n")
        for t in range(transcripts):
            c, k = divmod(t, per_contig)
            start = SPACING * (k + 1) - 600
            end = start + 1200
            strand = "+" if t % 2 == 0 else "-"
            out.write(f"chr{c + 1}\tbench\tmRNA\t{start}\t{end}\t.\t{strand}\t.\tID=t{t};Parent=g{t}\n")
    return fa, gff


def run_scan(fa: Path, gff: Path, out: Path) -> dict:
    code = (
        "import resource, sys, time\n"
        "from typer.testing import CliRunner\n"
        "from agrochat.cli import app\n"
        "t = time.perf_counter()\n"
        f"r = CliRunner().invoke(app, ['scan', '-g', '{fa}', '-a', '{gff}', '-o', '{out}'])\n"
        "assert r.exit_code == 0, r.output\n"
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    seconds, peak = map(float, res.stdout.split()[-2:])
    rows = sum(1 for _ in open(out)) - 1
    return {"seconds": round(seconds, 1), "peak_rss_mb": round(peak), "rows": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--windows", default="20000,80000", help="window counts (two windows per transcript)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    rows = []
    for n in map(int, args.windows.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            fa, gff = write_genome(Path(tmp), n // 2)
            t = time.perf_counter()
            from agrochat.genome.reader import read_features

            assert sum(1 for _ in read_features(gff)) == n // 2  # builds the annotation database once
            db_s = time.perf_counter() - t
            r = run_scan(fa, gff, Path(tmp) / "scan.tsv")
            r.update(
                windows=n, windows_per_s=round(n / r["seconds"], 1), annotation_db_seconds=round(db_s, 1)
            )
            print(r, file=sys.stderr)
            rows.append(r)
    report(
        {
            "what": "agrochat scan, shipped model, default keys (2 per window), genome-like random contigs",
            "rows": rows,
            "bench_process_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        },
        args.out,
    )


if __name__ == "__main__":
    main()
