"""Dialogue battery: multi-turn conversations through ``Assistant.chat`` (and the REPL): the key of every number,
or a refusal with no number; follow-ups keep their sequence, task and system; no internal error text."""

from __future__ import annotations

import re

import pytest
import torch

from conftest import read_promoters, tiny_config

P = [r["sequence"] for r in read_promoters(4)]
A, B = P[0], P[1]
LEAF, PROTO = "promoter_strength/leaf", "promoter_strength/protoplast"
TLEAF, TPROTO = "terminator_strength/leaf", "terminator_strength/protoplast"
POLLEN, ROOT1 = "tissue_expression/maize:mature pollen", "tissue_expression/maize:primary root"
NO_NUMBER = ("refuse", "clarify", "need_dna", "greet", "help", "general")
EDITS = ("variant", "design")  # numbers for edited sequences: the start value is predict()'s

# each conversation: (user turn, expected op, expected keys of the numbers in order; None: don't check keys)
CONVERSATIONS = [
    [
        (f"How strongly is this promoter expressed in leaf? {A}", "predict", [LEAF]),
        ("why?", "explain", [LEAF]),
        ("and in protoplasts?", "predict", [PROTO]),
        ("why?", "explain", [PROTO]),
    ],
    [
        (f"How strong is this promoter in maize protoplasts? {A}", "predict", [PROTO]),
        ("What about tobacco leaves?", "predict", [LEAF]),
    ],
    [(f"{A}\nIs this a strong promoter in tobacco?", "predict", [LEAF])],
    [(f"Rate this promoter in N. benthamiana leaves: {A}", "predict", [LEAF])],
    [(f"How strong is this promoter? {A}", "predict", [LEAF, PROTO])],
    [(f"How strong is this promoter in both systems? {A}", "predict", [LEAF, PROTO])],
    [
        (f"How strong is this terminator in maize protoplasts? {A.lower()}", "predict", [TPROTO]),
        ("and in tobacco?", "predict", [TLEAF]),
    ],
    [(f"This terminator {A}: how well does it work in tobacco leaves?", "predict", [TLEAF])],
    [
        (f"How strong is this promoter in maize roots? {A}", "refuse", []),
        (f"OK, how much is the gene expressed in maize primary root? {A}", "predict", [ROOT1]),
    ],
    [(f"Is this promoter active in Arabidopsis? {A}", "refuse", [])],
    [(f"How strong is this promoter in rice leaves? {A}", "refuse", [])],
    [(f"How strong would this promoter be in wheat? {A}", "refuse", [])],
    [(f"How strong is this promoter in tobacco roots? {A}", "refuse", [])],
    [(f"How strong is this promoter in sorghum? {A}", "refuse", [])],
    [(f"How highly is this maize gene expressed in pollen? {A}", "predict", [POLLEN])],
    [(f"Compare these two maize genes in mature pollen: 1. {A} 2. {B}", "compare", [POLLEN, POLLEN])],
    [(f"How active is this maize promoter in pollen? {A}", "refuse", [])],  # activity: an assay word
    [
        (
            f"How much is the sorghum gene behind this promoter expressed in seedling roots? {A}",
            "predict",
            ["tissue_expression/sorghum:seedling developmental stage, root"],
        )
    ],
    [
        (f"Expression of this maize gene in roots? {A}", "clarify", []),
        ("the primary root", "predict", [ROOT1]),
    ],
    [(f"In which maize tissues is this gene expressed most? {A}", "rank", None)],
    [(f"Where is this sorghum gene expressed? {A}", "rank", None)],
    [(f"Which tissues express this gene most? {A}", "clarify", []), ("it is a maize gene", "rank", None)],
    [
        (f"Compare these promoters in tobacco leaves: 1. {A} 2. {B}", "compare", [LEAF, LEAF]),
        ("what about the second one in protoplasts?", "predict", [PROTO]),
    ],
    [
        (
            f"Which of these two is stronger in maize protoplasts? First: {A} Second: {B}",
            "compare",
            [PROTO, PROTO],
        )
    ],
    [
        (f"How strong is this promoter in tobacco? {A}", "predict", [LEAF]),
        (f"Compare it with this other promoter: {B}", "compare", [LEAF, LEAF]),
        ("which one is stronger?", "compare", [LEAF, LEAF]),
    ],
    [(f"{A} vs {B} for terminator strength in protoplasts", "compare", [TPROTO, TPROTO])],
    [(f"Which bases matter most in this promoter for tobacco leaves? {A}", "explain", [LEAF])],
    [(f"What drives the activity of this promoter in protoplasts? {A}", "explain", [PROTO])],
    [(f"What if I mutate the TATA box of this promoter? {A}", "variant", [LEAF, PROTO])],
    [(f"Make this promoter stronger: {A}", "design", [LEAF, PROTO])],
    [(f"Design a stronger variant of {A} for tobacco", "design", [LEAF])],
    [
        (f"How strong is this promoter in maize protoplasts? {A}", "predict", [PROTO]),
        ("what if I knock out the Y patch?", "variant", [PROTO]),
        ("and G-30A?", "variant", [PROTO]),
        ("make it stronger with at most 2 substitutions", "design", [PROTO]),
    ],
    [("Make this promoter stronger", "need_dna", [])],
    # more multi-turn conversations: follow-ups across operations, systems, sequences and refusals
    [("hello", "greet", []), (f"How strong is this promoter in tobacco leaves? {A}", "predict", [LEAF])],
    [
        ("What can you do?", "help", []),
        (f"Rate this terminator for maize protoplasts: {A}", "predict", [TPROTO]),
    ],
    [
        (f"How strong is this promoter in maize protoplasts? {A}", "predict", [PROTO]),
        ("which bases matter most?", "explain", [PROTO]),
        ("what if I knock out the TATA box?", "variant", [PROTO]),
    ],
    [
        (f"How strong is this promoter in tobacco leaves? {A}", "predict", [LEAF]),
        ("How strong would it be in rice?", "refuse", []),
        ("ok, and in maize protoplasts?", "predict", [PROTO]),
    ],
    [
        (f"How strong is this terminator in tobacco leaves? {A}", "predict", [TLEAF]),
        ("why?", "explain", [TLEAF]),
        ("and in protoplasts?", "predict", [TPROTO]),
    ],
    [
        (f"Compare these two promoters in tobacco leaves: {A} and {B}", "compare", [LEAF, LEAF]),
        ("and in maize protoplasts?", "compare", [PROTO, PROTO]),
    ],
    [
        (f"Compare these two promoters in tobacco leaves: {A} and {B}", "compare", [LEAF, LEAF]),
        ("what about the second one in protoplasts?", "predict", [PROTO]),
    ],
    [
        (f"How strong is this promoter in tobacco leaves? {A}", "predict", [LEAF]),
        ("make it stronger", "design", [LEAF]),
        ("and a weaker version?", "design", [LEAF]),
    ],
    [
        (f"How strong is this promoter in tobacco leaves? {A}", "predict", [LEAF]),
        (f"and this one? {B}", "predict", [LEAF]),
        ("compare them", "compare", [LEAF, LEAF]),
    ],
    [
        (f"How highly is this maize gene expressed in pollen? {A}", "predict", [POLLEN]),
        ("and in the primary root?", "predict", [ROOT1]),
    ],
    [
        (f"How highly is this maize gene expressed in pollen? {A}", "predict", [POLLEN]),
        ("in which maize tissues is it highest?", "rank", None),
    ],
    [
        (f"In which maize tissues is this gene expressed most? {A}", "rank", None),
        ("how strong is it in tobacco leaves?", "predict", [LEAF]),
    ],
    [
        (f"How strong is this promoter in tobacco roots? {A}", "refuse", []),
        ("fine, tobacco leaves then", "predict", [LEAF]),
    ],
    [
        (f"Is this promoter active in Arabidopsis? {A}", "refuse", []),
        ("what can you answer for it?", "predict", [LEAF, PROTO]),
    ],
    [
        (f"How strong is this synthetic promoter? {A}", "clarify", []),
        ("in tobacco leaves without enhancer in the dark", "predict", ["synthetic_promoter/leaf_noENH_dark"]),
    ],
    [
        (f"How strong is this promoter in tobacco? {A}", "predict", [LEAF]),
        ("what if I knock out the Y patch?", "variant", [LEAF]),
        ("and in protoplasts?", "predict", [PROTO]),
    ],
    [
        (f"How strong is this promoter in tobacco? {A}", "predict", [LEAF]),
        ("What is an Inr?", "general", []),
        ("why is it that strong?", "explain", [LEAF]),
    ],
    [
        (f"How strong is this terminator in maize protoplasts? {A}", "predict", [TPROTO]),
        ("make it stronger with at most 3 substitutions", "design", [TPROTO]),
    ],
    [
        (f"How strong is this promoter in tobacco? {A}", "predict", [LEAF]),
        (f"what about this one in protoplasts? {B}", "predict", [PROTO]),
        ("and the first one in protoplasts?", "predict", [PROTO]),
    ],
    [
        (f"Score these promoters for maize protoplasts: {A} {B}", "compare", [PROTO, PROTO]),
        ("why is the first one like that?", "explain", [PROTO]),
    ],
    [
        (f"How strong is this promoter in tobacco? {A}", "predict", [LEAF]),
        ("thanks", "greet", []),
        ("and in maize protoplasts?", "predict", [PROTO]),
    ],
    [
        (f"How strong is this promoter in maize protoplasts? {A}", "predict", [PROTO]),
        ("design a version that is strong in maize protoplasts but weak in tobacco leaves", "design", None),
    ],
    [
        (f"Expression of this maize gene in roots? {A}", "clarify", []),
        ("the primary root", "predict", [ROOT1]),
        ("and in pollen?", "predict", [POLLEN]),
    ],
    [
        (f"How strong is this promoter in wheat? {A}", "refuse", []),
        ("and in sorghum?", "refuse", []),
        ("and in tobacco leaves?", "predict", [LEAF]),
    ],
    [
        ("How strong is my promoter in tobacco leaves?", "need_dna", []),
        (f"here it is: {A}", "predict", [LEAF]),
    ],
    [
        (f"Is this a strong terminator? {A}", "predict", [TLEAF, TPROTO]),
        ("which of the two systems is it better in?", "predict", [TLEAF, TPROTO]),
    ],
    [
        (
            f"hi, I have a maize promoter, would it drive a reporter well in benthamiana leaves? {A}",
            "predict",
            [LEAF],
        )
    ],
    [(f"How strong is this Arabidopsis promoter in tobacco leaves? {A}", "predict", [LEAF])],
    [
        (
            f"I have this terminator from Arabidopsis, would it work well in tobacco leaves? {A}",
            "predict",
            [TLEAF],
        )
    ],
    [(f"A promoter from maize: how active is it in benthamiana leaves? {A}", "predict", [LEAF])],
    [(f"How strong is this Arabidopsis promoter? {A}", "refuse", [])],
    [
        (f"How strong is this promoter in tobacco? {A}", "predict", [LEAF]),
        (f"and this one? {B}", "predict", [LEAF]),
        ("which is the strongest of the two?", "compare", [LEAF, LEAF]),
        ("can you make the weaker one 30% stronger?", "design", [LEAF]),
    ],
    [("hello", "greet", [])],
    [("hi there!", "greet", []), ("what can you do?", "help", [])],
    [("asdkjh qwe", "help", [])],
    [("What is a TATA box?", "general", [])],
    [("How strong is this promoter?", "need_dna", [])],
    [("Is this a good terminator for maize protoplasts?", "need_dna", [])],
    [(f"How strong is this promoter in tobacco? {A}", "predict", [LEAF]), ("thanks!", "greet", [])],
    [
        (f"How strong is this promoter in tobacco? {A}", "predict", [LEAF]),
        ("What is a Y patch?", "general", []),
        ("and in maize protoplasts?", "predict", [PROTO]),
    ],
    [(f"How strong is this synthetic promoter? {A}", "clarify", [])],
    [
        (
            f"How strong is this promoter in tobacco leaves with the enhancer, in the light? {A}",
            "predict",
            ["natural_promoter/leaf_withENH_light"],
        )
    ],
    [
        (
            f"How strong is this promoter in maize protoplasts without an enhancer in the dark? {A}",
            "predict",
            ["natural_promoter/proto_noENH_dark"],
        )
    ],
    [
        (f"How strong is this promoter in tobacco? {A}", "predict", [LEAF]),
        (f"and this one? {B}", "predict", [LEAF]),
        ("what about the first one?", "predict", [LEAF]),
    ],
    [
        (f"Score these promoters for tobacco leaves: {A} {B} {P[2]}", "compare", [LEAF, LEAF, LEAF]),
        ("what about the third one in protoplasts?", "predict", [PROTO]),
    ],
    [(f"How strong is this terminator? {A}", "predict", [TLEAF, TPROTO]), ("Why?", "explain", [TLEAF])],
    [
        (
            f"Is this promoter more active in maize protoplasts or in tobacco leaves? {A}",
            "predict",
            [PROTO, LEAF],
        )
    ],
    [
        (
            f"Is this promoter more active in tobacco leaves or in maize protoplasts? {A}",
            "predict",
            [LEAF, PROTO],
        )
    ],
    [(f"Is it stronger in leaves or in protoplasts? {A}", "predict", [LEAF, PROTO])],
    [(f"and if I destroy the y patch, how does it change in maize protoplasts? {A}", "variant", [PROTO])],
    [(f"What happens when I disrupt the TATA box? {A}", "variant", [LEAF, PROTO])],
    [(f"How strong is this promoter in maize leaves? {A}", "predict", [PROTO])],
    [(f"How strong is this promoter in maize leaf protoplasts? {A}", "predict", [PROTO])],
]


