"""Helpers shared by the benchmark scripts."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def report(result: dict, out: Path | None, prov: dict | None = None) -> None:
    """Print ``result`` as JSON and, with ``out``, write it there too, with its ``"provenance"``: ``prov`` (made by
    :func:`agrochat.provenance.provenance` when the rows were read, so a test split is announced before it is
    scored) or, for a script that reads no benchmark rows and no model folder, one made here."""
    if prov is None:
        from agrochat.provenance import provenance

        prov = provenance(None)
    text = json.dumps({**result, "provenance": prov}, indent=1)
    print(text)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")


def timed(fn, repeats: int) -> dict:
    """``fn()`` once to warm up, then ``repeats`` timed calls: median, min and max seconds and ``n``."""
    import statistics
    import time

    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "n": repeats}


def status_mb(field: str) -> float:
    """A memory line of /proc/self/status (VmRSS: now, VmHWM: peak) in MiB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def add_split_argument(ap: argparse.ArgumentParser) -> None:
    """``--split``: validation rows by default; the official test split only when asked for by name."""
    ap.add_argument(
        "--split",
        choices=("validation", "test"),
        default="validation",
        help="rows scored (default validation); the official test split only with --split test, read once per "
        "shipped model",
    )
