"""Writing data for the decoder: (question, evidence, answer) examples whose answers hold only what the evidence
holds, are mostly the decoder's own words, and vary."""

from __future__ import annotations

import json
import re
import time
from collections import defaultdict
from pathlib import Path

import pytest

import agrochat.chat
from agrochat.data_gen.writing import (
    OP_MIX,
    WriteExample,
    capability_text,
    element_fact,
    generate_writing,
    ranking_text,
)
from agrochat.domain.evidence import Design, Evidence, Note, Value, check, decoder_share
from agrochat.domain.operations import OPS
from agrochat.domain.registry import load_registry

BENCH = [
    "promoter_strength/leaf",
    "promoter_strength/protoplast",
    "terminator_strength/leaf",
    "terminator_strength/protoplast",
]
NO_DIGITS = ("refuse", "clarify", "need_dna")
NEED_SEQUENCE = ("predict", "compare", "rank", "explain", "variant", "design")


def _model_keys() -> list[str]:
    path = Path(agrochat.chat.__file__).parent / "default_model" / "agrochat_config.json"
    return json.loads(path.read_text())["numeric_head"]["keys"]


@pytest.fixture(scope="module")
def registry():
    return load_registry()


@pytest.fixture(scope="module")
def full(registry) -> tuple[list[WriteExample], float]:
    t0 = time.perf_counter()
    examples = generate_writing(_model_keys(), registry, 2000, seed=0)
    return examples, time.perf_counter() - t0


@pytest.fixture(scope="module")
def bench(registry) -> list[WriteExample]:
    return generate_writing(BENCH, registry, 200, seed=0)


def _shares(examples: list[WriteExample]) -> dict[str, list[float]]:
    out = defaultdict(list)
    for ex in examples:
        out[ex.evidence.op].append(decoder_share(ex.answer, ex.evidence))
    return out


def test_mix_covers_the_planner_ops():
    assert {op for op, _ in OP_MIX} == set(OPS)
    assert sum(w for _, w in OP_MIX) == pytest.approx(1.0)


def test_fast_and_well_formed(full):
    examples, seconds = full
    assert seconds < 10, f"2,000 examples took {seconds:.1f} s"
    assert len(examples) == 2000
    for ex in examples:
        assert isinstance(ex.evidence, Evidence) and ex.evidence.items
        assert ex.question.strip() and ex.answer.strip()
        assert "<dna>" not in ex.question and "{" not in ex.question and "{" not in ex.answer
        if ex.evidence.op in NEED_SEQUENCE:
            assert "[sequence 1]" in ex.question.lower(), ex.question


@pytest.mark.parametrize("which", ["full", "bench"])
def test_answers_hold_only_evidence(which, full, bench):
    examples = full[0] if which == "full" else bench
    bad = [(ex.answer, ex.evidence.text(), check(ex.answer, ex.evidence)) for ex in examples]
    bad = [b for b in bad if b[2]]
    assert not bad, bad[:3]


@pytest.mark.parametrize("which", ["full", "bench"])
def test_answers_are_mostly_written_not_copied(which, full, bench):
    examples = full[0] if which == "full" else bench
    shares = _shares(examples)
    overall = sum(sum(v) for v in shares.values()) / len(examples)
    assert overall >= 0.8, overall
    low = {op: round(sum(v) / len(v), 3) for op, v in shares.items() if sum(v) / len(v) < 0.7}
    assert not low, low


def test_every_op_appears(full, bench):
    assert {ex.evidence.op for ex in full[0]} == set(OPS)
    ops = {ex.evidence.op for ex in bench}
    assert "rank" not in ops  # no tissue keys: nothing to rank
    assert ops == set(OPS) - {"rank"}


@pytest.mark.parametrize("which", ["full", "bench"])
def test_no_numbers_without_a_computation(which, full, bench):
    examples = full[0] if which == "full" else bench
    for ex in examples:
        if ex.evidence.op in NO_DIGITS:
            assert not re.search(r"\d", ex.answer), ex.answer


