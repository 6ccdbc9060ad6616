"""A pasted promoter region longer than the core-promoter window: scored on its 3'-most 170 bp when the user says
it ends at the TSS (and the answer says so), else a question back with no number; the same window by name in the
Python API."""

from __future__ import annotations

import random

import pytest

from agrochat.chat import Assistant
from agrochat.errors import InputError
from conftest import read_promoters


@pytest.fixture(scope="module")
def assistant(model_dir):
    return Assistant.from_pretrained(model_dir)


@pytest.fixture(scope="module")
def region():
    core = read_promoters(1)[0]["sequence"]
    return "".join(random.Random(3).choices("ACGT", k=630)) + core, core


def test_a_region_ending_at_the_tss_is_scored_on_its_core_window(assistant, region):
    seq, core = region
    ans = assistant.chat(
        [{"role": "user", "content": f"How strong in tobacco leaves? It ends at the TSS. {seq}"}]
    )
    assert ans.intent.op == "predict" and ans.text.startswith("Scored: the 3'-most 170 bp of your 800-bp")
    assert ans.predictions[0].value == pytest.approx(
        assistant.predict(core, explanations=False)[0].value, abs=1e-4
    )


def test_a_region_without_a_word_on_the_tss_gets_a_question_then_the_reply_is_answered(assistant, region):
    seq, core = region
    first = [{"role": "user", "content": f"How strong is this promoter in tobacco leaves? {seq}"}]
    asked = assistant.chat(first)
    assert asked.intent.op == "clarify" and not asked.predictions and "800 bp" in asked.text
    reply = [
        *first,
        {"role": "assistant", "content": asked.text},
        {"role": "user", "content": "it ends at the TSS"},
    ]
    ans = assistant.chat(reply)
    assert ans.intent.op == "predict" and ans.intent.keys == ("promoter_strength/leaf",)
    assert ans.predictions[0].value == pytest.approx(
        assistant.predict(core, explanations=False)[0].value, abs=1e-4
    )


def test_a_long_terminator_is_asked_for_its_window(assistant, region):
    seq, _ = region
    ans = assistant.chat(
        [{"role": "user", "content": f"How strong is this terminator in tobacco leaves? {seq}"}]
    )
    assert ans.intent.op == "clarify" and "cleavage site" in ans.text and not ans.predictions


def test_core_promoters_are_scored_as_they_are_and_the_api_names_its_window(assistant, region):
    seq, core = region
    ans = assistant.chat(
        [{"role": "user", "content": f"How strong is this promoter in tobacco leaves? {core}"}]
    )
    assert ans.intent.op == "predict" and not ans.intent.notes and not ans.text.startswith("Scored")
    cut = assistant.predict(seq, window="tss_end", explanations=False)[0]
    assert cut.sequence == core and cut.value == pytest.approx(ans.predictions[0].value, abs=1e-4)
    assert assistant.predict(seq, explanations=False)[0].sequence == seq  # whole, as given, by default
    with pytest.raises(InputError, match="window must be one of"):
        assistant.predict(seq, window="middle")