@pytest.fixture(scope="module")
def wide_assistant(dna_tokenizer, text_tokenizer):
    """A tiny random model that knows every key of the shipped registry."""
    from agrochat.bridge import NumericHeadConfig, build_model
    from agrochat.chat import Assistant
    from agrochat.domain.registry import load_registry

    reg = load_registry()
    keys = reg.keys()
    torch.manual_seed(0)
    head = NumericHeadConfig(keys=keys, norm={k: [0.0, 1.0] for k in keys}, hidden=16, readout="dna")
    model = build_model(tiny_config(numeric_head=head), tokenizer=text_tokenizer, dna_tokenizer=dna_tokenizer)
    return Assistant(model, reg)


def test_battery_size():
    assert len(CONVERSATIONS) >= 40
    assert sum(len(c) > 1 for c in CONVERSATIONS) >= 40  # multi-turn conversations


@pytest.mark.parametrize("conversation", CONVERSATIONS, ids=[f"c{i:02d}" for i in range(len(CONVERSATIONS))])
def test_conversation(wide_assistant, conversation):
    a = wide_assistant
    messages: list[dict] = [{"role": "system", "content": "You are a plant biology assistant."}]
    for text, op, keys in conversation:
        messages.append({"role": "user", "content": text})
        ans = a.chat(messages, max_new_tokens=4)
        assert ans.intent.op == op, (text, ans.intent)
        assert not re.search(r"error|Traceback|<num>|<dna>|num_keys", ans.text), ans.text
        if op in EDITS:
            assert keys is None or list(ans.intent.keys) == keys, text
            for key in ans.intent.keys:
                task, tissue = key.split("/", 1)
                ref = a.predict(ans.intent.sequences[0], task=task, tissue=tissue, explanations=False)[0]
                assert "cannot apply" in ans.text or f"{ref.value:.2f}" in ans.text
        elif op in NO_NUMBER:
            assert not ans.predictions
            assert not re.search(r"\d+\.\d\d ±", ans.text)
            if op == "refuse":
                assert "closest things I can answer" in ans.text
        else:
            got = [p.key for p in ans.predictions]
            if keys is not None:
                assert got == keys, text
            for p in ans.predictions:  # every number equals predict() for that sequence and key
                task, tissue = p.key.split("/", 1)
                ref = a.predict(p.sequence, task=task, tissue=tissue, explanations=False)[0]
                assert p.value == pytest.approx(ref.value, abs=1e-5)
                if op != "rank":  # a ranking writes the top tissues only (test_rank_covers_every_tissue...)
                    assert f"{ref.value:.2f}" in ans.text
        messages.append({"role": "assistant", "content": ans.text})


