"""The decoder's writer: training on cached lower layers, saving, writing, and the checked fallback in chat."""

from __future__ import annotations

import torch

from agrochat.bridge.writer import Writer, WriterConfig
from agrochat.data_gen.writing import generate_writing
from agrochat.domain.evidence import Evidence, Note, Value, check, decoder_share
from conftest import CHAT_KEYS, read_promoters


def _assistant(model_dir):
    from agrochat.chat import Assistant

    a = Assistant.from_pretrained(model_dir)
    for p in a.model.parameters():
        p.requires_grad_(False)
    return a


def test_writer_learns_saves_loads_and_writes(model_dir, tmp_path):
    from agrochat.train.plan import PlanTrainConfig
    from agrochat.train.write import train_writer

    a = _assistant(model_dir)
    torch.manual_seed(0)
    writer = Writer.build(a.model, WriterConfig(layers=1, max_new_tokens=12))
    data = generate_writing(CHAT_KEYS, a.registry, 48, seed=0)
    out = train_writer(
        writer, data, data[:16], tmp_path / "w", PlanTrainConfig(epochs=2, batch_size=16, lr=3e-3)
    )
    assert out["log"][-1]["loss"] < out["log"][0]["loss"]
    ex = data[0]
    text = writer.compiled().write(
        ex.question, ex.evidence.text()
    )  # bfloat16: what a loaded writer writes with
    loaded = Writer.from_pretrained(tmp_path / "w" / "epoch-2", _assistant(model_dir).model)
    assert loaded.lm is not None and loaded.write(ex.question, ex.evidence.text()) == text
    assert loaded.vocabulary is None  # trained without one: the checker's vocabulary test is off
    assert a.model.decoder.active_adapter == "default"  # the write adapter is active only while writing
    # to train further (--init): the same adapter on the decoder, no merged copy
    again = Writer.from_pretrained(tmp_path / "w" / "epoch-2", _assistant(model_dir).model, compiled=False)
    assert again.lm is None and again.compiled().write(ex.question, ex.evidence.text()) == text


def test_the_compiled_writer_is_the_adapted_decoder_with_its_adapter_merged(model_dir):
    from agrochat.bridge import top_adapter as top
    from agrochat.bridge.writer import ADAPTER

    a = _assistant(model_dir)
    torch.manual_seed(0)
    writer = Writer.build(a.model, WriterConfig(layers=1, dtype="float32"))
    for name, p in top.params(a.model, ADAPTER).items():
        if "lora_B" in name:  # B starts at zero: give the adapter an effect
            p.data.normal_(0, 0.05)
    ids = torch.tensor([writer.prompt_ids("How strong is it?", "- sequence 1: 0.50")])  # (1, T)
    with torch.no_grad(), top.active(a.model, ADAPTER) as dec:
        adapted = dec.get_base_model()(input_ids=ids).logits
    with torch.no_grad(), top.active(a.model, None) as dec:
        base = dec.get_base_model()(input_ids=ids).logits
        merged = writer.compiled().lm(input_ids=ids).logits
    assert (adapted - base).abs().max() > 1e-2  # the adapter matters ...
    assert torch.allclose(merged, adapted, atol=1e-4)  # ... and the plain copy carries it exactly


def test_chat_answers_fall_back_to_the_plain_rendering_when_the_writer_fails_the_check(model_dir):
    a = _assistant(model_dir)
    torch.manual_seed(0)
    a.writer = Writer.build(a.model, WriterConfig(layers=1, max_new_tokens=8))  # untrained: fails the check
    seq = read_promoters(1)[0]["sequence"]
    ans = a.chat([{"role": "user", "content": f"How strong is this promoter in tobacco leaves? {seq}"}])
    assert ans.written_by == "template" and ans.problems
    want = a.predict(seq, "promoter_strength", "leaf")[0]
    assert f"{want.value:.2f}" in ans.text  # the plain rendering carries the head's number
    assert ans.evidence.op == "predict" and ans.evidence.items[0].value == want.value


