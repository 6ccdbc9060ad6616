"""Tables in the docs written from results files, so no number in them is typed by hand.

A generated table sits between two markers in a Markdown file::

    <!-- table: NAME -->
    | ... |
    <!-- /table -->

``python bench/tables.py`` rewrites every such block from its results file (:data:`TABLES`: name -> results file
and renderer); ``--check`` writes nothing and exits 1 naming each block that differs from what its results file
gives (``tests/test_tables.py`` runs it). ``make results`` reruns the benchmarks that write the files, then this.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DOCS = [
    ROOT / "README.md",
    ROOT / "docs" / "benchmarks.md",
    ROOT / "src" / "agrochat" / "chat" / "default_model" / "MODEL_CARD.md",
]
BLOCK = re.compile(r"(<!-- table: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /table -->)", re.S)
BENCH_KEYS = (
    "promoter_strength/leaf",
    "promoter_strength/protoplast",
    "terminator_strength/leaf",
    "terminator_strength/protoplast",
)


def _load(name: str) -> dict:
    return json.loads((RESULTS / name).read_text())


def _f(x: float | None, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def eval_benchmark_keys() -> str:
    """The shipped model on the full official test sets of the four benchmark keys."""
    d = _load("eval_shipped_model_test/results.json")
    lines = [
        "| task / tissue | test rows | ours R² | ours Pearson | 68% / 95% coverage | OOD flagged | k-mer ridge R² | "
        "authors' CNN R² (its rows) | ours R² (same rows) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key in BENCH_KEYS:
        r = d[key]
        o, cnn, same = r["ours"], r.get("cnn"), r.get("ours_on_cnn_rows")
        lines.append(
            f"| {key} | {r['n']:,} | **{o['r2']:.3f}** | {o['pearson']:.3f} | {o['cover68']:.2f} / "
            f"{o['cover95']:.2f} | {100 * r['ood_share']:.1f}% | {r['ridge']['r2']:.3f} | "
            + (f"{cnn['r2']:.3f} ({cnn['n']:,}) | {same['r2']:.3f} |" if cnn else "– | – |")
        )
    return "\n".join(lines) + "\n"


def eval_tissue_keys() -> str:
    """The shipped model on every tissue key's test rows."""
    d = _load("eval_shipped_model_test/results.json")
    lines = [
        "| tissue key | test rows | ours R² | ours Pearson | 68% / 95% coverage | k-mer ridge R² |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for key in sorted(k for k in d if k.startswith("tissue_expression/")):
        r, o = d[key], d[key]["ours"]
        lines.append(
            f"| {key.split('/', 1)[1]} | {r['n']:,} | {o['r2']:.3f} | {o['pearson']:.3f} | {o['cover68']:.2f} / "
            f"{o['cover95']:.2f} | {r['ridge']['r2']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def design_compare() -> str:
    """agrochat's greedy design against tangermeme's on the same validation promoters."""
    d = _load("design_compare_cpu.json")
    lines = [
        f"| system | promoters | same designed sequence | predicted gain after {d['k']}, mean: agrochat / "
        "tangermeme | s per design: agrochat / tangermeme |",
        "|---|---:|---:|---:|---:|",
    ]
    for key, r in d["keys"].items():
        lines.append(
            f"| {key} | {d['n']} | {r['same_designed_sequence']} | {r['gain_agrochat_mean']:+.3f} / "
            f"{r['gain_tangermeme_mean']:+.3f} | {r['seconds_per_design_agrochat']:.1f} / "
            f"{r['seconds_per_design_tangermeme']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def calibration_deciles() -> str:
    """Calibration by decile of the prediction on validation rows, raw and linearly mapped (2-fold cross-fitted)."""
    d = _load("calibration_deciles_validation.json")
    lines = [
        "| task / tissue | validation rows | slope measured ~ predicted | R² raw / mapped (cross-fitted) | "
        "mean error, lowest decile: raw / mapped | mean error, highest decile: raw / mapped | "
        "68% / 95% coverage, lowest decile: raw → mapped | 68% / 95% coverage, highest decile: raw → mapped |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key in BENCH_KEYS:
        r = d["keys"][key]
        raw, mapped = r["raw"], r["mapped"]
        cells = []
        for i in (0, -1):
            cells.append(
                f"{raw['deciles'][i]['mean_error']:+.3f} / {mapped['deciles'][i]['mean_error']:+.3f}"
            )
        for i in (0, -1):
            cells.append(
                " → ".join(
                    f"{x['deciles'][i]['cover68']:.2f} / {x['deciles'][i]['cover95']:.2f}"
                    for x in (raw, mapped)
                )
            )
        lines.append(
            f"| {key} | {r['n']:,} | {r['slope']:.3f} | {raw['r2']:.4f} / {mapped['r2']:.4f} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines) + "\n"


def tissue_ranking() -> str:
    """The model's per-gene ranking of a species' tissues on validation genes, against fixed rankings and chance."""
    d = _load("tissue_ranking_validation.json")
    lines = [
        "| species | tissues | genes | Spearman: model / average profile | Spearman of deviations from the profile | "
        "top-1: model / profile / most-often-top / chance | top-3: model / profile / most-often-top / chance |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for sp, r in d["species"].items():
        s, t1, t3 = r["spearman"], r["top1"], r["top3"]
        lines.append(
            f"| {sp} | {r['tissues']} | {r['genes']} | {s['model']['mean']:.3f} ± {s['model']['sem']:.3f} / "
            f"{s['profile']['mean']:.3f} ± {s['profile']['sem']:.3f} | {s['deviations_from_profile']['mean']:.3f} ± "
            f"{s['deviations_from_profile']['sem']:.3f} | "
            + " | ".join(
                " / ".join(f"{t[n]:.3f}" for n in ("model", "profile", "most_often_top", "chance"))
                for t in (t1, t3)
            )
            + " |"
        )
    return "\n".join(lines) + "\n"


TABLES: dict[str, Callable[[], str]] = {
    "eval-benchmark-keys": eval_benchmark_keys,
    "eval-tissue-keys": eval_tissue_keys,
    "design-compare": design_compare,
    "calibration-deciles": calibration_deciles,
    "tissue-ranking": tissue_ranking,
}


def render(text: str) -> tuple[str, list[str]]:
    """``text`` with every generated block rewritten, and the names of the blocks that changed."""
    changed: list[str] = []

    def one(m: re.Match) -> str:
        name = m.group("name")
        if name not in TABLES:
            raise SystemExit(f"unknown generated table {name!r}; known: {', '.join(TABLES)}")
        body = TABLES[name]()
        if body != m.group("body"):
            changed.append(name)
        return m.group(1) + body + m.group(4)

    return BLOCK.sub(one, text), changed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 if a table is out of date")
    args = ap.parse_args(argv)
    stale = []
    for path in DOCS:
        text = path.read_text()
        new, changed = render(text)
        stale += [f"{path.relative_to(ROOT)}: {name}" for name in changed]
        if changed and not args.check:
            path.write_text(new)
    for s in stale:
        print(("out of date: " if args.check else "rewrote: ") + s)
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