def test_rank_covers_every_tissue_of_the_species(wide_assistant):
    ans = wide_assistant.chat(
        [{"role": "user", "content": f"In which maize tissues is this gene expressed most? {A}"}]
    )
    maize = [k for k in wide_assistant.known_keys if k.startswith("tissue_expression/maize:")]
    assert sorted(p.key for p in ans.predictions) == sorted(maize)
    top = max(ans.predictions, key=lambda p: p.value)
    assert ans.text.splitlines()[1].startswith(f"- {top.key.split(':', 1)[1]}: {top.value:.2f}")


def test_a_ranking_says_how_often_its_top_tissue_is_right(wide_assistant):
    q = [{"role": "user", "content": f"In which maize tissues is this gene expressed most? {A}"}]
    assert "How far to trust" not in wide_assistant.chat(q).text  # a model without a ranking record
    wide_assistant.ranking = {
        "maize": {"split": "validation", "genes": 498, "top1": 0.0964, "top3": 0.241, "chance_top1": 0.0435}
    }
    try:
        ans = wide_assistant.chat(q)
    finally:
        wide_assistant.ranking = {}
    assert "for 10% of genes (chance 4%), one of the first three for 24%" in ans.text
    assert any("498 validation genes" in line for line in ans.evidence.text().splitlines())