def test_checker_catches_what_is_not_in_the_evidence():
    v = Value(
        "sequence 1", CHAT_KEYS[0], "promoter strength in tobacco leaves", 1.23, 0.4, "log2", 71.0, "strong"
    )
    ev = Evidence("predict", [v])
    good = "In tobacco leaves this promoter should reach 1.23 ± 0.40 log2, a strong one (71st percentile)."
    assert check(good, ev) == []
    assert 0.3 < decoder_share(good, ev) < 0.9  # "n tobacco leaves " and the numbers are copies
    assert decoder_share(ev.text(), ev) < 0.05  # the evidence itself is all copy
    assert any("2.50" in p for p in check(good.replace("1.23", "2.50"), ev))  # a number it made up
    assert any(
        "maize" in p for p in check(good + " Also in maize protoplasts.", ev)
    )  # a system it was not asked
    assert any("TATA" in p for p in check(good + " The TATA box drives it.", ev))  # a motif not computed
    assert any(
        "root" in p for p in check(good + " Roots should show it too.", ev)
    )  # a plant part not measured
    tissue = Value(
        "sequence 1", "k", "expression in maize vegetative meristem", 3.2, 0.5, "log2(FPKM+1)", 60, ""
    )
    atlas = Evidence("predict", [tissue])
    assert check("In the shoot apical meristem: 3.20 ± 0.50.", atlas) == []  # a synonym of the tissue
    assert any("leaf" in p for p in check("In maize leaves: 3.20 ± 0.50.", atlas))
    # a value said of the other system than its own evidence line's
    proto = Value(
        "sequence 1", CHAT_KEYS[1], "promoter strength in maize leaf protoplasts", 0.5, 0.3, "log2", 40, ""
    )
    both = Evidence("predict", [v, proto])
    right = "In tobacco leaves 1.23 ± 0.40; in maize protoplasts 0.50 ± 0.30."
    assert check(right, both) == []
    swapped = "In maize protoplasts it reaches 1.23 ± 0.40. In tobacco leaves 0.50 ± 0.30."
    assert any("said of" in p for p in check(swapped, both))
    assert check("I have no measurement for rice.", Evidence("refuse", [Note("refuse", "rice")])) == []


def test_checker_catches_answers_that_misread_the_evidence():
    from agrochat.domain.evidence import Difference, guard

    key = CHAT_KEYS[0]
    one = Value("sequence 1", key, "promoter strength in tobacco leaves", -0.18, 0.75, "log2", 27.0, "weak")
    two = Value(
        "sequence 2", key, "promoter strength in tobacco leaves", 1.53, 0.26, "log2", 62.0, "moderate"
    )
    diff = Difference("sequence 2", "sequence 1", "promoter strength in tobacco leaves", 1.71, 0.79, "log2")
    ev = Evidence("compare", [one, two, diff])
    good = (
        "Sequence 1 scores -0.18 ± 0.75 (27th percentile, weak) and sequence 2 1.53 ± 0.26. Sequence 2 is "
        "stronger than sequence 1 by 1.71, beyond the joint ±0.79, in favour of the second one."
    )
    assert check(good, ev) == []
    assert check(good + " Sequence 2 is predicted higher, so go with sequence 2.", ev) == []
    for bad, why in (
        (good.replace("Sequence 2 is stronger than", "Sequence 2 is weaker than"), "opposite"),
        (good.replace("the second one", "the first one"), "opposite"),
        (good + " The first one is the stronger.", "opposite"),
        (good + " The third one is weak.", "sequence 3"),
        (good.replace("27th", "22nd"), "22nd"),
        (good + " It is an 85S promoter.", "85s"),
        ("Sequence 1 scores -0.18 ± 0.75, a strong promoter.", "weak, not strong"),
        ("Sequence 1 is predicted higher: -0.18 ± 0.75 against 1.53 ± 0.26 for sequence 2.", "opposite"),
        (good + " If you need the stronger promoter, go with sequence 1.", "opposite"),
        (good + " I would pick the first one.", "opposite"),
    ):
        assert any(why in p for p in check(bad, ev)), (bad, check(bad, ev))
    ok = guard(ev)
    assert ok("The second one is") and not ok("The third one is") and not ok("the 22nd percentile")
    assert ok("the 27th") and not ok("the 27thpercentile") and not ok("the 2nd")


