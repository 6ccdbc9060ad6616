"""Interval calibration: the per-key factor on σ, its fit, and ``agrochat calibrate`` on a saved model."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from agrochat.bridge import ConfigError
from agrochat.bridge.config import ModelConfig
from agrochat.chat import Assistant
from agrochat.chat.calibration import fit_scale
from agrochat.cli import app
from agrochat.data_gen.paths import FIXTURES_DIR

TERM = "terminator_strength/leaf"


@pytest.mark.parametrize("true_over_claimed", [0.7, 1.0, 1.5])
def test_fit_scale_recovers_how_wrong_sigma_is(true_over_claimed):
    rng = np.random.default_rng(0)
    std = rng.uniform(0.5, 2.0, 20000)  # (N,) claimed
    target = rng.normal(0.0, std * true_over_claimed)  # errors truly this much wider
    f = fit_scale(target, np.zeros_like(target), std)
    assert f == pytest.approx(true_over_claimed, rel=0.04)
    z = np.abs(target) / (std * f)
    assert abs((z <= 1).mean() - 0.6827) < 0.01 and abs((z <= 1.96).mean() - 0.95) < 0.01


def test_std_scale_widens_the_interval_and_is_validated(model_dir):
    a = Assistant.from_pretrained(model_dir)
    seq = "ACGT" * 40
    before = a.predict(seq, task="terminator_strength", tissue="leaf", explanations=False)[0]
    a.model.config.std_scale[TERM] = 2.0
    after = a.predict(seq, task="terminator_strength", tissue="leaf", explanations=False)[0]
    assert after.value == before.value and after.uncertainty == pytest.approx(2 * before.uncertainty)
    with pytest.raises(ConfigError, match="std_scale"):
        ModelConfig(std_scale={"no/such": 1.0})
    with pytest.raises(ConfigError, match="std_scale"):
        ModelConfig(std_scale={"promoter_strength/leaf": 0.0})


def test_calibrate_cli_writes_the_factor_fitted_on_validation_rows(model_dir, tmp_path):
    path = tmp_path / "m"
    shutil.copytree(model_dir, path)
    data = str(FIXTURES_DIR / "mini_data")
    run = CliRunner().invoke(
        app, ["calibrate", str(path), "--key", TERM, "--data-dir", data, "--min-rows", "5"]
    )
    assert run.exit_code == 0, run.output
    assert f"{TERM}: 8 rows, sigma x" in run.output
    factor = Assistant.from_pretrained(path).model.config.std_scale[TERM]
    assert factor != 1.0
    again = CliRunner().invoke(
        app, ["calibrate", str(path), "--key", TERM, "--data-dir", data, "--min-rows", "5"]
    )
    after = run.output.split("-> ")[1].strip()
    assert again.exit_code == 0 and f"coverage {after} ->" in again.output  # the written factor is in use
    few = CliRunner().invoke(app, ["calibrate", str(path), "--key", TERM, "--data-dir", data])
    assert few.exit_code != 0 and "at least 200 are needed" in few.output
    test = CliRunner().invoke(app, ["calibrate", str(path), "--key", TERM, "--split", "test"])
    assert test.exit_code != 0 and "test split" in test.output
