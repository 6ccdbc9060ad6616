"""Plots for an evaluation report: predicted vs measured, per-task bars beside the baselines, and calibration.

Each function takes the dict ``evaluate_fast`` returns (with its ``points``) and writes one PNG.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import stats

from agrochat.bridge.intervals import LEVEL68, LEVEL95

# Published Pearson r on the Plant Genomic Benchmark promoter-strength test sets (read from the ChatNT paper's
# figure, de Almeida et al. 2025; rounded): not our rows, so shown as reference lines only.
PUBLISHED_PEARSON = {
    "AgroNT (fine-tuned, 1B)": {"promoter_strength/leaf": 0.85, "promoter_strength/protoplast": 0.83},
    "ChatNT (7B, multi-task)": {"promoter_strength/leaf": 0.82, "promoter_strength/protoplast": 0.79},
}
NOMINAL = (0.25, 0.5, 0.68, 0.8, 0.9, 0.95, 0.99)


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _grid(n: int):
    plt = _plt()
    cols = min(n, 2)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 4.4 * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return plt, fig, list(axes.flat)


def scatter(results: dict, path: str | Path) -> Path:
    """Predicted vs measured per key, with the diagonal and ±1σ error bars on a subsample."""
    keys = [k for k in results if "points" in results[k]]
    plt, fig, axes = _grid(len(keys))
    for ax, key in zip(axes, keys, strict=False):
        pt, o = results[key]["points"], results[key]["ours"]
        y, p, s = (np.asarray(pt[c]) for c in ("target", "pred", "std"))
        ax.scatter(y, p, s=4, alpha=0.35, color="tab:green", linewidths=0)
        sub = np.random.default_rng(0).choice(len(y), size=min(60, len(y)), replace=False)
        ax.errorbar(y[sub], p[sub], yerr=s[sub], fmt="none", ecolor="grey", alpha=0.4, lw=0.8)
        lo, hi = float(min(y.min(), p.min())), float(max(y.max(), p.max()))
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax.set(
            xlabel=f"measured ({results[key].get('unit', '')})",
            ylabel="predicted",
            title=f"{key}\nR² {o.get('r2', np.nan):.3f}, Pearson {o.get('pearson', np.nan):.3f}, n={len(y)}",
        )
        ax.title.set_fontsize(9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def bars(results: dict, path: str | Path, metric: str = "pearson") -> Path:
    """Per task/tissue: ours vs k-mer ridge vs the authors' CNN (same rows), plus published reference marks."""
    plt = _plt()
    keys = list(results)
    series = {
        "agrochat": [results[k]["ours"].get(metric, np.nan) for k in keys],
        "k-mer ridge": [results[k].get("ridge", {}).get(metric, np.nan) for k in keys],
        "authors' CNN": [results[k].get("cnn", {}).get(metric, np.nan) for k in keys],
    }
    if "text_model" in next(iter(results.values()), {}):
        series["digits (numeric: text)"] = [
            results[k].get("text_model", {}).get(metric, np.nan) for k in keys
        ]
    fig, ax = plt.subplots(figsize=(1.9 * len(keys) + 3, 4.2))
    x, w = np.arange(len(keys)), 0.8 / len(series)
    for i, (name, vals) in enumerate(series.items()):
        ax.bar(x + (i - (len(series) - 1) / 2) * w, vals, w, label=name)
    if metric == "pearson":
        for j, (name, per_key) in enumerate(PUBLISHED_PEARSON.items()):
            pts = [(i, per_key[k]) for i, k in enumerate(keys) if k in per_key]
            if pts:
                ax.scatter(
                    *zip(*pts, strict=True),
                    marker="_^"[j],
                    s=160,
                    color="k",
                    zorder=3,
                    label=f"{name} (published, other rows)",
                )
    ax.set_xticks(x, [k.replace("/", "\n") for k in keys], fontsize=8)
    ax.set_ylabel({"pearson": "Pearson r", "r2": "R²"}.get(metric, metric))
    ax.axhline(0, color="k", lw=0.6)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title(f"test split, {metric}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def calibration(results: dict, path: str | Path) -> Path:
    """Observed share of measurements inside each key's 68 % / 95 % interval (ideal: the diagonal, ±5 points
    shaded). Keys with Gaussian intervals are also read at more levels (±zσ) as a line; keys whose intervals come
    from a point mass at a floor (tissue expression) are drawn as dots at their two levels."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    for level in (LEVEL68, LEVEL95):
        ax.fill_between([level - 0.015, level + 0.015], level - 0.05, level + 0.05, color="0.85", lw=0)
    floor_keys = 0
    for key, r in results.items():
        pts = r.get("points")
        if not pts:
            continue
        y, p, s = (np.asarray(pts[c]) for c in ("target", "pred", "std"))
        if _gaussian(pts, p, s):
            z = np.abs(y - p) / np.maximum(s, 1e-9)
            observed = [(z <= stats.norm.ppf(0.5 + q / 2)).mean() for q in NOMINAL]
            ax.plot(NOMINAL, observed, "o-", ms=3, label=key)
        else:
            floor_keys += 1
            cover = [
                ((y >= np.asarray(pts[f"lo{n}"])) & (y <= np.asarray(pts[f"hi{n}"]))).mean()
                for n in ("68", "95")
            ]
            label = None if floor_keys > 1 else "keys with a floor (point mass at 0), one dot each"
            ax.plot([LEVEL68, LEVEL95], cover, "o", ms=3, color="0.35", alpha=0.6, label=label)
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.set(
        xlabel="nominal coverage of the interval",
        ylabel="observed coverage",
        xlim=(0, 1),
        ylim=(0, 1),
        title="uncertainty calibration (test split; shaded: ±5 points)",
    )
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def _gaussian(pts: dict, pred: np.ndarray, std: np.ndarray) -> bool:
    """Whether the key's intervals are value ± σ (no bounds stored, or bounds equal to them up to the rounding of
    the stored points)."""
    if "lo68" not in pts:
        return True
    close = lambda a, b: np.allclose(np.asarray(a), b, rtol=0.0, atol=1e-4)  # noqa: E731
    return bool(close(pts["lo68"], pred - std) and close(pts["hi68"], pred + std))


def write_plots(results: dict, out_dir: str | Path) -> list[Path]:
    """scatter.png, bars_pearson.png, bars_r2.png and calibration.png in ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return [
        scatter(results, out / "scatter.png"),
        bars(results, out / "bars_pearson.png"),
        bars(results, out / "bars_r2.png", metric="r2"),
        calibration(results, out / "calibration.png"),
    ]
