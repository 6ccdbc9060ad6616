"""Pictures of the model's evidence: the attribution logo, the mutagenesis heat map and the design path (PNG)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .attribution import kind_of
from .design import DesignResult
from .prediction import Mutagenesis

BASE_COLOURS = {"A": "#2e8b57", "C": "#1f5fa8", "G": "#e0a100", "T": "#c0392b", "N": "#7f7f7f"}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, path: Path) -> Path:
    """Lay out, write as PNG (130 dpi) and close ``fig``."""
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def _rel(kind: str, length: int) -> np.ndarray:
    """Coordinate of each index: TSS-relative (no 0) for promoters, cleavage-site-relative for terminators."""
    from agrochat.domain.motifs import promoter_rel, terminator_rel

    rel = promoter_rel if kind == "promoter" else terminator_rel
    return np.array([rel(i, length) for i in range(length)])


def _anchor(ax, kind: str, length: int, y: float | None = None) -> None:
    """The TSS (promoters) or cleavage site (terminators) as a dotted line, named at height ``y`` when given."""
    anchor = length - 5 if kind == "promoter" else length // 2
    ax.axvline(anchor, color="#555555", ls=":", lw=1)
    if y is not None:
        name = "TSS" if kind == "promoter" else "cleavage site"
        ax.text(anchor, y, name, ha="center", fontsize=7, color="#555555")


def _relative_ticks(ax, kind: str, length: int) -> None:
    rel = _rel(kind, length)
    ticks = [i for i in range(length) if rel[i] % 20 == 0 or rel[i] == 1][:: 1 if length <= 200 else 2]
    ax.set_xticks(ticks, [f"{rel[i]:+d}" for i in ticks], fontsize=7)
    ax.set_xlabel(f"position relative to the {'TSS' if kind == 'promoter' else 'cleavage site'}")


def region_label(region) -> str:
    """A region's label in pictures: its best match (or "no known motif") and its effect."""
    name = region.matches[0].name.split(" (")[0] if region.matches else "no known motif"
    return f"{name} {region.effect:+.2f}"


def plot_mutagenesis(result: Mutagenesis, path: str | Path) -> Path:
    """Attribution logo: each base drawn with its height scaled by its attribution (above zero: it raises the
    prediction), the regions the attribution marks shaded and labelled with their best match and effect, the
    TSS (or cleavage site) marked. Drawn with tangermeme's ``plot_logo``."""
    from tangermeme.plot import plot_logo

    from agrochat.bridge.onehot import one_hot_sequences

    plt = _plt()
    path = Path(path)
    pred = result.prediction
    kind = kind_of(pred.key)
    seq = pred.sequence
    attr = np.asarray(result.attribution, dtype=float)  # (L,)
    logo = one_hot_sequences([seq])[0].numpy() * attr[None]  # (4, L): the observed base carries the value
    fig, ax = plt.subplots(figsize=(max(9, len(seq) / 11), 3.4))
    plot_logo(logo, ax=ax)
    lo, hi = float(min(attr.min(), 0)), float(max(attr.max(), 0))
    span = max(hi - lo, 1e-6)
    levels: list[float] = []  # right end of the last label on each text row
    for r in sorted(result.regions, key=lambda r: r.start):
        ax.axvspan(r.start - 0.5, r.end - 0.5, color="#f2c14e", alpha=0.3, lw=0)
        label = region_label(r)
        centre = (r.start + r.end - 1) / 2
        half = len(label) * 0.55 * max(1.0, len(seq) / 170)
        level = next((i for i, right in enumerate(levels) if right < centre - half), len(levels))
        if level == len(levels):
            levels.append(0.0)
        levels[level] = centre + half
        ax.text(centre, hi + (0.06 + 0.12 * level) * span, label, ha="center", fontsize=6.5)
    top = 0.06 + 0.12 * max(len(levels), 1)
    ax.set_ylim(lo - 0.08 * span, hi + (top + 0.16) * span)
    _anchor(ax, kind, len(seq), hi + (top + 0.05) * span)
    _relative_ticks(ax, kind, len(seq))
    ax.set_xlim(-1, len(seq))
    ax.set_ylabel(f"attribution ({result.method})", fontsize=8)
    ax.set_title(f"{pred.key}: {pred.text}; shaded: regions (best match, effect when shuffled)", fontsize=8)
    return _save(plt, fig, path)


def plot_heatmap(result: Mutagenesis, path: str | Path) -> Path:
    """The 4 x L saturation-mutagenesis map: the predicted change for every base at every position (0 at the
    observed base, which is outlined), diverging colours centred at 0."""
    plt = _plt()
    path = Path(path)
    pred = result.prediction
    kind = kind_of(pred.key)
    seq = pred.sequence
    eff = np.asarray(result.effects, dtype=float).T  # (4, L)
    vmax = float(np.abs(eff).max()) or 1.0
    fig, ax = plt.subplots(figsize=(max(9, len(seq) / 11), 2.2))
    im = ax.imshow(eff, aspect="auto", cmap="RdBu_r", vmin=-vmax, vmax=vmax, interpolation="nearest")
    for i, b in enumerate(seq):
        if b in "ACGT":
            ax.add_patch(
                plt.Rectangle((i - 0.5, "ACGT".index(b) - 0.5), 1, 1, fill=False, lw=0.4, ec="black")
            )
    ax.set_yticks(range(4), list("ACGT"), fontsize=7)
    _relative_ticks(ax, kind, len(seq))
    _anchor(ax, kind, len(seq))
    fig.colorbar(im, ax=ax, fraction=0.02, pad=0.01, label="change")
    ax.set_title(f"{pred.key}: predicted change for every substitution (outlined: the sequence)", fontsize=8)
    return _save(plt, fig, path)


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
    return _save(plt, fig, path)


__all__ = ["plot_design", "plot_heatmap", "plot_mutagenesis"]