def test_checker_holds_answers_to_the_writers_vocabulary_and_catches_loops():
    from agrochat.domain.evidence import vocabulary_of

    ev = Evidence("refuse", [Note("refuse", "rice")])
    vocab = vocabulary_of(["I have no measurement for that, so I will not give a number."])
    assert check("I have no measurement for rice.", ev, vocab, "how strong in rice?") == []
    bad = check("I have no measurement for the plantito sorgrain.", ev, vocab)
    assert any("plantito" in p and "sorgrain" in p for p in bad)  # words it invented
    loop = "I have no measurement. I have no measurement. I have no measurement."
    assert any("said three times" in p for p in check(loop, ev, vocab))
    assert check(loop, ev) == []  # without a vocabulary: the numbers-and-names check only
    from agrochat.domain.evidence import guard

    ok = guard(ev, vocab, "how strong in rice?")
    assert ok("I have no measurement for rice. I have no") and ok("I have no measur")  # a word being written
    assert not ok("I have no plantito ")  # a finished word it was never taught
    assert not ok("I have no measurementsinellows")  # nor a word that could only grow into one
    assert not ok("I have no measurement. I have no measurement. I have no measurement ")


def _leaf_value(label: str, value: float, std: float, percentile: float) -> Value:
    return Value(
        label, CHAT_KEYS[0], "promoter strength in tobacco leaves", value, std, "log2", percentile, "moderate"
    )


def test_guard_admits_only_what_the_evidence_holds():
    from agrochat.domain.evidence import guard

    v = _leaf_value("sequence 1", -1.30, 0.74, 41.0)
    ok = guard(Evidence("predict", [v]))
    for text in (
        "It scores -1.3",
        "It scores -1.30 (",
        "within 0.74 of",
        "the 41st percentile",
        "scores 1.30.",
        "against the minimal 35",  # the start of "35S"
    ):
        assert ok(text), text  # evidence numbers, their prefixes, an unsigned copy, a full stop after one
    for text in (
        "It scores 74",
        "It scores -1.31",
        "in maize ",
        "the TATA box is",
        "an A121G change",
        "in roots ",
    ):
        assert not ok(text), text  # a made-up number, a system, a motif, a substitution it was not given


def test_writer_keeps_to_its_allowed_test_and_never_loops(model_dir):
    a = _assistant(model_dir)
    torch.manual_seed(0)
    writer = Writer.build(a.model, WriterConfig(layers=1, max_new_tokens=40, no_repeat_ngram=3))
    ex = generate_writing(CHAT_KEYS, a.registry, 1, seed=0)[0]
    free = writer.write(ex.question, ex.evidence.text())
    assert "e" in free.lower()  # the untrained decoder writes letters at random ...
    kept = writer.write(ex.question, ex.evidence.text(), allowed=lambda text: "e" not in text.lower())
    assert "e" not in kept.lower()  # ... and never one its test refuses
    ids = writer.tokenizer(kept, add_special_tokens=False)["input_ids"]
    runs = [tuple(ids[i : i + 3]) for i in range(len(ids) - 2)]
    assert len(runs) == len(set(runs))  # no 3-token run twice


