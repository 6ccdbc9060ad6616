"""``agrochat data build --pgb``: PGB configs -> keys (named outputs), leak check, layout, offline errors."""

from __future__ import annotations

import json
import time

import pytest
from datasets import load_from_disk
from typer.testing import CliRunner

from agrochat.data_gen import pgb
from agrochat.data_gen.build import (
    SPLITS,
    BuildConfig,
    PGBBuildConfig,
    drop_test_leaks,
    run_build,
    run_pgb_build,
)
from agrochat.data_gen.cli import app
from agrochat.data_gen.paths import FIXTURES_DIR, MINI_DATA_DIR
from agrochat.data_gen.pgb import read_pgb_fasta
from agrochat.data_gen.regression import load_regression_rows
from agrochat.data_gen.sources import Measurement
from agrochat.domain.registry import load_registry

PGB_DIR = FIXTURES_DIR / "pgb_fasta"
GENE_KEYS = [f"gene_expression/zea_mays:{n}" for n in ("leaf", "root", "shoot apex")]
LEAK_NAME = "fixture_leak_01"  # a train record whose sequence is the test record Zm00001d053268's


def _build(*args: str):
    return CliRunner().invoke(app, ["build", *args])


def _lines(output: str, needle: str) -> list[str]:
    return [line for line in output.splitlines() if needle in line]


@pytest.fixture
def names(tmp_path):
    path = tmp_path / "names.txt"
    path.write_text("leaf\nroot\nshoot apex\n\n")
    return path


def test_named_outputs_become_keys(tmp_path, names):
    out = tmp_path / "o"
    res = _build(
        "--pgb",
        "gene_exp.zea_mays",
        "--pgb-dir",
        str(PGB_DIR),
        "--output-names",
        str(names),
        "--out",
        str(out),
    )
    assert res.exit_code == 0, res.output
    for i, key in enumerate(GENE_KEYS, start=1):
        assert _lines(res.output, f"gene_exp.zea_mays output {i} -> {key}"), res.output
    assert "warning" not in res.output and "output_1" not in res.output
    registry = load_registry(out / "registry.json")
    assert registry.keys() == GENE_KEYS
    spec = registry.get("gene_expression/zea_mays:root")
    assert spec.unit == "units as given by PGB" and spec.n == 4  # 5 train records, the leak dropped
    assert spec.tissues == ["zea_mays:leaf", "zea_mays:root", "zea_mays:shoot apex"]
    assert "output 2" in spec.label_meaning and "CC BY-NC-SA 4.0" in spec.source
    train = read_pgb_fasta(PGB_DIR / "gene_exp" / "zea_mays_train.fa", multi_output=True)
    expected = {r["name"]: r["labels"] for r in train if r["name"] != LEAK_NAME}
    rows = load_regression_rows(out, "train")
    got = {(r["id"].split("|")[1], r["key"]): r["target"] for r in rows}
    assert got == {(name, GENE_KEYS[i]): labels[i] for name, labels in expected.items() for i in range(3)}
    assert 6000 in {len(r["sequence"]) for r in rows}
    for split in ("validation", "test"):
        assert {r["key"] for r in load_regression_rows(out, split)} == set(GENE_KEYS)
    # the layout agrochat train reads: hf/ loads back although gene expression has no conversations
    loaded = load_from_disk(str(out / "hf"))
    assert {s: len(loaded[s]) for s in SPLITS} == {s: 0 for s in SPLITS}
    report = json.loads((out / "build_report.json").read_text())
    assert [o["key"] for o in report["pgb_outputs"]] == GENE_KEYS


