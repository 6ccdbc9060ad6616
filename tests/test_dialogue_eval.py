"""Intent accuracy on held-out phrasings: the measured bar of ``agrochat eval``, and the phrasings stay held out."""

from __future__ import annotations

import re
from pathlib import Path

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

    sources = "".join(p.read_text() for p in (ROOT / "data_gen").glob("*.py") if p.name != "heldout.py")
    assert "heldout" not in sources  # no builder imports them
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