def test_complete_holds_the_end_until_every_value_is_said_and_a_sentence_ends():
    from agrochat.domain.evidence import complete

    v = _leaf_value("sequence 1", -1.30, 0.74, 41.0)
    w = _leaf_value("sequence 2", 0.52, 0.30, 60.0)
    done = complete(Evidence("compare", [v, w]))
    assert not done("Sequence 1 scores -1.30.")  # sequence 2's value is not said yet
    assert not done("Sequence 1 scores -1.30 and sequence 2 scores 0.52")  # no sentence end
    assert done("Sequence 1 scores -1.30 and sequence 2 scores 0.52.")
    assert complete(Evidence("refuse", [Note("refuse", "no data")]))("I cannot answer that.")


def test_writer_passes_over_the_end_of_turn_while_the_answer_is_not_complete(model_dir):
    a = _assistant(model_dir)
    torch.manual_seed(0)
    writer = Writer.build(a.model, WriterConfig(layers=1, max_new_tokens=6))
    eos = writer.tokenizer.convert_tokens_to_ids("<|im_end|>")
    logits = torch.zeros(writer.tokenizer.vocab_size + 64)
    logits[eos], logits[42] = 10.0, 5.0  # the end of turn is the likeliest token
    assert writer._choose(logits, [], {eos}, None) == eos
    assert writer._choose(logits, [], set(), None, held={eos}) == 42  # held: the next likeliest
    assert writer._choose(logits, [], set(), lambda t: True, held={eos}) == 42


def test_a_sentence_that_fails_its_test_is_written_again_from_its_start(model_dir):
    a = _assistant(model_dir)
    torch.manual_seed(0)
    writer = Writer.build(a.model, WriterConfig(layers=1, max_new_tokens=30, rewrites=2))
    ex = generate_writing(CHAT_KEYS, a.registry, 1, seed=0)[0]
    letters = lambda t: all(c.isalpha() or c in " .!?" for c in t)  # noqa: E731
    free = writer.write(ex.question, ex.evidence.text(), allowed=letters)
    calls = []

    def never(text: str) -> bool:
        calls.append(text)
        return False

    again = writer.write(ex.question, ex.evidence.text(), allowed=letters, sound=never)
    assert again.startswith(free[:0])  # it still writes an answer
    if any(c in ".!?" for c in free[:-1]):  # a sentence ended: it was tested, rewritten, then kept
        assert len(calls) >= 3
    always = writer.write(ex.question, ex.evidence.text(), allowed=letters, sound=lambda t: True)
    assert always == free  # a test that passes changes nothing


def test_guessed_tokens_save_passes_and_change_nothing(model_dir):
    from agrochat.bridge.writer import _guess

    assert _guess([5, 6, 7, 9, 5, 6, 7], 3, 2) == [9, 5]  # what followed the last "5 6 7"
    assert _guess([5, 6, 7, 9, 8, 6, 7], 3, 4) == [9, 8, 6, 7]  # fewer tokens matched: "6 7"
    assert _guess([1, 2, 3], 3, 4) == [] and _guess([1, 2, 1], 3, 0) == []
    a = _assistant(model_dir)
    torch.manual_seed(0)
    cfg = dict(layers=1, max_new_tokens=40, no_repeat_ngram=0, dtype="float32")
    plain = Writer.build(a.model, WriterConfig(**cfg, draft=0))
    guessing = Writer(a.model, WriterConfig(**cfg, draft=6))
    passes = []
    hook = top_decoder(a.model).register_forward_hook(lambda *_: passes.append(1))
    try:
        for ex in generate_writing(CHAT_KEYS, a.registry, 3, seed=0):
            n = len(passes)
            want = plain.write(ex.question, ex.evidence.text())
            slow = len(passes) - n
            assert guessing.write(ex.question, ex.evidence.text()) == want
            fast = len(passes) - n - slow
            assert fast <= slow
    finally:
        hook.remove()
    assert fast < slow  # an untrained decoder repeats itself: its guesses come true


def top_decoder(model):
    from agrochat.bridge import top_adapter as top

    return top.peft_decoder(model).get_base_model()
