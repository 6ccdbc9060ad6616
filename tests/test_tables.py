"""Generated tables (bench/tables.py): the docs hold what their results files give, and a number typed by hand
into a generated table is caught."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _tables():
    spec = importlib.util.spec_from_file_location("tables", ROOT / "bench" / "tables.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_generated_table_matches_its_results_file(capsys):
    assert _tables().main(["--check"]) == 0, capsys.readouterr().out


def test_a_number_typed_into_a_generated_table_is_caught():
    tables = _tables()
    card = (ROOT / "src/agrochat/chat/default_model/MODEL_CARD.md").read_text()
    assert "<!-- table: eval-benchmark-keys -->" in card
    doctored = card.replace("| **0.721** |", "| **0.761** |", 1)
    assert doctored != card
    _, changed = tables.render(doctored)
    assert changed == ["eval-benchmark-keys"]