def test_comparison_states_difference_and_uncertainty(wide_assistant):
    ans = wide_assistant.chat([{"role": "user", "content": f"Compare in tobacco leaves: {A} and {B}"}])
    hi, lo = sorted(ans.predictions, key=lambda p: -p.value)
    assert f"by {hi.value - lo.value:.2f}" in ans.text
    assert "combined uncertainty" in ans.text


def test_one_sequence_in_two_systems_is_compared_by_percentile(wide_assistant):
    from agrochat.domain.registry import ordinal

    ans = wide_assistant.chat([{"role": "user", "content": f"Is it stronger in leaves or protoplasts? {A}"}])
    hi, lo = sorted(ans.predictions, key=lambda p: -p.percentile)
    assert hi.key != lo.key and "Sequence 1" not in ans.text
    last = ans.text.splitlines()[-1]
    where = [last.index(f"({ordinal(round(p.percentile))} percentile)") for p in (hi, lo)]
    assert where[0] <= where[1], last
    assert "compare the percentiles" in last


def test_stream_equals_text(wide_assistant):
    msgs = [{"role": "user", "content": f"How strong is this promoter in tobacco leaves? {A}"}]
    assert (
        "".join(wide_assistant.chat(msgs, stream=True, max_new_tokens=4))
        == wide_assistant.chat(msgs, max_new_tokens=4).text
    )


