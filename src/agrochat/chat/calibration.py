"""Interval calibration: a per-key factor on the predicted standard deviation, fitted on validation rows.

A Gaussian interval of ±1σ should hold 68.3 % of the measurements and ±1.96σ 95 %. Where the model's σ is a
little too wide or narrow for a key (an ensemble's variance rule, heavy-tailed errors), one factor per key
(``ModelConfig.std_scale``) is chosen so that the worse of the two coverages is as close to its nominal level as
possible on the validation rows (never the test split). The fit is a grid search over factors 0.05-20.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from agrochat.errors import InputError
from agrochat.train.metrics import regression_metrics

from .assistant import Assistant
from .evaluate import evaluate_fast

LEVELS = ((1.0, 0.6827), (1.96, 0.95))  # (half-width in σ, nominal coverage)
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
    results = evaluate_fast(assistant, data_dir, split, keys, ridge=False, progress=progress)
    cfg = assistant.model.config
    out = {}
    for key in keys:
        if key not in results or results[key]["n"] < min_rows:
            n = results.get(key, {}).get("n", 0)
            raise InputError(f"{key}: {n} {split} rows, at least {min_rows} are needed to fit its factor")
        pts = results[key]["points"]
        y, p, s = (np.array(pts[c]) for c in ("target", "pred", "std"))
        f = fit_scale(y, p, s)
        out[key] = {"n": len(y), "factor": f, "before": _coverage(y, p, s), "after": _coverage(y, p, s * f)}
        cfg.std_scale[key] = cfg.std_scale.get(key, 1.0) * f
    return out