def test_answers_vary(full, bench):
    examples = full[0]
    assert len({ex.answer for ex in examples}) >= 0.8 * len(examples)
    assert len({ex.answer for ex in bench}) >= 0.8 * len(bench)
    # many sentence shapes per operation: the first four words of the answers differ widely
    starts = defaultdict(set)
    for ex in examples:
        starts[ex.evidence.op].add(" ".join(ex.answer.split()[:4]))
    for op in ("predict", "compare", "rank", "explain", "variant", "design"):
        assert len(starts[op]) >= 8, (op, len(starts[op]))
    for op in ("refuse", "clarify", "need_dna", "help", "greet", "general"):
        assert len(starts[op]) >= 4, (op, len(starts[op]))


def test_operations_draw_their_evidence(full):
    for ex in full[0]:
        items, op = ex.evidence.items, ex.evidence.op
        if op == "predict":
            assert all(isinstance(it, Value) for it in items)
        elif op == "design":
            (d,) = items
            assert isinstance(d, Design) and 1 <= len(d.steps) <= 5 and len(d.sequence) == 170
            assert set(d.sequence) <= set("ACGT") and d.sequence in ex.answer
        elif op not in ("compare", "explain", "variant"):
            assert all(
                isinstance(it, Note) and it.kind == ("ranking" if op == "rank" else op) for it in items
            )
        for it in items:
            if isinstance(it, Value) and it.key.startswith("tissue_expression/"):
                assert it.interval68 is not None and it.p_floor is not None
                assert it.interval68[0] == 0.0 or it.p_floor <= 0.16
            elif isinstance(it, Value):
                assert it.interval68 is None and 0.2 <= it.std <= 2.4


def test_bench_model_names_only_its_systems(bench):
    for ex in bench:
        if ex.evidence.op == "refuse":  # a refusal names what was asked for ("sorghum protoplasts")
            continue
        text = (ex.evidence.text() + " " + ex.answer).lower()
        assert "sorghum" not in text and "pollen" not in text, ex.answer


def test_deterministic(registry):
    a = generate_writing(BENCH, registry, 30, seed=7)
    b = generate_writing(BENCH, registry, 30, seed=7)
    c = generate_writing(BENCH, registry, 30, seed=8)
    assert [(x.question, x.evidence.text(), x.answer) for x in a] == [
        (x.question, x.evidence.text(), x.answer) for x in b
    ]
    assert [x.answer for x in a] != [x.answer for x in c]


def test_note_texts():
    text = ranking_text(
        "maize",
        23,
        "log2(FPKM+1)",
        [("mature pollen", 2.31), ("root cortex", 1.9)],
        ("endosperm crown", 0.02),
        small_spread=False,
    )
    assert text == (
        "maize, 23 tissues, log2(FPKM+1); highest first: mature pollen 2.31, root cortex 1.90; "
        "lowest: endosperm crown 0.02; spread larger than a typical uncertainty"
    )
    bench = capability_text(BENCH)
    assert "tobacco" in bench and "terminator" in bench and "sorghum" not in bench and "rank" not in bench
    full = capability_text(_model_keys())
    assert "sorghum" in full and "rank tissues" in full and "light or dark" in full
    fact = element_fact("TATA box", 1.95, 1.2)
    assert "+1.95 log2" in fact and "+1.20" in fact and "Jores et al. 2021" in fact


def test_needs_keys(registry):
    with pytest.raises(ValueError):
        generate_writing([], registry, 1)


def test_variety_narrows_the_wording_only(registry):
    keys = _model_keys()
    full = generate_writing(keys, registry, 400, seed=3)
    narrow = generate_writing(keys, registry, 400, seed=3, variety=1)
    # the same operations, and the first example's question and evidence: the answers' wording is drawn from
    # fewer options (the draws share one stream, so later examples differ)
    assert [x.evidence.op for x in narrow] == [x.evidence.op for x in full]
    assert (narrow[0].question, narrow[0].evidence.text()) == (full[0].question, full[0].evidence.text())
    assert [x.answer for x in narrow] != [x.answer for x in full]
    assert all(not check(x.answer, x.evidence) for x in narrow)
    # fewer wordings copy a little more (about 0.80 of the characters are written, against 0.82 with all)
    assert sum(decoder_share(x.answer, x.evidence) for x in narrow) / len(narrow) >= 0.75

    def starts(examples):
        return len({" ".join(x.answer.split()[:4]) for x in examples})

    assert starts(narrow) < 0.6 * starts(full), (starts(narrow), starts(full))
    with pytest.raises(ValueError):
        generate_writing(keys, registry, 1, variety=-1)
