"""Malformed source files: a clear error naming file and line, or skip-and-count on request."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agrochat.data_gen.build import BuildConfig, run_build
from agrochat.data_gen.cli import app
from agrochat.data_gen.collect import collect_measurements
from agrochat.data_gen.errors import BadInputError
from agrochat.data_gen.paths import MINI_DATA_DIR
from agrochat.data_gen.sources import OTHER_CONDITIONS, PROMOTER_TEST, SYNTHETIC

LEAF_TEST = PROMOTER_TEST["leaf"]


@pytest.fixture()
def data_copy(tmp_path) -> Path:
    dst = tmp_path / "data"
    shutil.copytree(MINI_DATA_DIR, dst)
    return dst


def _edit(path: Path, line_no: int, column: str, value: str) -> None:
    lines = path.read_text().splitlines()
    header = lines[0].split("\t")
    fields = lines[line_no - 1].split("\t")
    fields[header.index(column)] = value
    lines[line_no - 1] = "\t".join(fields)
    path.write_text("\n".join(lines) + "\n")


def test_non_acgt_sequence_names_file_and_line(data_copy):
    path = data_copy / LEAF_TEST
    seq = path.read_text().splitlines()[3].split("\t")[3]
    _edit(path, 4, "sequence", seq[:50] + "N" + seq[51:])
    with pytest.raises(BadInputError) as info:
        run_build(BuildConfig(data_dir=data_copy))
    msg = str(info.value)
    assert "CNN_test_leaf_with_jores_cnn_pred.tsv:4" in msg
    assert "non-ACGT" in msg and "position 51" in msg


def test_empty_label_names_file_and_line(data_copy):
    path = data_copy / SYNTHETIC
    _edit(path, 3, "leaf_withENH_dark", "")
    with pytest.raises(BadInputError, match=r"SuppTable6_synthetic_promoters.tsv:3: empty label"):
        run_build(BuildConfig(data_dir=data_copy))


def test_missing_column_names_file_and_header_line(data_copy):
    path = data_copy / LEAF_TEST
    text = path.read_text().replace("enrichment", "strength", 1)
    path.write_text(text)
    with pytest.raises(
        BadInputError, match=r"CNN_test_leaf_with_jores_cnn_pred.tsv:1: missing columns: enrichment"
    ):
        run_build(BuildConfig(data_dir=data_copy))


def test_skip_counts_bad_rows(data_copy):
    clean = run_build(BuildConfig(data_dir=data_copy))
    leaf_rows = clean.collect.rows[("promoter_strength/leaf", "test")]
    path = data_copy / LEAF_TEST
    seq = path.read_text().splitlines()[3].split("\t")[3]
    _edit(path, 4, "sequence", seq.replace("A", "X", 1))
    _edit(path, 6, "enrichment", "")
    _edit(path, 7, "enrichment", "strong")
    result = run_build(BuildConfig(data_dir=data_copy, on_bad="skip"))
    assert result.collect.bad.total == 3
    assert result.collect.rows[("promoter_strength/leaf", "test")] == leaf_rows - 3
    assert any(":7:" in e and "not a number" in e for e in result.collect.bad.examples)


def test_cli_reports_error_and_skip(data_copy, tmp_path):
    path = data_copy / LEAF_TEST
    _edit(path, 5, "enrichment", "")
    runner = CliRunner()
    res = runner.invoke(app, ["build", "--data-dir", str(data_copy), "--out", str(tmp_path / "o1")])
    assert res.exit_code == 2
    assert "CNN_test_leaf_with_jores_cnn_pred.tsv:5" in res.output.replace("\n", "")
    res = runner.invoke(
        app, ["build", "--data-dir", str(data_copy), "--out", str(tmp_path / "o2"), "--skip-bad"]
    )
    assert res.exit_code == 0, res.output
    assert "Skipped 1 malformed rows" in res.output


def test_cli_missing_data_dir_is_one_line(tmp_path):
    res = CliRunner().invoke(
        app, ["build", "--data-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")]
    )
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert "data directory not found" in res.output.replace("\n", " ")
    (tmp_path / "empty").mkdir()
    res = CliRunner().invoke(
        app, ["build", "--data-dir", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]
    )
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert "no source tables found" in res.output.replace("\n", " ")


def test_natural_promoter_files_are_optional_and_checked(data_copy):
    (data_copy / OTHER_CONDITIONS["leaf_noENH_light"]).unlink()
    rows, report = collect_measurements(data_copy)
    keys = {m.key for m in rows if m.key.startswith("natural_promoter/")}
    assert keys == {
        "natural_promoter/leaf_withENH_light",
        "natural_promoter/leaf_noENH_dark",
        "natural_promoter/proto_noENH_dark",
    }
    assert report.missing == []
    shutil.rmtree(data_copy / "promoters" / "jores2021_other_conditions")
    rows, report = collect_measurements(data_copy)
    assert not any(m.key.startswith("natural_promoter/") for m in rows) and report.missing == []
    shutil.copytree(
        MINI_DATA_DIR / "promoters" / "jores2021_other_conditions",
        data_copy / "promoters" / "jores2021_other_conditions",
    )
    path = data_copy / OTHER_CONDITIONS["proto_noENH_dark"]
    _edit(path, 5, "enrichment", "NA")
    with pytest.raises(
        BadInputError, match=r"jores2021_proto_noENH_dark_sample.tsv:5: label is not a number"
    ):
        collect_measurements(data_copy)
