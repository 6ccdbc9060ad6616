"""PGB loader: local FASTA in the hub layout, multi-output records, the online path, bad records."""

from __future__ import annotations

import pytest

from agrochat.data_gen.errors import BadInputError, BadRowLog, MissingSourceError
from agrochat.data_gen.paths import FIXTURES_DIR
from agrochat.data_gen.pgb import PGBConfig, PGBUnavailableError, load_pgb, read_pgb_fasta

PGB_DIR = FIXTURES_DIR / "pgb_fasta"


def test_reads_single_value_fasta():
    rows = load_pgb("promoter_strength.leaf", "train", local_dir=PGB_DIR)
    assert len(rows) == 5
    for r in rows:
        assert set(r) == {"sequence", "name", "label"}
        assert len(r["sequence"]) == 170  # the fixture splits each sequence over two lines
        assert isinstance(r["label"], float)
    # the first fixture records are the first rows of the real PGB subset
    first = rows[0]
    assert first["name"] == "Zm00001d033526_Zm"
    assert first["label"] == pytest.approx(-1.8342843056)
    assert first["sequence"].startswith("CAGCCCATCCTACTCAGACTCAGAGCGAG")


def test_reads_multi_output_fasta():
    rows = load_pgb(PGBConfig("gene_exp.zea_mays", "test", PGB_DIR))
    assert len(rows) == 3
    for r in rows:
        assert set(r) == {"sequence", "name", "labels"}
        assert len(r["labels"]) == 3 and all(isinstance(x, float) for x in r["labels"])


def test_missing_local_file_and_bad_config():
    with pytest.raises(MissingSourceError, match="leaf_validation.fa"):
        load_pgb("promoter_strength.leaf", "validation", local_dir=PGB_DIR)
    with pytest.raises(ValueError, match="unknown PGB config"):
        PGBConfig("promoter_strength.root")
    with pytest.raises(ValueError, match="split"):
        PGBConfig("promoter_strength.leaf", "dev")


def test_online_path_gives_clear_error(monkeypatch):
    import datasets

    def offline(*args, **kwargs):
        raise ConnectionError("no network")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(PGBUnavailableError, match="InstaDeepAI/plant-genomic-benchmark.*local_dir"):
        load_pgb("terminator_strength.protoplast", "test")


def test_online_path_maps_records(monkeypatch):
    import datasets

    calls = {}

    def fake(repo, config, split):
        calls.update(repo=repo, config=config, split=split)
        return [{"sequence": "acgt", "name": "x", "label": 1.5}]

    monkeypatch.setattr(datasets, "load_dataset", fake)
    rows = load_pgb("promoter_strength.protoplast", "validation")
    assert calls == {
        "repo": "InstaDeepAI/plant-genomic-benchmark",
        "config": "promoter_strength.protoplast",
        "split": "validation",
    }
    assert rows == [{"sequence": "ACGT", "name": "x", "label": 1.5}]


def test_bad_records_name_file_and_line(tmp_path):
    path = tmp_path / "leaf_train.fa"
    path.write_text(">good|1.0\nACGT\n>bad|0.5\nACGN\n>nolabel\nACGT\n>empty|\nACGT\n")
    with pytest.raises(BadInputError) as info:
        read_pgb_fasta(path)
    assert f"{path}:3" in str(info.value) and "non-ACGT" in str(info.value)
    log = BadRowLog(on_bad="skip")
    rows = read_pgb_fasta(path, log=log)
    assert [r["name"] for r in rows] == ["good"]
    assert log.total == 3
