"""Out-of-distribution flags: the reference, its checks, the widened interval, and where the flag shows up."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch

from agrochat.bridge import NumericHeadConfig, build_model
from agrochat.bridge.generate import generate, generate_batch
from agrochat.bridge.model import OOD_WIDEN, DnaLanguageModel
from agrochat.bridge.ood import OodReference, family_of, fit_reference
from conftest import LEAF, cnn_config, read_promoters, tiny_config

TERM = "terminator_strength/leaf"


def _random(n: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice("ACGT") for _ in range(n))


@pytest.fixture(scope="module")
def model_with_reference(text_tokenizer):
    torch.manual_seed(0)
    head = NumericHeadConfig(
        keys=[LEAF, TERM], norm={LEAF: [0.9, 1.6], TERM: [-3.0, 1.0]}, hidden=16, readout="dna"
    )
    model = build_model(tiny_config(encoder=cnn_config(), numeric_head=head), tokenizer=text_tokenizer).eval()
    seqs = [r["sequence"] for r in read_promoters()]
    model.ood = fit_reference([(s, LEAF) for s in seqs], lambda b: model.dna_features(b).numpy())
    return model, seqs


def test_family_of_keys():
    assert family_of(LEAF) == "promoter" and family_of("tissue_expression/maize:primary root") == "promoter"
    assert family_of(TERM) == "terminator"


def test_length_rule_flags_a_short_repeat_and_a_long_stretch(model_with_reference):
    model, seqs = model_with_reference
    ref = model.ood
    assert ref.families["promoter"].min_length == ref.families["promoter"].max_length == 170
    for seq, words in (("ACGT" * 9, "length (36 bp)"), (_random(6000), "length (6000 bp)")):
        check = ref.check(seq, LEAF, None)
        assert check.ood and words in check.reason
    assert "length" not in ref.check(seqs[0][3:], LEAF, None).reason  # a 3-bp shorter promoter is fine


def test_thresholds_flag_few_training_sequences(model_with_reference):
    model, seqs = model_with_reference
    feats = model.dna_features(seqs).numpy()
    flagged = [model.ood.check(s, LEAF, f).ood for s, f in zip(seqs, feats, strict=True)]
    assert sum(flagged) <= 3  # quantile thresholds: a handful of the 64 training sequences at most


def test_encoder_distance_flags_far_states(model_with_reference):
    model, seqs = model_with_reference
    fam = model.ood.families["promoter"]
    far = np.asarray(fam.embed_mean) + 100.0
    check = model.ood.check(seqs[0], LEAF, far)
    assert check.ood and "encoder places it far" in check.reason


def test_no_reference_for_a_family_means_no_flag(model_with_reference):
    model, _ = model_with_reference
    assert not model.ood.check("ACGT" * 9, TERM, None).ood  # no terminator rows were fitted


def test_flag_widens_the_interval_in_every_path(model_with_reference):
    model, seqs = model_with_reference
    msgs = [{"role": "user", "content": "How strong is this promoter? <dna>"}]
    short = "ACGT" * 9
    vals = model.score([(msgs, [seqs[0]], "About <num>"), (msgs, [short], "About <num>")], [LEAF, LEAF])
    ref_model = DnaLanguageModel(
        model.encoder,
        model.projector,
        model.decoder,
        model.numeric_head,
        model.config,
        model.tokenizer,
        model.dna_tokenizer,
    )  # same weights, no reference
    plain = ref_model.score([(msgs, [short], "About <num>")], [LEAF])[0]
    assert not vals[0].ood and vals[1].ood and "length (36 bp)" in vals[1].ood_reason
    assert vals[1].value == pytest.approx(plain.value) and vals[1].std == pytest.approx(plain.std * OOD_WIDEN)
    gen = generate(model, msgs, [short], num_keys=[LEAF], max_new_tokens=1, answer_prefix="About <num>")
    assert gen.values[0].ood and gen.values[0].std == pytest.approx(vals[1].std)
    batch = generate_batch(model, [(msgs, [short])], [[LEAF]], max_new_tokens=2)
    assert all(v.ood for v in batch[0].values)


def test_reference_round_trips_in_the_checkpoint(model_with_reference, tmp_path):
    model, seqs = model_with_reference
    model.save_pretrained(tmp_path / "m")
    data = json.loads((tmp_path / "m" / "ood.json").read_text())
    assert set(data["families"]) == {"promoter"}
    loaded = DnaLanguageModel.from_pretrained(tmp_path / "m")
    assert isinstance(loaded.ood, OodReference)
    msgs = [{"role": "user", "content": "<dna>"}]
    a = model.score([(msgs, ["ACGT" * 9], "x <num>")], [LEAF])[0]
    b = loaded.score([(msgs, ["ACGT" * 9], "x <num>")], [LEAF])[0]
    assert (a.ood, a.ood_reason, a.std) == (b.ood, b.ood_reason, pytest.approx(b.std))


def test_prediction_and_json_carry_the_flag(model_with_reference, tmp_path):
    from agrochat.chat import Assistant
    from agrochat.domain.registry import load_registry

    model, seqs = model_with_reference
    a = Assistant(model, load_registry())
    p, q = a.predict([seqs[0], "ACGT" * 9], explanations=False)
    assert not p.ood and p.ood_reason == ""
    assert q.ood and "36 bp" in q.ood_reason and "caution" in q.text
    assert q.to_dict()["ood"] is True and "ood_reason" in q.to_dict()
