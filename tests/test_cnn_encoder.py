"""The convolutional DNA encoder: shapes, masks, any length, tokenizer, builder dispatch, save/load round trip."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from agrochat.bridge import ConfigError, EncoderConfig, NumericHeadConfig, build_model
from agrochat.bridge.config import CnnSettings, ModelConfig
from agrochat.bridge.encoder import ConvEncoder, build_dna_tokenizer, build_encoder
from agrochat.bridge.generate import generate
from agrochat.bridge.tokenizer import BaseTokenizer, DnaSequenceError
from conftest import LEAF, cnn_config, read_promoters, tiny_config

PROTO = "promoter_strength/protoplast"


def _ids(seqs: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    tok = BaseTokenizer()
    rows = [tok.sequence_ids(s) for s in seqs]
    T = max(len(r) for r in rows)
    ids = torch.zeros(len(rows), T, dtype=torch.long)
    mask = torch.zeros(len(rows), T, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)], mask[i, : len(r)] = torch.tensor(r), 1
    return ids, mask


def test_base_tokenizer_ids_and_normalisation():
    tok = BaseTokenizer()
    assert tok.sequence_ids("acgtn") == [1, 2, 3, 4, 5]
    assert tok.sequence_ids("ACGU R") == [1, 2, 3, 4, 5]  # RNA and IUPAC codes normalised, whitespace dropped
    assert tok.count("ACGTACG") == 7 and tok.pad_token_id == 0
    with pytest.raises(DnaSequenceError, match="position 3"):
        tok.sequence_ids("ACXG")


def test_builder_dispatches_on_type():
    assert isinstance(build_encoder(cnn_config()), ConvEncoder)
    assert isinstance(build_dna_tokenizer(cnn_config()), BaseTokenizer)
    with pytest.raises(ConfigError, match="encoder.type"):
        EncoderConfig(type="transformer")
    with pytest.raises(ConfigError, match="LoRA"):
        EncoderConfig(type="cnn", trainable="lora")
    with pytest.raises(ConfigError, match="odd"):
        CnnSettings(kernel=4)
    with pytest.raises(ConfigError, match="unknown field"):
        ModelConfig.from_dict({"encoder": {"type": "cnn", "cnn": {"width": 3}}})


@pytest.mark.parametrize("length", [1, 7, 170, 6000])
def test_shapes_and_output_length_any_length(length):
    torch.manual_seed(0)
    enc = build_encoder(cnn_config()).eval()
    ids, mask = _ids(["ACGT" * (length // 4) + "A" * (length % 4)])
    h, out_mask = enc(ids, mask)
    n = enc.output_length(length)
    assert n == -(-length // 8)
    assert h.shape == (1, n, 16) and out_mask.shape == (1, n) and bool(out_mask.all())
    assert torch.isfinite(h).all()


def test_padding_does_not_change_a_sequence_states():
    torch.manual_seed(0)
    enc = build_encoder(cnn_config()).eval()
    seqs = [r["sequence"] for r in read_promoters(3)]
    short = seqs[0][:93]
    alone, alone_mask = enc(*_ids([short]))
    batch, batch_mask = enc(*_ids([short, seqs[1], seqs[2]]))
    n = enc.output_length(93)
    assert int(batch_mask[0].sum()) == n and not bool(batch_mask[0, n:].any())
    assert torch.allclose(batch[0, :n], alone[0], atol=1e-5)
    assert torch.equal(batch[0, n:], torch.zeros_like(batch[0, n:]))  # padded positions are zero


def test_a_base_change_changes_the_states_nearby_only():
    torch.manual_seed(0)
    enc = build_encoder(cnn_config()).eval()
    seq = read_promoters(1)[0]["sequence"]
    mutant = seq[:10] + ("A" if seq[10] != "A" else "C") + seq[11:]
    a, _ = enc(*_ids([seq]))
    b, _ = enc(*_ids([mutant]))
    assert not torch.allclose(a[0, :4], b[0, :4])
    # the receptive field is finite: far positions may move only through squeeze-and-excitation's global gate
    assert (a[0, 15:] - b[0, 15:]).abs().max() < (a[0, :3] - b[0, :3]).abs().max()


def test_model_with_cnn_encoder_round_trips_and_scores(tmp_path, text_tokenizer):
    torch.manual_seed(0)
    head = NumericHeadConfig(keys=[LEAF], norm={LEAF: [0.9, 1.6]}, hidden=16, readout="dna")
    cfg = tiny_config(encoder=cnn_config(), numeric_head=head)
    model = build_model(cfg, tokenizer=text_tokenizer).eval()
    seqs = [r["sequence"] for r in read_promoters(4)] + ["ACGT" * 1500]  # a 6 kb sequence needs no window
    msgs = [{"role": "user", "content": "How strong is this promoter? <dna>"}]
    prompts = [(msgs, [s], "About <num>") for s in seqs]
    before = [v.value for v in model.score(prompts, [LEAF] * len(seqs))]
    ex = model.processor.encode(msgs, [seqs[0]])
    assert ex.input_ids.count(model.dna_token_id) == model.dna_positions(170) == 22
    model.save_pretrained(tmp_path / "m")
    assert not (tmp_path / "m" / "encoder" / "config.json").exists()
    from agrochat.bridge import DnaLanguageModel

    loaded = DnaLanguageModel.from_pretrained(tmp_path / "m")
    assert isinstance(loaded.dna_tokenizer, BaseTokenizer)
    after = [v.value for v in loaded.score(prompts, [LEAF] * len(seqs))]
    assert after == pytest.approx(before, abs=1e-6)
    gen = generate(loaded, msgs, [seqs[0]], num_keys=[LEAF], max_new_tokens=2, answer_prefix="About <num>")
    assert gen.values[0].value == pytest.approx(before[0], abs=1e-6)


def test_frozen_and_full_modes():
    enc = build_encoder(cnn_config())
    enc.set_trainable("frozen", EncoderConfig().lora)
    assert not any(p.requires_grad for p in enc.parameters())
    enc.set_trainable("full", EncoderConfig().lora)
    assert all(p.requires_grad for p in enc.parameters())


def test_ensemble_combines_members_and_round_trips(tmp_path, text_tokenizer):
    from agrochat.bridge import DnaLanguageModel
    from agrochat.bridge.build import add_ensemble_members

    head = NumericHeadConfig(keys=[LEAF], norm={LEAF: [0.9, 1.6]}, hidden=16, readout="dna")
    cfg = tiny_config(encoder=cnn_config(), numeric_head=head)
    models = []
    for seed in (0, 1, 2):
        torch.manual_seed(seed)
        models.append(build_model(cfg, tokenizer=text_tokenizer).eval())
    seqs = [r["sequence"] for r in read_promoters(3)]
    msgs = [{"role": "user", "content": "How strong? <dna>"}]
    prompts = [(msgs, [s], "About <num>") for s in seqs]
    singles = [[v for v in m.score(prompts, [LEAF] * 3)] for m in models]
    ens = add_ensemble_members(models[0], models[1:])
    assert ens.config.ensemble == 3
    combined = ens.score(prompts, [LEAF] * 3)
    for i, v in enumerate(combined):
        means = torch.tensor([s[i].value for s in singles])
        var = torch.tensor([s[i].std ** 2 for s in singles]).mean() + means.var(unbiased=False)
        assert v.value == pytest.approx(float(means.mean()), abs=1e-5)
        assert v.std == pytest.approx(float(var.sqrt()), rel=1e-4)  # the spread widens the interval
    gen = generate(ens, msgs, [seqs[0]], num_keys=[LEAF], max_new_tokens=1, answer_prefix="About <num>")
    assert gen.values[0].value == pytest.approx(combined[0].value, abs=1e-6)
    ens.save_pretrained(tmp_path / "ens")
    loaded = DnaLanguageModel.from_pretrained(tmp_path / "ens")
    assert len(loaded.members) == 2
    assert [v.value for v in loaded.score(prompts, [LEAF] * 3)] == pytest.approx([v.value for v in combined])
    other = build_model(
        tiny_config(
            encoder=cnn_config(),
            numeric_head=NumericHeadConfig(keys=[LEAF], norm={LEAF: [0.0, 1.0]}, hidden=16, readout="dna"),
        ),
        tokenizer=text_tokenizer,
    )
    with pytest.raises(ConfigError, match="normalises"):
        add_ensemble_members(loaded, [other])
    assert loaded.config.ensemble == 3 and len(loaded.members) == 2  # a refused member changes nothing


def test_specialist_member_answers_its_own_keys_only(tmp_path, text_tokenizer):
    from agrochat.bridge import DnaLanguageModel
    from agrochat.bridge.build import add_ensemble_members

    norm = {LEAF: [0.9, 1.6], PROTO: [0.2, 1.1]}
    both = NumericHeadConfig(keys=[LEAF, PROTO], norm=norm, hidden=16, readout="dna")
    only = NumericHeadConfig(keys=[PROTO], norm={PROTO: [0.2, 1.1]}, hidden=8, readout="dna", pool="mean_max")
    torch.manual_seed(0)
    frozen = dataclasses.replace(cnn_config(), trainable="frozen")  # as after the instruct stage
    model = build_model(tiny_config(encoder=frozen, numeric_head=both), tokenizer=text_tokenizer).eval()
    torch.manual_seed(1)  # a regress-stage model: its encoder config says trainable: full
    spec = build_model(tiny_config(encoder=cnn_config(), numeric_head=only), tokenizer=text_tokenizer).eval()
    seqs = [r["sequence"] for r in read_promoters(2)]
    prompts = [([{"role": "user", "content": "How strong? <dna>"}], [s], "About <num>") for s in seqs]
    keys = [LEAF, PROTO]
    alone, other = model.score(prompts, keys), spec.score(prompts[1:], [PROTO])
    ens = add_ensemble_members(model, [spec])
    assert ens.config.member_heads == [only]
    replaced = ens.score(prompts, keys)  # specialists_replace (default): protoplast is the specialist's alone
    assert replaced[0].value == pytest.approx(alone[0].value, abs=1e-6)  # leaf: the model's own number
    assert replaced[0].std == pytest.approx(alone[0].std, rel=1e-5)
    assert replaced[1].value == pytest.approx(other[0].value, abs=1e-6)
    assert replaced[1].std == pytest.approx(other[0].std, rel=1e-5)
    # a sequence asked for several keys is read once: the same numbers as asked one at a time
    asked = [(prompts[0], LEAF), (prompts[1], PROTO), (prompts[0], PROTO)]
    repeated = ens.score([p for p, _ in asked], [k for _, k in asked])
    single = [ens.score([p], [k])[0] for p, k in asked]
    assert [r.value for r in repeated] == pytest.approx([x.value for x in single], abs=1e-6)
    assert [r.std for r in repeated] == pytest.approx([x.std for x in single], rel=1e-5)
    only_proto = ens.score(prompts[1:], [PROTO])[0]  # no prompt the own head answers: it is not run
    assert only_proto.value == pytest.approx(other[0].value, abs=1e-6)
    assert only_proto.std == pytest.approx(other[0].std, rel=1e-5)
    ens.config.specialists_replace = False  # the specialist joins the model's own path
    combined = ens.score(prompts, keys)
    assert combined[0].value == pytest.approx(alone[0].value, abs=1e-6)
    means = torch.tensor([alone[1].value, other[0].value])
    var = torch.tensor([alone[1].std ** 2, other[0].std ** 2]).mean() + means.var(unbiased=False)
    assert combined[1].value == pytest.approx(float(means.mean()), abs=1e-5)
    assert combined[1].std == pytest.approx(float(var.sqrt()), rel=1e-4)
    ens.config.ensemble_variance = "ambiguity"  # mean variance - spread, at least mean variance / members
    narrower = ens.score(prompts, keys)[1]
    mean_var = torch.tensor([alone[1].std ** 2, other[0].std ** 2]).mean()
    expected = max(float(mean_var - means.var(unbiased=False)), float(mean_var) / 2)
    assert narrower.std == pytest.approx(expected**0.5, rel=1e-4) and narrower.value == combined[1].value
    ens.config.ensemble_variance = "mixture"
    ens.save_pretrained(tmp_path / "ens")  # saved with specialists_replace: false
    loaded = DnaLanguageModel.from_pretrained(tmp_path / "ens")
    assert loaded.members[0].numeric_head.cfg == only
    assert [v.value for v in loaded.score(prompts, keys)] == pytest.approx([v.value for v in combined])
    spec.save_pretrained(tmp_path / "spec")
    from typer.testing import CliRunner

    from agrochat.cli import app

    run = CliRunner().invoke(
        app,
        [
            "ensemble",
            str(tmp_path / "ens"),
            str(tmp_path / "spec"),
            "-o",
            str(tmp_path / "e3"),
            "--variance",
            "ambiguity",
        ],
    )
    assert run.exit_code == 0, run.output
    three = DnaLanguageModel.from_pretrained(tmp_path / "e3")
    assert three.config.ensemble == 3 and three.config.ensemble_variance == "ambiguity"
    assert three.config.member_heads == [only, only]
    bad = CliRunner().invoke(
        app,
        [
            "ensemble",
            str(tmp_path / "ens"),
            str(tmp_path / "spec"),
            "-o",
            str(tmp_path / "e4"),
            "--variance",
            "wide",
        ],
    )
    assert bad.exit_code != 0 and "ensemble_variance" in bad.output and not (tmp_path / "e4").exists()
    stranger = NumericHeadConfig(keys=["terminator_strength/leaf"], hidden=8, readout="dna")
    with pytest.raises(ConfigError, match="does not know"):
        ModelConfig(numeric_head=both, ensemble=2, member_heads=[stranger])
    with pytest.raises(ConfigError, match="1 member"):
        ModelConfig(numeric_head=both, ensemble=2, member_heads=[only, only])