def test_unnamed_outputs_warn_and_use_output_n(tmp_path):
    out = tmp_path / "o"
    res = _build("--pgb", "gene_exp.zea_mays", "--pgb-dir", str(PGB_DIR), "--out", str(out))
    assert res.exit_code == 0, res.output
    keys = [f"gene_expression/zea_mays:output_{i}" for i in (1, 2, 3)]
    for i, key in enumerate(keys, start=1):
        assert _lines(res.output, f"gene_exp.zea_mays output {i} -> {key}"), res.output
    warning = _lines(res.output, "warning:")
    assert len(warning) == 1 and "output_1..output_3" in warning[0] and "--output-names FILE" in warning[0]
    assert load_registry(out / "registry.json").keys() == keys


def test_name_count_mismatch_is_one_line(tmp_path):
    names = tmp_path / "two.txt"
    names.write_text("leaf\nroot\n")
    out = tmp_path / "o"
    res = _build(
        "--pgb",
        "gene_exp.zea_mays",
        "--pgb-dir",
        str(PGB_DIR),
        "--output-names",
        str(names),
        "--out",
        str(out),
    )
    assert res.exit_code == 2
    error = _lines(res.output, "error:")
    assert len(error) == 1, res.output
    assert "2 names" in error[0] and "3 outputs" in error[0] and str(names) in error[0]
    assert "Traceback" not in res.output and not (out / "registry.json").exists()


def test_leak_check_drops_train_row_in_test(tmp_path, names):
    res = _build(
        "--pgb",
        "gene_exp.zea_mays",
        "--pgb-dir",
        str(PGB_DIR),
        "--output-names",
        str(names),
        "--out",
        str(tmp_path / "o"),
    )
    assert res.exit_code == 0, res.output
    dropped = _lines(res.output, "Dropped 3 training/validation measurements")
    assert len(dropped) == 1 and all(f"{k}: 1" in dropped[0] for k in GENE_KEYS), res.output
    test_seqs = {
        r["sequence"] for r in read_pgb_fasta(PGB_DIR / "gene_exp" / "zea_mays_test.fa", multi_output=True)
    }
    leak = next(
        r
        for r in read_pgb_fasta(PGB_DIR / "gene_exp" / "zea_mays_train.fa", multi_output=True)
        if r["name"] == LEAK_NAME
    )
    assert leak["sequence"] in test_seqs  # the fixture does hold a leak
    kept = [r for s in ("train", "validation") for r in load_regression_rows(tmp_path / "o", s)]
    assert kept and not {r["sequence"] for r in kept} & test_seqs
    assert len(load_regression_rows(tmp_path / "o", "test")) == 9  # the test set is kept in full


def _m(seq: str, key: str, split: str) -> Measurement:
    return Measurement(seq, key, 1.0, "promoter", ("g",), "", split, split=split, group="g")


def test_drop_test_leaks_only_within_a_key():
    a, b = "promoter_strength/leaf", "promoter_strength/protoplast"
    rows = [
        _m("ACGT", a, "test"),
        _m("ACGT", a, "train"),
        _m("ACGT", a, "validation"),
        _m("ACGT", b, "train"),
    ]
    kept, dropped = drop_test_leaks(rows)
    assert [(m.key, m.split) for m in kept] == [(a, "test"), (b, "train")]
    assert sum(dropped.values()) == 2 and {k for k, _ in dropped} == {a}


def test_single_value_config_keeps_our_key(tmp_path):
    out = tmp_path / "o"
    res = _build("--pgb", "promoter_strength.leaf", "--pgb-dir", str(PGB_DIR), "--out", str(out))
    assert res.exit_code == 0, res.output
    assert _lines(res.output, "promoter_strength.leaf -> promoter_strength/leaf")
    assert len(_lines(res.output, "missing source promoter_strength.leaf")) == 2  # no validation/test fixture
    spec = load_registry(out / "registry.json").get("promoter_strength/leaf")
    assert spec.n == 5 and spec.unit == "log2 units relative to the 35S minimal promoter"
    loaded = load_from_disk(str(out / "hf"))
    assert len(loaded["train"]) >= 5 and {r["task"] for r in loaded["train"]} == {"promoter_strength"}


