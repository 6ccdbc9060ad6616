"""Floor-aware prediction intervals: the distribution, its fit on validation rows, and where users see it."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from scipy import stats
from typer.testing import CliRunner

from agrochat.bridge import ConfigError
from agrochat.bridge.config import ModelConfig
from agrochat.bridge.intervals import (
    LEVEL68,
    LEVEL95,
    QUANTILE_LEVELS,
    FloorIntervals,
    fit_floor_intervals,
    interval,
)
from agrochat.bridge.model import NumericValue
from agrochat.chat import Assistant
from agrochat.cli import app
from agrochat.data_gen.paths import FIXTURES_DIR
from agrochat.train.metrics import regression_metrics

TERM = "terminator_strength/leaf"
NORMAL_Q = stats.norm.ppf(np.clip(QUANTILE_LEVELS, 1e-4, 1 - 1e-4)).tolist()


def _expression(rng, n: int, off: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows like tissue expression: a gene is off (log2(FPKM + 1) = 0) with a probability that falls with its
    latent level, otherwise log-normal-ish around it; the 'model' predicts the mean and a standard deviation."""
    level = rng.normal(2.0, 1.0, n)  # (N,)
    is_off = rng.random(n) < off / (1 + np.exp(2 * (level - 1.5)))
    y = np.where(is_off, 0.0, np.maximum(0.05, level + rng.normal(0, 1.0, n)))
    mean = (1 - off / (1 + np.exp(2 * (level - 1.5)))) * level  # a fair mean prediction
    std = np.full(n, 1.5)
    return y, mean, std


def _coverage(fi: FloorIntervals, y, m, s) -> tuple[float, float]:
    r = regression_metrics(m, y, s, {"68": fi.interval(m, s, LEVEL68), "95": fi.interval(m, s, LEVEL95)})
    return r["cover68"], r["cover95"]


def test_fitted_floor_intervals_cover_what_they_claim_where_gaussian_ones_do_not():
    rng = np.random.default_rng(0)
    fit = {f"k{i}": _expression(rng, 3000, off) for i, off in enumerate((0.3, 0.6, 0.9))}
    fitted = fit_floor_intervals(fit, floor=0.0)
    rng = np.random.default_rng(1)  # fresh rows of the same keys
    for i, off in enumerate((0.3, 0.6, 0.9)):
        y, m, s = _expression(rng, 20000, off)
        c68, c95 = _coverage(fitted[f"k{i}"], y, m, s)
        assert abs(c68 - LEVEL68) < 0.05 and abs(c95 - LEVEL95) < 0.05, (off, c68, c95)  # the promised band
    gauss = regression_metrics(m, y, s)  # the most zero-inflated key read as a Gaussian: far off
    assert abs(gauss["cover68"] - LEVEL68) > 0.1


def test_interval_is_central_without_a_floor_mass_and_starts_at_the_floor_with_one():
    none = FloorIntervals(intercept=-40.0, quantiles=NORMAL_Q)  # P(floor) ~ 0: a Gaussian above the floor
    lo, hi = none.interval([10.0], [1.0], LEVEL68)
    assert lo[0] == pytest.approx(9.0, abs=0.02) and hi[0] == pytest.approx(11.0, abs=0.02)
    assert interval(10.0, 1.0, LEVEL95) == (10.0 - 1.96, 10.0 + 1.96)
    half = FloorIntervals(intercept=0.0, quantiles=NORMAL_Q)  # P(floor) = 0.5 whatever the mean
    lo, hi = half.interval([2.0], [1.0], LEVEL68)
    # the floor's 50 % plus the lowest 18.3 / 50 of the rest: ends at that quantile of the continuous part
    assert lo[0] == 0.0 and hi[0] == pytest.approx(2.0 + stats.norm.ppf(0.1827 / 0.5), abs=0.03)
    sure = FloorIntervals(intercept=5.0, quantiles=NORMAL_Q)  # P(floor) > 0.95: the interval is the floor
    assert [float(x[0]) for x in sure.interval([0.3], [1.0], LEVEL95)] == [0.0, 0.0]


def test_the_median_of_a_floor_key_lies_inside_its_68_interval_where_the_mean_need_not():
    none = FloorIntervals(intercept=-40.0, quantiles=NORMAL_Q)  # no floor mass: median = mean
    assert none.median([3.0], [1.0])[0] == pytest.approx(3.0, abs=0.02)
    quarter = FloorIntervals(intercept=float(np.log(1 / 3)), quantiles=NORMAL_Q)  # P(floor) = 0.25
    # the median is the (0.5 - 0.25) / 0.75 = 1/3 quantile of the continuous part
    assert quarter.median([2.0], [1.0])[0] == pytest.approx(2.0 + stats.norm.ppf(1 / 3), abs=0.03)
    most = FloorIntervals(intercept=1.0, quantiles=NORMAL_Q)  # P(floor) = 0.73: the median is the floor
    lo, hi = most.interval([2.5], [1.0], LEVEL68)
    m = most.median([2.5], [1.0])[0]
    assert m == 0.0 and lo[0] <= m <= hi[0] and not lo[0] <= 2.5 <= hi[0]


