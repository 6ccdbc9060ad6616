"""General questions without DNA get the facts they ask for, from the sources' own descriptions."""

from __future__ import annotations

from agrochat.domain.evidence import Evidence, Note, check
from agrochat.domain.facts import (
    DATA,
    EXPRESSION_UNIT,
    FACTS,
    GC,
    POLYA,
    PROMOTER_UNIT,
    TERMINATOR_UNIT,
    facts_for,
)


def test_each_question_gets_the_facts_it_asks_for():
    assert facts_for("what unit is tissue expression in?") == [EXPRESSION_UNIT]
    assert facts_for("what units are terminator values in") == [TERMINATOR_UNIT]
    assert set(facts_for("What do the numbers you give mean, what unit?")) == {
        PROMOTER_UNIT,
        TERMINATOR_UNIT,
        EXPRESSION_UNIT,
    }
    assert facts_for("how was the model trained, on what data?") == [DATA]
    assert facts_for("Are GC-rich promoters weaker?") == [GC]
    assert facts_for("What does AATAAA do?") == [POLYA]
    assert facts_for("hello there") == []


def test_each_plain_answer_passes_the_checker_against_its_note():
    for fact in FACTS:
        assert check(fact.text, Evidence("general", [Note("general", fact.note)])) == [], fact.topic


def test_the_shipped_assistant_answers_a_units_question_with_the_units():
    from agrochat.chat import Assistant

    turn = Assistant.from_pretrained().chat(
        [{"role": "user", "content": "what unit is tissue expression in?"}]
    )
    assert turn.intent.op == "general" and "FPKM" in turn.text


def test_length_and_gc_are_counted_from_the_bases():
    from agrochat.domain.facts import composition

    assert composition(["ACGTGG", "aatt"]) == [
        "sequence 1: 6 bases, GC content 67%",
        "sequence 2: 4 bases, GC content 0%",
    ]