def test_option_misuse_is_one_line(tmp_path, names):
    both = _build(
        "--pgb", "promoter_strength.leaf", "--data-dir", str(MINI_DATA_DIR), "--out", str(tmp_path / "a")
    )
    assert both.exit_code == 2 and len(_lines(both.output, "error: --pgb builds from PGB alone")) == 1
    alone = _build(
        "--data-dir", str(MINI_DATA_DIR), "--output-names", str(names), "--out", str(tmp_path / "b")
    )
    assert alone.exit_code == 2 and len(_lines(alone.output, "error: --output-names")) == 1
    with pytest.raises(ValueError, match="exactly one gene_exp config"):
        PGBBuildConfig(["promoter_strength.leaf"], output_names=names)
    dup = tmp_path / "dup.txt"
    dup.write_text("leaf\nleaf\nroot\n")
    res = _build(
        "--pgb",
        "gene_exp.zea_mays",
        "--pgb-dir",
        str(PGB_DIR),
        "--output-names",
        str(dup),
        "--out",
        str(tmp_path / "c"),
    )
    assert res.exit_code == 2 and len(_lines(res.output, "must be unique")) == 1


@pytest.fixture
def hub(monkeypatch):
    """A fake hub: nothing cached; downloads served from the fixture folder; ``datasets`` cannot run the script."""
    import datasets
    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    calls = []

    def download(repo_id, filename, *, repo_type=None, local_files_only=False, **kwargs):
        calls.append((filename, local_files_only))
        if local_files_only:
            raise LocalEntryNotFoundError("not in the cache")
        return str(PGB_DIR / filename)

    def script_refused(*args, **kwargs):
        raise RuntimeError("Dataset scripts are no longer supported")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    monkeypatch.setattr(datasets, "load_dataset", script_refused)
    monkeypatch.setattr(pgb, "hub_reachable", lambda *a, **k: True)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return calls


def test_hub_build_falls_back_to_fasta_download(tmp_path, names, hub):
    out = tmp_path / "o"
    res = _build("--pgb", "gene_exp.zea_mays", "--output-names", str(names), "--out", str(out))
    assert res.exit_code == 0, res.output
    assert ("gene_exp/zea_mays_train.fa", False) in hub and ("gene_exp/zea_mays_test.fa", False) in hub
    assert load_registry(out / "registry.json").keys() == GENE_KEYS
    local = tmp_path / "local"
    run_pgb_build(PGBBuildConfig(["gene_exp.zea_mays"], out_dir=local, pgb_dir=PGB_DIR, output_names=names))
    for split in SPLITS:  # the downloaded files give the same rows as the local copy
        assert load_regression_rows(out, split) == load_regression_rows(local, split)


def test_offline_hub_fails_fast_with_the_fix(tmp_path, monkeypatch, hub):
    monkeypatch.setattr(pgb, "hub_reachable", lambda *a, **k: False)
    start = time.perf_counter()
    res = _build("--pgb", "gene_exp.zea_mays", "--out", str(tmp_path / "o"))
    assert time.perf_counter() - start < 3.0
    assert res.exit_code == 2
    error = _lines(res.output, "error:")
    assert len(error) == 1 and "PGBUnavailable" not in res.output and "Traceback" not in res.output
    assert "cannot be reached" in error[0] and "--pgb-dir DIR" in error[0]
    assert "--include 'gene_exp/zea_mays_*' --local-dir DIR" in error[0]
    assert all(local for _, local in hub)  # the cache only: no download was tried


def test_pgb_dir_still_replaces_promoter_training_subsets():
    result = run_build(BuildConfig(data_dir=MINI_DATA_DIR, pgb_dir=PGB_DIR))
    fasta = {r["sequence"] for r in read_pgb_fasta(PGB_DIR / "promoter_strength" / "leaf_train.fa")}
    leaf = [
        r
        for s in ("train", "validation")
        for r in result.dataset[s]
        if r["target_keys"] == ["promoter_strength/leaf"]
    ]
    assert leaf and all(r["sequences"][0] in fasta for r in leaf)
