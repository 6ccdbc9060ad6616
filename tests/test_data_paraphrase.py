"""Paraphrasing through a LangChain chat model never drops a <num> slot or changes a fact."""

from __future__ import annotations

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from agrochat.data_gen.build import SPLITS, build_dataset
from agrochat.data_gen.conversations import count_slots
from agrochat.data_gen.paraphrase import (
    ParaphraseConfig,
    Paraphraser,
    ParaphraseStats,
    check_paraphrase,
    paraphrase,
)
from agrochat.data_gen.paths import MINI_DATA_DIR

ANSWER = (
    "I estimate its strength in maize leaf protoplasts at <num>. It has a TATA box centred at -28 relative "
    "to the TSS. Across the library, promoters with this element were on average +1.62 log2 units stronger."
)
GOOD = (
    "My estimate for maize leaf protoplasts is <num>. A TATA box sits at -28 from the TSS; on average such "
    "promoters were +1.62 log2 units stronger across the library."
)
EXAMPLE = {
    "id": "why-x",
    "messages": [{"role": "user", "content": "How strong? <dna>"}, {"role": "assistant", "content": ANSWER}],
    "sequences": ["ACGT"],
    "targets": [0.5],
    "target_keys": ["promoter_strength/protoplast"],
}


def test_check_accepts_faithful_rewrite():
    assert check_paraphrase(ANSWER, GOOD) == []


@pytest.mark.parametrize(
    "bad, problem",
    [
        (GOOD.replace("<num>", "about two"), "<num> count"),
        (GOOD.replace("-28", "-30"), "numbers dropped"),
        (GOOD + " It also has a Y patch.", "motifs added"),
        (GOOD.replace("A TATA box", "A core element"), "motifs dropped"),
        (GOOD.replace("maize leaf protoplasts", "this assay"), "assay or tissue names dropped"),
        (GOOD + " Expect 3.5.", "numbers added"),
        ("", "empty"),
    ],
)
def test_check_rejects_changed_facts(bad, problem):
    assert any(p.startswith(problem) for p in check_paraphrase(ANSWER, bad))


def test_fake_model_good_then_bad():
    model = FakeListChatModel(responses=[GOOD, GOOD.replace("<num>", "2.3")])
    stats = ParaphraseStats()
    first = paraphrase(EXAMPLE, model, stats=stats)
    second = paraphrase(EXAMPLE, model, stats=stats)
    assert first["messages"][1]["content"] == GOOD
    assert second["messages"][1]["content"] == ANSWER  # rejected: original kept
    assert first["messages"][0] == EXAMPLE["messages"][0]  # user turns untouched by default
    assert (stats.attempted, stats.accepted, stats.rejected) == (2, 1, 1)
    assert EXAMPLE["messages"][1]["content"] == ANSWER  # input not mutated
    for ex in (first, second):
        assert count_slots(ex) == (1, 1)
        assert ex["targets"] == EXAMPLE["targets"]


def test_model_errors_are_counted():
    class Broken:
        def invoke(self, messages):
            raise RuntimeError("model down")

    p = Paraphraser(Broken())
    assert p(EXAMPLE) == EXAMPLE
    assert p.stats.errors == 1
    with pytest.raises(TypeError):
        Paraphraser(object())
    with pytest.raises(ValueError):
        ParaphraseConfig(roles=("system",))


def test_build_with_paraphraser_keeps_slots_and_facts():
    plain = build_dataset(MINI_DATA_DIR, seed=0)
    # a model that always answers the same canned text: every rewrite must be rejected
    model = FakeListChatModel(responses=["Sure, here it is: <num>."])
    para = Paraphraser(model, ParaphraseConfig(fraction=0.5))
    rewritten = build_dataset(MINI_DATA_DIR, seed=0, paraphraser=para)
    assert para.stats.attempted > 0 and para.stats.accepted == 0
    assert para.stats.rejected == para.stats.attempted
    for split in SPLITS:
        assert rewritten[split].to_list() == plain[split].to_list()
