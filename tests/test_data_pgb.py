"""PGB loader: local FASTA in the hub layout, multi-output records, the hub path (cache, probe, ``datasets``,
FASTA download, offline errors), bad records."""

from __future__ import annotations

import time

import pytest
from huggingface_hub import constants

from agrochat.data_gen import pgb
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


@pytest.fixture
def hub(monkeypatch):
    """A fake Hugging Face Hub: nothing cached, reachable, FASTA downloads served from the fixture folder.

    ``hub["calls"]`` records every ``hf_hub_download`` call; set ``hub["cached"]`` to serve files from the cache.
    """
    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    state = {"calls": [], "cached": False}

    def download(repo_id, filename, *, repo_type=None, local_files_only=False, **kwargs):
        state["calls"].append((repo_id, filename, repo_type, local_files_only))
        if local_files_only and not state["cached"]:
            raise LocalEntryNotFoundError("not in the cache")
        return str(PGB_DIR / filename)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    monkeypatch.setattr(pgb, "hub_reachable", lambda *a, **k: True)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return state


def _no_datasets(monkeypatch):
    import datasets

    def fail(*args, **kwargs):
        raise AssertionError("datasets.load_dataset must not be called")

    monkeypatch.setattr(datasets, "load_dataset", fail)


def test_online_path_maps_records(monkeypatch, hub):
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
    assert [c[3] for c in hub["calls"]] == [True]  # the cache was asked first, nothing downloaded


def test_datasets_failure_falls_back_to_fasta_download(monkeypatch, hub):
    import datasets

    def script_refused(*args, **kwargs):
        raise RuntimeError("Dataset scripts are no longer supported, but found plant-genomic-benchmark.py")

    monkeypatch.setattr(datasets, "load_dataset", script_refused)
    rows = load_pgb("gene_exp.zea_mays", "test")
    assert hub["calls"] == [
        ("InstaDeepAI/plant-genomic-benchmark", "gene_exp/zea_mays_test.fa", "dataset", True),
        ("InstaDeepAI/plant-genomic-benchmark", "gene_exp/zea_mays_test.fa", "dataset", False),
    ]
    assert rows == load_pgb("gene_exp.zea_mays", "test", local_dir=PGB_DIR)
    assert len(rows) == 3 and len(rows[0]["labels"]) == 3


def test_both_hub_paths_failing_is_one_clear_line(monkeypatch, hub):
    import datasets
    import huggingface_hub

    def refused(*args, **kwargs):
        raise RuntimeError("Dataset scripts are no longer supported")

    def broken(*args, local_files_only=False, **kwargs):
        if local_files_only:
            from huggingface_hub.errors import LocalEntryNotFoundError

            raise LocalEntryNotFoundError("not cached")
        raise ConnectionError("connection reset\nby peer")

    monkeypatch.setattr(datasets, "load_dataset", refused)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", broken)
    with pytest.raises(PGBUnavailableError) as info:
        load_pgb("terminator_strength.protoplast", "test")
    msg = str(info.value)
    assert "\n" not in msg
    assert "Dataset scripts are no longer supported" in msg and "connection reset by peer" in msg
    assert "terminator_strength/protoplast_test.fa" in msg and "--pgb-dir DIR" in msg


def test_file_missing_on_the_hub_is_a_missing_source(monkeypatch, hub):
    import datasets
    import httpx2
    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError, RemoteEntryNotFoundError

    def missing(repo_id, filename, *, local_files_only=False, **kwargs):
        if local_files_only:
            raise LocalEntryNotFoundError("not cached")
        response = httpx2.Response(404, request=httpx2.Request("GET", f"https://huggingface.co/{filename}"))
        raise RemoteEntryNotFoundError("404 entry not found", response=response)

    def no_split(*args, **kwargs):
        raise ValueError("Unknown split 'validation'")

    monkeypatch.setattr(datasets, "load_dataset", no_split)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", missing)
    with pytest.raises(MissingSourceError, match="promoter_strength/leaf_validation.fa"):
        load_pgb("promoter_strength.leaf", "validation")


def test_offline_fails_fast_with_the_fix(monkeypatch, hub):
    _no_datasets(monkeypatch)
    monkeypatch.setattr(pgb, "hub_reachable", lambda *a, **k: False)
    start = time.perf_counter()
    with pytest.raises(PGBUnavailableError) as info:
        load_pgb("gene_exp.zea_mays", "train")
    assert time.perf_counter() - start < 2.0
    msg = str(info.value)
    assert "\n" not in msg
    assert "gene_exp/zea_mays_train.fa" in msg and "cannot be reached" in msg
    assert constants.HF_HUB_CACHE in msg  # where it was looked for
    assert "--pgb-dir DIR" in msg
    assert (
        "hf download InstaDeepAI/plant-genomic-benchmark --repo-type dataset "
        "--include 'gene_exp/zea_mays_*' --local-dir DIR" in msg
    )
    assert [c[3] for c in hub["calls"]] == [True]  # only the cache was asked


def test_hf_hub_offline_skips_the_probe(monkeypatch, hub):
    _no_datasets(monkeypatch)

    def probe(*args, **kwargs):
        raise AssertionError("no probe under HF_HUB_OFFLINE")

    monkeypatch.setattr(pgb, "hub_reachable", probe)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(PGBUnavailableError, match="HF_HUB_OFFLINE is set"):
        load_pgb("promoter_strength.leaf", "train")
    hub["cached"] = True  # a file already in the cache is used offline
    rows = load_pgb("promoter_strength.leaf", "train")
    assert rows == load_pgb("promoter_strength.leaf", "train", local_dir=PGB_DIR)


def test_probe_answers_quickly_without_a_server():
    """The real probe: a closed local port is unreachable; any HTTP answer (even 404) is reachable."""
    import http.server
    import socket
    import threading

    with socket.socket() as s:  # a free port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    start = time.perf_counter()
    assert pgb.hub_reachable(f"http://127.0.0.1:{closed}", timeout=1.0) is False
    assert time.perf_counter() - start < 2.5

    class NotFound(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_error(404)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert pgb.hub_reachable(f"http://127.0.0.1:{server.server_address[1]}", timeout=2.0) is True
    finally:
        server.shutdown()
        server.server_close()


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
