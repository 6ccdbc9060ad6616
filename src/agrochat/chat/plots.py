"""Pictures of the model's evidence: the mutagenesis track and the design path (PNG, matplotlib)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from agrochat.domain.motifs import CPE_NAMES

from .attribution import kind_of, motif_label
from .design import DesignResult
from .prediction import Mutagenesis

BASE_COLOURS = {"A": "#2e8b57", "C": "#1f5fa8", "G": "#e0a100", "T": "#c0392b", "N": "#7f7f7f"}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _rel(kind: str, length: int) -> np.ndarray:
    """Coordinate of each index: TSS-relative (no 0) for promoters, cleavage-site-relative for terminators."""
    from agrochat.domain.motifs import promoter_rel, terminator_rel

    rel = promoter_rel if kind == "promoter" else terminator_rel
    return np.array([rel(i, length) for i in range(length)])


def plot_mutagenesis(result: Mutagenesis, path: str | Path) -> Path:
    """Signed effect of mutating each base (mean change over the three substitutions; below zero: the base
    helps), the bases as letters, annotated motifs as labelled boxes, the TSS (or cleavage site) marked."""
    plt = _plt()
    path = Path(path)
    pred = result.prediction
    kind = kind_of(pred.key)
    seq = pred.sequence
    per = result.per_base  # (L,)
    x = np.arange(len(per))
    rel = _rel(kind, len(per))
    fig, ax = plt.subplots(figsize=(max(9, len(per) / 11), 3.8))
    ax.bar(x, per, width=0.9, color=np.where(per < 0, "#2a7f62", "#b5452f"), label="_bars")
    ax.axhline(0, color="black", lw=0.6)
    lo, hi = float(min(per.min(), 0)), float(max(per.max(), 0))
    span = max(hi - lo, 1e-6)
    ax.set_ylim(lo - 0.35 * span, hi + 0.45 * span)
    # the bases, as letters under the bars
    if len(seq) <= 400:
        for i, b in enumerate(seq):
            ax.text(
                i,
                lo - 0.22 * span,
                b,
                ha="center",
                va="center",
                fontsize=6,
                family="monospace",
                color=BASE_COLOURS.get(b, "black"),
            )
    # motifs: boxes; names for the core elements and the motifs whose knockout moves the prediction most
    named = (
        {e.label.split(":", 1)[1] for e in result.knockouts[:5]} | set(CPE_NAMES) | {"AATAAA", "AATAAA-like"}
    )
    levels: list[float] = []  # right end (in bases) of the last label on each text row
    for m in sorted(pred.motifs, key=lambda m: m["start"]):
        show = m["name"] in named
        ax.axvspan(m["start"] - 0.5, m["end"] - 0.5, color="#f2c14e", alpha=0.35 if show else 0.12, lw=0)
        if not show:
            continue
        label = motif_label(m["name"], m.get("family", ""))
        centre = (m["start"] + m["end"] - 1) / 2
        half = len(label) * 0.55 * max(1.0, len(seq) / 170)
        level = next((i for i, right in enumerate(levels) if right < centre - half), len(levels))
        if level == len(levels):
            levels.append(0.0)
        levels[level] = centre + half
        ax.text(centre, hi + (0.06 + 0.11 * level) * span, label, ha="center", fontsize=6.5)
    top_level = 0.06 + 0.11 * max(len(levels), 1)
    ax.set_ylim(lo - 0.35 * span, hi + (top_level + 0.15) * span)
    anchor = len(seq) - 5 if kind == "promoter" else len(seq) // 2
    ax.axvline(anchor, color="#555555", ls=":", lw=1)
    ax.text(
        anchor,
        hi + (top_level + 0.04) * span,
        "TSS" if kind == "promoter" else "cleavage site",
        ha="center",
        fontsize=7,
        color="#555555",
    )
    ticks = [i for i in x if rel[i] % 20 == 0 or rel[i] == 1][:: 1 if len(seq) <= 200 else 2]
    ax.set_xticks(ticks, [f"{rel[i]:+d}" for i in ticks], fontsize=7)
    ax.set_xlim(-1, len(seq))
    ax.set_xlabel(f"position relative to the {'TSS' if kind == 'promoter' else 'cleavage site'}")
    ax.set_ylabel("change in predicted\nstrength when mutated", fontsize=8)
    from matplotlib.patches import Patch

    ax.legend(
        handles=[
            Patch(color="#b5452f", label="mutating raises the prediction"),
            Patch(color="#2a7f62", label="mutating lowers it (the base helps)"),
            Patch(color="#f2c14e", alpha=0.5, label="annotated motif"),
        ],
        fontsize=6.5,
        loc="lower right",
        ncol=3,
        frameon=False,
    )
    ax.set_title(f"{pred.key}: {pred.text}", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def plot_design(result: DesignResult, path: str | Path) -> Path:
    """Predicted value of each designed key per round (with its interval), the substitution of each round."""
    plt = _plt()
    path = Path(path)
    steps = result.steps
    rounds = [s.round for s in steps]
    fig, ax = plt.subplots(figsize=(max(6, len(steps) * 0.8), 3.6))
    for k in result.config.keys:
        v = np.array([s.values[k] for s in steps])
        e = np.array([s.stds[k] for s in steps])
        sign = "raise" if k in result.config.up else "lower"
        ax.errorbar(rounds, v, yerr=e, marker="o", capsize=3, label=f"{k} ({sign})")
    for s in steps[1:]:
        k = result.config.keys[0]
        ax.annotate(
            s.mutations[-1],
            (s.round, s.values[k]),
            textcoords="offset points",
            xytext=(0, 9),
            ha="center",
            fontsize=7,
        )
        if s.ood:
            ax.annotate(
                "OOD",
                (s.round, s.values[k]),
                textcoords="offset points",
                xytext=(0, -14),
                ha="center",
                fontsize=6,
                color="#b5452f",
            )
    if result.config.target is not None:
        ax.axhline(result.config.target, color="#555555", ls=":", lw=1, label="target")
    ax.set_xticks(rounds)
    ax.set_xlabel("substitutions")
    ax.set_ylabel("predicted value (± its uncertainty)")
    ax.legend(fontsize=7, frameon=False)
    ax.set_title("in-silico evolution, one substitution per round", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


__all__ = ["plot_design", "plot_mutagenesis"]