def test_repl_follow_ups(wide_assistant, capsys):
    from agrochat.chat.cli import Repl

    out: list[str] = []
    repl = Repl(wide_assistant, None, None, echo=out.append)
    repl.handle(f"How strong is this promoter in maize protoplasts? {A}")
    repl.handle("and in tobacco leaves?")
    repl.handle("How strong is it in rice?")
    repl.handle("hello")
    printed = capsys.readouterr().out
    assert "maize leaf protoplasts" in printed and "tobacco" in printed
    assert "closest things I can answer" in printed
    assert repl.key == LEAF and repl.seq == A
    assert "error" not in " ".join(out)


@pytest.mark.slow
@pytest.mark.parametrize("conversation", CONVERSATIONS, ids=[f"c{i:02d}" for i in range(len(CONVERSATIONS))])
def test_conversation_through_the_repl(wide_assistant, conversation, capsys):
    """The same battery typed into the REPL: every printed answer is the chat answer to the same conversation."""
    from agrochat.chat.cli import Repl

    out: list[str] = []
    repl = Repl(wide_assistant, None, None, echo=out.append)
    messages: list[dict] = []
    for text, _op, _keys in conversation:
        repl.handle(text)
        printed = capsys.readouterr().out
        messages.append({"role": "user", "content": text})
        expected = wide_assistant.chat(messages).text
        assert printed.rstrip("\n") == expected.rstrip("\n"), text
        assert not re.search(r"error|Traceback|<num>|<dna>|num_keys", printed)
        messages.append({"role": "assistant", "content": printed.rstrip("\n")})
    assert not out  # nothing went to the REPL's error/notice channel


def test_design_goal_read_from_the_words(wide_assistant):
    ask = [{"role": "user", "content": f"can you make the weaker one stronger in tobacco leaves? {A}"}]
    assert "(stronger for promoter strength in tobacco" in wide_assistant.chat(ask).text
    ask = [{"role": "user", "content": f"design a weaker version of this promoter for tobacco leaves: {A}"}]
    assert "(weaker for promoter strength in tobacco" in wide_assistant.chat(ask).text


def test_general_questions_answer_from_the_library_not_the_decoder(wide_assistant):
    """A question without DNA that names an element gets the measured library averages (Supp. Table 4); any
    other general question gets the help text; neither carries a prediction."""
    tata = wide_assistant.ask("What does a TATA box do?")
    assert tata.intent.op == "general" and not tata.predictions
    eff = wide_assistant.effects.effect("TATA", "leaf_withENH_dark")
    assert f"{eff.mean:+.2f} log2 in tobacco leaves" in tata.text
    two = wide_assistant.ask("what is the difference between the initiator and the y-patch?").text
    assert "Inr (initiator)" in two and "Y patch" in two and two.index("Inr") < two.index("Y patch")
    assert wide_assistant.ask("What is a promoter?").text.startswith("I predict how strongly")