def test_floor_intervals_are_validated_and_round_trip_through_the_config(tmp_path):
    with pytest.raises(ConfigError, match="non-decreasing"):
        FloorIntervals(quantiles=[0.0] * 40 + [-1.0])
    with pytest.raises(ConfigError, match="unknown key"):
        ModelConfig(floor_intervals={"no/such": {}})
    cfg = ModelConfig(floor_intervals={"promoter_strength/leaf": {"intercept": -1.0, "slope": 0.5}})
    cfg.save(tmp_path / "c.json")
    again = ModelConfig.load(tmp_path / "c.json").floor_intervals["promoter_strength/leaf"]
    assert isinstance(again, FloorIntervals) and again.slope == 0.5


def test_predictions_of_a_floor_key_carry_its_interval_and_ood_widens_it(model_dir):
    a = Assistant.from_pretrained(model_dir)
    seq = "ACGT" * 40
    plain = a.predict(seq, task="terminator_strength", tissue="leaf", explanations=False)[0]
    assert plain.interval68 == pytest.approx(
        (plain.value - plain.uncertainty, plain.value + plain.uncertainty)
    )
    fi = FloorIntervals(floor=plain.value - 0.5, intercept=0.0, slope=-0.5, quantiles=NORMAL_Q)
    a.model.config.floor_intervals[TERM] = fi
    p = a.predict(seq, task="terminator_strength", tissue="leaf", explanations=False)[0]
    assert p.value == plain.value and p.interval68[0] == pytest.approx(fi.floor)
    assert "68 % interval" in p.text and "chance of exactly" in p.text and "±" not in p.text.split("(")[1]
    json.dumps(p.to_dict())
    v = NumericValue(TERM, p.value, p.uncertainty)
    flagged = NumericValue(TERM, p.value, 2 * p.uncertainty, True, "test")
    for level in (LEVEL68, LEVEL95):
        (lo, hi), (flo, fhi) = a.model.interval(v, level), a.model.interval(flagged, level)
        assert flo <= lo and fhi > hi  # wider, never pulled onto the floor
    assert a.model.p_floor(flagged) == pytest.approx(a.model.p_floor(v))


def test_calibrate_floor_cli_refuses_too_few_rows_above_the_floor(model_dir, tmp_path):
    path = tmp_path / "m"
    shutil.copytree(model_dir, path)
    data = str(FIXTURES_DIR / "mini_data")
    args = ["calibrate", str(path), "--key", TERM, "--data-dir", data, "--min-rows", "5", "--floor", "0"]
    run = CliRunner().invoke(app, args)
    assert run.exit_code != 0 and "too few to fit intervals" in run.output
    assert not Assistant.from_pretrained(path).model.config.floor_intervals  # nothing written
    args[3] = "terminator_strength/*"  # a pattern names both terminator keys: still too few rows here
    run = CliRunner().invoke(app, args)
    assert run.exit_code != 0 and "too few to fit intervals" in run.output
    args[3] = "tissue_expression/*"
    run = CliRunner().invoke(app, args)
    assert run.exit_code != 0 and "matches none of this model's keys" in run.output


def test_eval_json_keeps_strings_and_the_plot_reads_rounded_gaussian_points(tmp_path):
    from agrochat.chat.evaluate import _rounded, save
    from agrochat.chat.report import _gaussian

    data = {"points": [0.5, -1e-05, 3.0], "text": "a list in words [1,2]", "empty": []}
    save(data, tmp_path / "r.json")
    assert json.loads((tmp_path / "r.json").read_text()) == data
    assert '"points": [0.5, -1e-05, 3.0]' in (tmp_path / "r.json").read_text()
    rng = np.random.default_rng(0)
    p, s = rng.normal(0, 3, 500), rng.uniform(0.1, 2, 500)
    pts = {"lo68": _rounded(p - s), "hi68": _rounded(p + s)}
    assert _gaussian(pts, np.array(_rounded(p)), np.array(_rounded(s)))
    fi = FloorIntervals(intercept=0.0, quantiles=NORMAL_Q)
    lo, hi = fi.interval(np.abs(p), s, LEVEL68)
    assert not _gaussian({"lo68": _rounded(lo), "hi68": _rounded(hi)}, np.abs(p), s)
