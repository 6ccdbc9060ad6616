"""Results files say what they read, and the official test split is read only when asked for by name."""

from __future__ import annotations

import datetime
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from agrochat.cli import app
from agrochat.data_gen.paths import FIXTURES_DIR
from agrochat.data_gen.regression import load_regression_rows
from agrochat.provenance import model_hash, provenance

MINI = FIXTURES_DIR / "mini_data"
BENCH = Path(__file__).resolve().parents[1] / "bench"
TERM = "terminator_strength/leaf"
FIELDS = {"split", "rows", "data", "model", "model_sha256", "git_commit", "machine", "date_utc", "command"}


def test_provenance_has_every_field(model_dir, tmp_path, capsys):
    p = provenance("validation", model_dir, rows=7, data=MINI, device="cpu")
    assert set(p) == FIELDS
    assert (p["split"], p["rows"], p["data"], p["model"]) == ("validation", 7, str(MINI), str(model_dir))
    assert re.fullmatch(r"[0-9a-f]{64}", p["model_sha256"])
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=BENCH, capture_output=True, text=True)
    assert p["git_commit"] == (head.stdout.strip() if head.returncode == 0 else None)
    m = p["machine"]
    assert m["cpu_count"] == os.cpu_count() and m["torch"] == torch.__version__ and m["device"] == "cpu"
    assert m["platform"]
    date = datetime.datetime.fromisoformat(p["date_utc"])
    assert date.utcoffset() == datetime.timedelta(0)
    assert abs((datetime.datetime.now(datetime.timezone.utc) - date).total_seconds()) < 60
    assert isinstance(p["command"], str) and p["command"]
    assert capsys.readouterr().err == ""  # validation is not announced
    assert provenance(None)["model_sha256"] is None


def test_model_hash_follows_the_files_not_the_folder(model_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(model_dir, copy)
    assert model_hash(copy) == model_hash(model_dir)
    (copy / "MODEL_CARD.md").write_text("numbers written after the evaluation\n")
    assert model_hash(copy) == model_hash(model_dir)  # the card is not the model
    weights = next(p for p in sorted(copy.rglob("*.safetensors")))
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    assert model_hash(copy) != model_hash(model_dir)


def test_test_split_is_announced_on_stderr(model_dir, capsys):
    p = provenance("test", model_dir, rows=16)
    err = capsys.readouterr().err
    assert err == f"reading the official test split (16 rows) for {p['model_sha256'][:12]}\n"


def test_eval_reads_validation_unless_told(model_dir, tmp_path):
    from agrochat.chat.cli import eval_command
    from agrochat.chat.evaluate import evaluate_fast, evaluate_generated

    for fn in (evaluate_fast, evaluate_generated):
        assert inspect.signature(fn).parameters["split"].default == "validation"
    assert inspect.signature(eval_command).parameters["split"].default.default == "validation"

    n = {s: len(load_regression_rows(MINI, s, keys=[TERM])) for s in ("validation", "test")}
    assert 0 < n["validation"] != n["test"]  # so the row count tells which split was scored
    args = ["eval", "--model", str(model_dir), "--data-dir", str(MINI), "--key", TERM, "--generate", "0"]
    for extra, split in (([], "validation"), (["--split", "test"], "test")):
        rep = tmp_path / split
        r = CliRunner().invoke(app, [*args, *extra, "--report", str(rep)])
        assert r.exit_code == 0, r.output
        res = json.loads((rep / "results.json").read_text())
        prov = res["provenance"]
        assert res[TERM]["n"] == n[split] and prov["split"] == split and prov["rows"] == n[split]
        assert prov["model_sha256"] == model_hash(model_dir)
        assert json.loads((rep / "intents.json").read_text())["provenance"]["model_sha256"]
        announced = f"reading the official test split ({n['test']} rows) for {prov['model_sha256'][:12]}"
        assert (announced in r.stderr) == (split == "test")


def test_a_key_without_rows_in_the_split_is_a_one_line_error():
    from agrochat.data_gen.errors import NoSplitRowsError
    from agrochat.data_gen.regression import rows_by_key
    from agrochat.errors import AgrochatError

    syn = "synthetic_promoter/leaf_noENH_dark"  # in train only in the fixture (its backgrounds carve no rows)
    with pytest.raises(NoSplitRowsError, match="no validation split") as e:
        rows_by_key(MINI, "validation", [TERM, syn])
    assert isinstance(e.value, AgrochatError) and "\n" not in str(e.value) and syn in str(e.value)
    assert list(rows_by_key(MINI, "validation", [TERM, syn], required=False)) == [TERM]


@pytest.fixture()
def bench_path(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_bench_scripts_read_validation_unless_told(bench_path):
    import biology_checks
    import ensemble_validation
    import terminator_readouts

    cases = [
        (terminator_readouts.parser(), ["pool"]),
        (biology_checks.parser(), []),
        (ensemble_validation.parser(), ["base", "member", "--data", "d"]),
    ]
    for ap, required in cases:
        assert ap.parse_args(required).split == "validation"
        assert ap.parse_args([*required, "--split", "test"]).split == "test"


def test_terminator_readouts_scores_test_once_only_with_the_flag(bench_path, monkeypatch, tmp_path, capsys):
    import terminator_readouts as tr

    class Constant(torch.nn.Module):  # stands in for the readout: the loop, not the learning, is under test
        def __init__(self, readout: str) -> None:
            super().__init__()
            self.b = torch.nn.Parameter(torch.zeros(2))

        def forward(self, ids, mask):
            return self.b.expand(ids.shape[0], 2)

    read: list[str] = []
    frame = tr.frame
    monkeypatch.setattr(tr, "Net", Constant)
    monkeypatch.setattr(tr, "frame", lambda data, split: read.append(split) or frame(data, split))
    for extra in ([], ["--split", "test"]):
        read.clear()
        out = tmp_path / f"r{len(extra)}.json"
        argv = ["terminator_readouts.py", "pool", "--epochs", "2", "--data", str(MINI), "--out", str(out)]
        monkeypatch.setattr(sys, "argv", [*argv, *extra])
        tr.main()
        res = json.loads(out.read_text())
        assert len(res["epochs"]) == 2 and all("test_r2" not in e for e in res["epochs"])
        err = capsys.readouterr().err
        if extra:
            assert read == ["train", "validation", "test"] and "test_r2" in res
            assert res["provenance"]["split"] == "test" and "reading the official test split" in err
        else:
            assert read == ["train", "validation"] and "test_r2" not in res
            assert res["provenance"]["split"] == "validation" and "official test split" not in err
