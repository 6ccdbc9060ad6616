"""Prediction intervals: Gaussian (±zσ), or floor-aware for keys whose measurements pile up at a floor.

The numeric head predicts a mean and a standard deviation, and ``mean ± σ`` / ``± 1.96σ`` are the 68 % / 95 %
intervals of a Gaussian. Some measurements are not Gaussian around the mean: expression as log2(FPKM + 1) is
exactly 0 for every gene not expressed in a tissue (half of all genes in pollen), so a symmetric interval that
reaches 0 holds all of them and covers far more than it claims.

For such a key the predictive distribution is a point mass at the floor plus a continuous part
(:class:`FloorIntervals`):

- the probability of the floor, ``P(floor) = sigmoid(a + b·u)`` with ``u = (mean - floor) / σ``, a logistic
  regression on that key's validation rows;
- above the floor, the standardised residual ``(y - mean) / σ`` has the quantile function ``quantiles`` (at the
  levels ``QUANTILE_LEVELS``), pooled over the keys calibrated together.

Its interval at level c is central (the (1-c)/2 and (1+c)/2 quantiles of the mixture) when the point mass is
below (1-c)/2; otherwise it starts at the floor and ends at the c quantile, so it holds the floor's mass and
exactly the share c of the distribution. ``agrochat calibrate --floor`` fits it (:mod:`agrochat.chat.calibration`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from agrochat.errors import ConfigError

LEVEL68 = 0.6827
LEVEL95 = 0.95
Z = {LEVEL68: 1.0, LEVEL95: 1.96}  # Gaussian half-widths in σ
QUANTILE_LEVELS = np.linspace(0.0, 1.0, 41)  # levels at which the residual quantile function is stored


@dataclass
class FloorIntervals:
    """The predictive distribution of one key with a floor: point mass at ``floor`` plus a continuous part."""

    floor: float = 0.0
    """The smallest value a measurement can take (log2(FPKM + 1) = 0: not expressed)."""
    intercept: float = 0.0
    """a in P(floor) = sigmoid(a + b·u), u = (mean - floor) / σ."""
    slope: float = 0.0
    """b in P(floor) = sigmoid(a + b·u)."""
    quantiles: list[float] = field(default_factory=lambda: list(np.linspace(-3.0, 3.0, 41)))
    """Quantiles of the standardised residual (y - mean) / σ of measurements above the floor, at
    ``QUANTILE_LEVELS`` (non-decreasing)."""

    def __post_init__(self) -> None:
        q = np.asarray(self.quantiles, dtype=float)
        if q.shape != QUANTILE_LEVELS.shape or not np.all(np.isfinite(q)) or np.any(np.diff(q) < 0):
            raise ConfigError(
                f"FloorIntervals.quantiles needs {len(QUANTILE_LEVELS)} finite non-decreasing values"
            )
        if not all(np.isfinite([self.floor, self.intercept, self.slope])):
            raise ConfigError("FloorIntervals: floor, intercept and slope must be finite")
        self.quantiles = [float(x) for x in q]

    def p_floor(self, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
        """Probability that the measurement is at the floor. mean, std: (N,)."""
        u = (np.asarray(mean, dtype=float) - self.floor) / np.asarray(std, dtype=float)  # (N,)
        return 1.0 / (1.0 + np.exp(-(self.intercept + self.slope * u)))

    def _above(self, mean, std, pi, level) -> np.ndarray:
        """The mixture's quantile at ``level`` for rows whose floor mass ``pi`` is below it. (N,) each."""
        t = np.clip((level - pi) / np.maximum(1.0 - pi, 1e-12), 0.0, 1.0)  # level within the continuous part
        r = np.interp(t, QUANTILE_LEVELS, self.quantiles)  # (N,) standardised residual
        return np.maximum(self.floor, mean + std * r)

    def median(self, mean, std) -> np.ndarray:
        """The mixture's median (the floor when the floor holds half of the distribution or more). (N,)."""
        mean, std = np.asarray(mean, dtype=float), np.asarray(std, dtype=float)
        pi = self.p_floor(mean, std)  # (N,)
        return np.where(pi >= 0.5, self.floor, self._above(mean, std, pi, 0.5))

    def interval(self, mean, std, level: float) -> tuple[np.ndarray, np.ndarray]:
        """(low, high) of the interval holding ``level`` of the predictive distribution. mean, std: (N,)."""
        mean, std = np.asarray(mean, dtype=float), np.asarray(std, dtype=float)
        pi = self.p_floor(mean, std)  # (N,)
        lo_level, hi_level = (1 - level) / 2, (1 + level) / 2
        anchored = pi >= lo_level  # the floor's mass reaches the lower tail: start the interval there
        hi_level = np.where(anchored, level, hi_level)  # (N,)
        lo = np.where(anchored, self.floor, self._above(mean, std, pi, lo_level))
        hi = np.where(pi >= hi_level, self.floor, self._above(mean, std, pi, hi_level))
        return lo, hi


def interval(
    mean: float, std: float, level: float, floor: FloorIntervals | None = None
) -> tuple[float, float]:
    """(low, high) of one prediction's interval at ``level`` (0.6827 or 0.95): Gaussian ``mean ± zσ``, or from
    the key's :class:`FloorIntervals` when it has one."""
    if floor is None:
        z = Z.get(level)
        if z is None:
            raise ValueError(f"Gaussian intervals are defined here at {sorted(Z)}, not {level}")
        return mean - z * std, mean + z * std
    lo, hi = floor.interval([mean], [std], level)
    return float(lo[0]), float(hi[0])


def fit_floor_intervals(
    points: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]], floor: float = 0.0
) -> dict[str, FloorIntervals]:
    """Fit :class:`FloorIntervals` for each key from its (target, mean, std) rows (validation rows, never test):
    a logistic regression of "at the floor" on u per key, and the residual quantiles of the rows above the floor
    pooled over all keys given (each key alone has too few rows for a stable tail)."""
    residuals = []
    for y, m, s in points.values():
        above = y > floor + 1e-9
        residuals.append(((y - m) / s)[above])
    pooled = np.concatenate(residuals)  # (M,)
    if pooled.size < 20:
        raise ConfigError(f"only {pooled.size} measurements above the floor: too few to fit intervals")
    quantiles = np.quantile(pooled, QUANTILE_LEVELS).round(5).tolist()
    out = {}
    for key, (y, m, s) in points.items():
        a, b = _logistic((m - floor) / s, (y <= floor + 1e-9).astype(float))
        out[key] = FloorIntervals(floor=floor, intercept=a, slope=b, quantiles=quantiles)
    return out


def _logistic(u: np.ndarray, t: np.ndarray, l2: float = 1.0, steps: int = 50) -> tuple[float, float]:
    """(a, b) maximising the likelihood of t ~ Bernoulli(sigmoid(a + b·u)), with a small L2 penalty on b
    (Newton's method; finite even when the classes separate)."""
    x = np.stack([np.ones_like(u), u], 1)  # (N, 2)
    w = np.zeros(2)
    penalty = np.diag([0.0, l2])
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(x @ w)))  # (N,)
        grad = x.T @ (p - t) + penalty @ w
        hess = (x * (p * (1 - p))[:, None]).T @ x + penalty + 1e-9 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    return round(float(w[0]), 6), round(float(w[1]), 6)
