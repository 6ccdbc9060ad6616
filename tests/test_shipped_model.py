"""The shipped model (chat/default_model): its encoder type, its specialist members, its size and its
out-of-distribution flags on real cases."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from agrochat.chat import Assistant
from conftest import read_promoters

DEMO = "".join(
    (Path(__file__).parent / "fixtures" / "demo_promoter.fa").read_text().split("\n", 1)[1].split()
)


@pytest.fixture(scope="module")
def shipped():
    return Assistant.from_pretrained()


def _random(n: int, rng: random.Random) -> str:
    return "".join(rng.choice("ACGT") for _ in range(n))


def test_shipped_model_uses_the_cnn_encoder_and_has_an_ood_reference(shipped):
    assert shipped.model.config.encoder.type == "cnn"
    assert shipped.model.ood is not None and set(shipped.model.ood.families) == {"promoter", "terminator"}


def test_shipped_model_has_specialists_for_promoters_and_terminators_and_fits_50_mb(shipped):
    from agrochat.chat import DEFAULT_MODEL_DIR

    cfg = shipped.model.config
    families = [sorted({k.split("/")[0] for k in h.keys}) for h in cfg.member_heads]
    assert cfg.ensemble == len(shipped.model.members) + 1 == 6
    assert families.count(["terminator_strength"]) == 3 and cfg.specialists_replace
    assert families.count(["natural_promoter", "promoter_strength", "synthetic_promoter"]) == 2
    assert sum(f.stat().st_size for f in Path(DEFAULT_MODEL_DIR).rglob("*") if f.is_file()) <= 50e6


def test_shipped_tissue_keys_have_floor_intervals_and_benchmark_keys_gaussian_ones(shipped):
    cfg = shipped.model.config
    tissue = [k for k in cfg.numeric_head.keys if k.startswith("tissue_expression/")]
    assert len(tissue) == 34 and sorted(cfg.floor_intervals) == sorted(tissue)
    seq = read_promoters(1)[0]["sequence"]
    pollen = shipped.predict(seq, "tissue_expression", "maize:mature pollen", explanations=False)[0]
    assert pollen.interval68[0] == 0.0 and 0 < pollen.p_floor < 1 and "chance of exactly 0" in pollen.text
    assert "median" in pollen.text  # the point mass pulls the median below the mean: both are said
    leaf = shipped.predict(seq, task="promoter_strength", tissue="leaf", explanations=False)[0]
    assert leaf.p_floor is None and leaf.interval95 == pytest.approx(
        (leaf.value - 1.96 * leaf.uncertainty, leaf.value + 1.96 * leaf.uncertainty)
    )


def test_repeat_and_long_stretch_are_flagged(shipped):
    rng = random.Random(0)
    short, long_ = shipped.predict(["ACGT" * 9, _random(6000, rng)], explanations=False)
    assert short.ood and "length (36 bp)" in short.ood_reason
    assert long_.ood and "length (6000 bp)" in long_.ood_reason
    assert "caution" in short.text


def test_real_promoters_are_rarely_flagged_and_random_dna_often(shipped):
    promoters = [r["sequence"] for r in read_promoters()]
    natural = sum(p.ood for p in shipped.predict(promoters, explanations=False))
    rng = random.Random(1)
    randoms = sum(p.ood for p in shipped.predict([_random(170, rng) for _ in range(200)], explanations=False))
    assert natural <= 2  # of 64 measured promoters
    assert (
        randoms / 200 >= 10 * max(natural, 1) / 64
    )  # random DNA is flagged far more often than real promoters


def test_a_long_paste_gets_one_sentence_per_number(shipped, monkeypatch):
    """A 1-kb promoter region scored whole: the decoder used to go on after the number ("Its upstream tail is
    2.45 ..."). (Chat now cuts such a region to its core window or asks; scored whole here to test the decoding.)"""
    import agrochat.chat.assistant as A

    monkeypatch.setattr(A, "fit_windows", lambda intent, messages: intent)
    demo = "".join((Path(__file__).parent / "fixtures" / "demo_promoter.fa").read_text().splitlines()[1:])
    seq = _random(830, random.Random(1)) + demo
    ans = shipped.chat(
        [
            {
                "role": "user",
                "content": f"How strong is this promoter in tobacco leaves? It is the 1 kb upstream of the TSS. {seq}",
            }
        ]
    )
    first = ans.text.splitlines()[0]
    assert first.startswith("Predicted strength in tobacco") and first.endswith(").")
    assert first.count("log2 units") == 1 and ans.text.count(f"{ans.predictions[0].value:.2f}") == 1
    assert "Caution" in ans.text  # its length is unlike the training promoters'


def test_one_hot_view_equals_the_fast_path_and_the_demo_answer_names_each_region_once(shipped):
    """The module attribution tools call gives predict()'s number on every kind of key; the demo promoter's
    explanation names each region once, its matches listed under it (never as separate contributions)."""
    from agrochat.bridge.onehot import one_hot_sequences
    from agrochat.chat.interpret import predictor

    seq = DEMO
    for task, tissue in (
        ("promoter_strength", "leaf"),
        ("terminator_strength", "protoplast"),
        ("tissue_expression", "maize:mature leaf 8"),
    ):
        key = shipped.resolve(task, tissue)
        with torch.no_grad():
            v = float(predictor(shipped.model, key)(one_hot_sequences([seq]))[0, 0])
        assert v == pytest.approx(shipped.predict(seq, task, tissue)[0].value, abs=1e-5)
    res = shipped.explain(seq, "promoter_strength", "leaf")
    assert res.regions and res.method == "ism"
    top = res.regions[0]
    assert top.effect > 0 and any(
        m.name == "TATA box" for m in top.matches
    )  # the region whose core is a TATA box
    for r in res.regions[:3]:
        for m in r.matches[:3]:
            assert res.text.count(m.name.split(" (")[0]) >= 1
    assert res.text.count("TATA box") <= 2  # under its region, and in the library averages
    assert "contributes" not in res.text  # no per-motif contributions of the same bases


def test_variant_effects_equal_tangermemes_substitution_effect(shipped):
    """The same job two ways: agrochat's variant (with its uncertainty and OOD flag) and tangermeme's
    substitution_effect on the model's one-hot view give the same change."""
    from tangermeme.variant_effect import substitution_effect

    from agrochat.bridge.onehot import one_hot_sequences
    from agrochat.chat.interpret import predictor

    seq = DEMO
    i = seq.index("TACAAAT") + 2  # inside the TATA-like core of the demo promoter
    alt = "G" if seq[i] != "G" else "C"
    ours = shipped.variant(seq, f"{seq[i]}{i + 1}{alt}", "promoter_strength", "leaf")
    subs = torch.tensor([[0, i, "ACGT".index(alt)]])
    with torch.no_grad():
        res = substitution_effect(
            predictor(shipped.model, "promoter_strength/leaf"), one_hot_sequences([seq]), subs
        )
    assert float(res.y_after[0, 0] - res.y_before[0, 0]) == pytest.approx(ours.delta, abs=1e-4)
