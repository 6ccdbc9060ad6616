"""Regression metrics per task/tissue key: R², Pearson, Spearman, MAE, and interval coverage."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np
from scipy import stats


def regression_metrics(
    pred: Sequence[float],
    target: Sequence[float],
    std: Sequence[float] | None = None,
    intervals: dict[str, tuple[Sequence[float], Sequence[float]]] | None = None,
) -> dict:
    """``r2`` is the coefficient of determination (1 - SS_res/SS_tot); ``pearson_r2`` the squared Pearson r
    (what Jores et al. and Gorjifard et al. report as R²). ``cover68``/``cover95``: share of targets inside the
    predicted 68 % / 95 % interval (calibration of the uncertainty): ``intervals["68"]`` / ``["95"]`` as
    (low, high) arrays where given, else ±1σ / ±1.96σ of ``std``."""
    p, y = np.asarray(pred, dtype=float), np.asarray(target, dtype=float)
    out: dict = {"n": int(len(y))}
    if len(y) < 2:
        return out
    ss_tot = float(((y - y.mean()) ** 2).sum())
    out["r2"] = 1.0 - float(((y - p) ** 2).sum()) / ss_tot if ss_tot > 0 else float("nan")
    if np.std(p) > 0 and np.std(y) > 0:
        r = float(stats.pearsonr(p, y)[0])
        out.update(pearson=r, pearson_r2=r * r, spearman=float(stats.spearmanr(p, y)[0]))
    out["mae"] = float(np.abs(p - y).mean())
    if intervals is not None:
        for name in ("68", "95"):
            lo, hi = (np.asarray(b, dtype=float) for b in intervals[name])
            out[f"cover{name}"] = float(((y >= lo - 1e-9) & (y <= hi + 1e-9)).mean())
    elif std is not None:
        s = np.asarray(std, dtype=float)
        out["cover68"] = float((np.abs(p - y) <= s).mean())
        out["cover95"] = float((np.abs(p - y) <= 1.96 * s).mean())
    return out


def metrics_by_key(keys: Sequence[str], pred, target, std=None) -> dict[str, dict]:
    """``regression_metrics`` for every key (task/tissue) separately."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, k in enumerate(keys):
        groups[k].append(i)
    p, y = np.asarray(pred), np.asarray(target)
    s = None if std is None else np.asarray(std)
    return {
        k: regression_metrics(p[idx], y[idx], None if s is None else s[idx])
        for k, idx in sorted(groups.items())
    }
