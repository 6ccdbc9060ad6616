"""Interval calibration on validation rows (never the test split), two ways.

- :func:`calibrate`: a per-key factor on the predicted standard deviation. A Gaussian interval of ±1σ should hold
  68.3 % of the measurements and ±1.96σ 95 %. Where the model's σ is a little too wide or narrow for a key (an
  ensemble's variance rule, heavy-tailed errors), one factor per key (``ModelConfig.std_scale``) is chosen so that
  the worse of the two coverages is as close to its nominal level as possible. Grid search over factors 0.05-20.
- :func:`calibrate_floor`: for keys whose measurements pile up at a floor (log2(FPKM + 1) = 0 for genes not
  expressed in a tissue), no factor helps: a symmetric interval either holds every unexpressed gene or none. Their
  intervals come from a point mass at the floor plus a continuous part (``ModelConfig.floor_intervals``,
  :mod:`agrochat.bridge.intervals`), fitted on the keys' validation rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from agrochat.bridge.intervals import LEVEL68, LEVEL95, Z, fit_floor_intervals
from agrochat.errors import InputError
from agrochat.train.metrics import regression_metrics

from .assistant import Assistant
from .evaluate import evaluate_fast

LEVELS = tuple((z, level) for level, z in Z.items())  # (half-width in σ, nominal coverage)
GRID = np.exp(np.linspace(np.log(0.05), np.log(20.0), 1201))  # candidate factors


def fit_scale(target: np.ndarray, pred: np.ndarray, std: np.ndarray) -> float:
    """The factor f on ``std`` whose worst coverage error over ±1σ and ±1.96σ is smallest (ties: closest to 1)."""
    z = np.abs(np.asarray(target) - np.asarray(pred)) / np.asarray(std)  # (N,) errors in units of σ
    worst = np.max([np.abs((z[None] <= w * GRID[:, None]).mean(1) - level) for w, level in LEVELS], axis=0)
    best = np.flatnonzero(worst <= worst.min() + 1e-12)  # (G,) all factors that tie
    return float(GRID[best[np.argmin(np.abs(np.log(GRID[best])))]])


def _coverage(target: np.ndarray, pred: np.ndarray, std: np.ndarray) -> tuple[float, float]:
    """(cover68, cover95) as every evaluation reports them (:func:`regression_metrics`)."""
    m = regression_metrics(pred, target, std)
    return round(m["cover68"], 4), round(m["cover95"], 4)


def _validation_points(assistant, data_dir, keys, split, min_rows, progress) -> dict[str, dict]:
    """evaluate_fast on ``split`` rows of ``keys``, refusing keys with fewer than ``min_rows`` rows."""
    results = evaluate_fast(assistant, data_dir, split, keys, ridge=False, progress=progress)
    for key in keys:
        if key not in results or results[key]["n"] < min_rows:
            n = results.get(key, {}).get("n", 0)
            raise InputError(f"{key}: {n} {split} rows, at least {min_rows} are needed to fit its intervals")
    return results


def calibrate(
    assistant: Assistant,
    data_dir: str | Path | None,
    keys: list[str],
    split: str = "validation",
    min_rows: int = 200,
    progress=None,
) -> dict[str, dict]:
    """Fit ``std_scale`` for ``keys`` on ``split`` rows and set it on the assistant's model (on top of any factor
    it already had). Returns ``{key: {"n", "factor", "before": (cover68, cover95), "after": (...)}}``."""
    results = _validation_points(assistant, data_dir, keys, split, min_rows, progress)
    cfg = assistant.model.config
    out = {}
    for key in keys:
        pts = results[key]["points"]
        y, p, s = (np.array(pts[c]) for c in ("target", "pred", "std"))
        f = fit_scale(y, p, s)
        out[key] = {"n": len(y), "factor": f, "before": _coverage(y, p, s), "after": _coverage(y, p, s * f)}
        cfg.std_scale[key] = cfg.std_scale.get(key, 1.0) * f
    return out


def calibrate_floor(
    assistant: Assistant,
    data_dir: str | Path | None,
    keys: list[str],
    floor: float = 0.0,
    split: str = "validation",
    min_rows: int = 200,
    progress=None,
) -> dict[str, dict]:
    """Fit floor-aware intervals for ``keys`` together on ``split`` rows and set them on the assistant's model
    (replacing any it had). Returns ``{key: {"n", "p_floor", "before": (cover68, cover95), "after": (...)}}``;
    ``p_floor``: the share of the key's rows at the floor."""
    results = _validation_points(assistant, data_dir, keys, split, min_rows, progress)
    points = {k: tuple(np.array(results[k]["points"][c]) for c in ("target", "pred", "std")) for k in keys}
    fitted = fit_floor_intervals(points, floor=floor)
    out = {}
    for key, fi in fitted.items():
        y, m, s = points[key]
        bounds = {name: fi.interval(m, s, level) for name, level in (("68", LEVEL68), ("95", LEVEL95))}
        after = regression_metrics(m, y, s, bounds)
        out[key] = {
            "n": len(y),
            "p_floor": float((y <= floor + 1e-9).mean()),
            "before": (round(results[key]["ours"]["cover68"], 4), round(results[key]["ours"]["cover95"], 4)),
            "after": (round(after["cover68"], 4), round(after["cover95"], 4)),
        }
        assistant.model.config.floor_intervals[key] = fi
    return out
