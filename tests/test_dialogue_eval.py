"""Intent accuracy on held-out phrasings: the measured bar of ``agrochat eval``, and the phrasings stay held out."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_intent_accuracy_on_held_out_phrasings():
    from agrochat.chat.evaluate import evaluate_intents
    from agrochat.domain.registry import load_registry

    res = evaluate_intents(load_registry().keys())
    assert res["n"] >= 100
    assert res["accuracy"] >= 0.95, res["failures"]
    assert res["groups"]["refusal"]["accuracy"] == 1.0, res["failures"]


def test_held_out_phrasings_are_not_training_text():
    from agrochat.data_gen import heldout as H

    builders = sorted(
        p for p in (ROOT / "src" / "agrochat" / "data_gen").glob("*.py") if p.name != "heldout.py"
    )
    assert builders, "no conversation builders found under src/agrochat/data_gen"
    for p in builders:  # no builder imports them (agrochat.data_gen.heldout, `from . import heldout`, ...)
        assert "heldout" not in p.read_text(), p.name
    sources = "".join(p.read_text() for p in builders)
    phrasings = (
        [p for p, _ in H.SYSTEM_PHRASINGS]
        + H.TISSUE_PHRASINGS
        + H.RANK_PHRASINGS
        + H.REFUSAL_PHRASINGS
        + H.STRENGTH_REFUSAL_PHRASINGS
    )
    for p in phrasings:  # no stretch of 15+ characters between placeholders occurs in the builders' sources
        for part in re.split(r"\{\w+\}", p):
            assert len(part.strip()) < 15 or part.strip() not in sources, (p, part)


@pytest.mark.parametrize(
    "name",
    [
        "heldout.jsonl",
        "heldout2.jsonl",
        "heldout3.jsonl",
        "heldout4.jsonl",
        "heldout5.jsonl",
        "heldout6.jsonl",
        "heldout7.jsonl",
        "heldout8.jsonl",
        "heldout9.jsonl",
        "heldout10.jsonl",
    ],
)
def test_independent_held_out_set_is_not_in_the_training_generators(name):
    """bench/phrasings/heldout*.jsonl (written apart from the code, never tuned on): no stretch of 32+ characters
    of its user turns occurs in the templates of the planning or writing data generators (shorter runs are the
    field's common phrases, such as 'of the 35S minimal promoter')."""
    import json

    rows = [json.loads(x) for x in (ROOT / "bench" / "phrasings" / name).read_text().splitlines() if x]
    assert len(rows) >= 200
    sources = "".join(
        (ROOT / "src" / "agrochat" / "data_gen" / f).read_text() for f in ("planning.py", "writing.py")
    )
    for row in rows:
        for m in row["messages"]:
            if m["role"] != "user":
                continue
            for part in re.split(r"\{[^}]*\}", m["content"]):
                words = part.split()
                for i in range(len(words)):  # every run of words of 32+ characters
                    for j in range(i + 1, len(words) + 1):
                        run = " ".join(words[i:j])
                        if len(run) >= 32:
                            assert run not in sources, (row.get("id"), run)
                            break
