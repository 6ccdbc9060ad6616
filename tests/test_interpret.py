"""Attributions, regions and motif matches (agrochat.chat.interpret): known answers on toy modules whose
behaviour is known exactly, and the shipped model's one-hot view against its fast path."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from agrochat.bridge.onehot import bases_of, one_hot_sequences
from agrochat.chat import interpret as I
from agrochat.chat.explanation import explain_text
from agrochat.domain.effects import load_effects
from agrochat.domain.motifs import promoter_rel

TATA = "TATAAATA"


def background(n: int = 170, seed: int = 0) -> str:
    """GC-rich random bases (no AT-rich stretch that a TATA profile could match)."""
    rng = np.random.default_rng(seed)
    return "".join(rng.choice(list("ACGT"), p=[0.15, 0.35, 0.35, 0.15], size=n))


class MotifCounter(nn.Module):
    """Output = 3 x (best match score of TATAAATA anywhere, 0..8): a model whose important bases are known."""

    def __init__(self) -> None:
        super().__init__()
        w = one_hot_sequences([TATA])  # (1, 4, 8)
        self.conv = nn.Conv1d(4, 1, 8, bias=False)
        self.conv.weight.data = w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (B, 4, L)
        return 3.0 * self.conv(x).amax(-1)  # (B, 1)


class Linear(nn.Module):
    """A linear model on one-hot bases: every attribution method has one exact answer."""

    def __init__(self, length: int, seed: int = 0) -> None:
        super().__init__()
        w = np.random.default_rng(seed).normal(size=(4, length))
        self.w = nn.Parameter(torch.tensor(w, dtype=torch.float32))  # (4, L)
        self.differentiable = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.w).sum((1, 2))[:, None]  # (B, 1)

    def require_gradients(self, method: str) -> None:
        pass


def test_one_hot_round_trip():
    seq = "ACGTNACGT"
    assert bases_of(one_hot_sequences([seq])) == [seq]
    assert one_hot_sequences([seq])[0, :, 4].tolist() == [0.25] * 4


def test_ism_is_every_substitution_of_the_model():
    seq = background(40)
    model = Linear(40)
    eff = I.ism(model, seq)  # (L, 4)
    w = model.w.detach().numpy()  # (4, L)
    ref = np.array(["ACGT".index(c) for c in seq])
    expected = w.T - w[ref, np.arange(40)][:, None]  # changing base ref -> b adds w[b] - w[ref]
    assert np.allclose(eff, expected, atol=1e-5)
    attr = I.ism_attribution(eff)
    assert np.allclose(attr, -expected.sum(1) / 4, atol=1e-6)


def test_ism_of_a_sequence_with_an_n_scores_every_base_there():
    seq = background(30, seed=3)
    seq = seq[:10] + "N" + seq[11:]
    model = Linear(30)
    eff = I.ism(model, seq)
    with torch.no_grad():
        y0 = float(model(one_hot_sequences([seq]))[0, 0])
        for b in range(4):  # at the N, each base is a substitution of the 0.25 column
            y = float(model(one_hot_sequences([seq[:10] + "ACGT"[b] + seq[11:]]))[0, 0])
            assert eff[10, b] == pytest.approx(y - y0, abs=1e-5)
    i = 20
    assert eff[i, "ACGT".index(seq[i])] == 0.0


def test_deeplift_shap_on_a_linear_model_agrees_with_ism():
    """For a linear model DeepLIFT/SHAP gives, at the observed base, its weight minus the shuffled references'
    mean weight at that position, and ISM its weight minus the mean over the four bases: on a sequence of even
    composition nearly the same; weights that do not depend on the base give no attribution at all."""
    seq = "".join(np.random.default_rng(1).choice(list("ACGT"), size=60))
    model = Linear(60, seed=1)
    attr = I.deeplift_shap(model, seq, n_shuffles=20, seed=0)
    ism_attr = I.ism_attribution(I.ism(model, seq))
    assert attr.shape == (60,) and np.corrcoef(attr, ism_attr)[0, 1] > 0.9
    flat = Linear(60)
    flat.w.data = flat.w.data[:1].expand(4, -1).clone()  # the same weight for every base at a position
    assert np.allclose(I.deeplift_shap(flat, seq), 0.0, atol=1e-5)


def test_a_planted_tata_box_is_one_region_named_by_its_profile():
    seq = background(170, seed=2)
    seq = seq[:100] + TATA + seq[108:]
    model = MotifCounter().eval()
    attr = I.ism_attribution(I.ism(model, seq))
    matches = I.motif_matches(seq)
    assert any(m.element == "TATA" and m.start <= 100 and m.end >= 108 for m in matches)
    regions = I.regions(model, seq, attr, "promoter", matches, shuffles=10)
    assert len(regions) >= 1
    r = regions[0]
    assert r.start <= 101 and r.end >= 107 and r.effect > 0  # shuffling the TATA box lowers the output
    assert r.rel_start == promoter_rel(r.start, 170) and r.sequence == seq[r.start : r.end]
    assert r.matches and r.matches[0].name == "TATA box"  # the Jores element first
    assert len({m.name for m in r.matches}) == len(r.matches)  # each profile once under its region
    d = r.to_dict()
    assert seq[d["start"] - 1 : d["end"]] == d["sequence"]
    text = explain_text(
        "2.00 ± 0.50",
        "promoter strength in tobacco leaves",
        regions,
        attr,
        load_effects(),
        "promoter_strength/leaf",
    )
    assert text.count("TATA box") == 2  # once under the region, once in the library averages
    assert "one region" in text and "shuffling them lowers the prediction" in text


def test_matches_lie_at_least_half_inside_their_region():
    m = [
        I.MotifMatch("A", "s", 10, 20, "+", 1e-5),
        I.MotifMatch("B", "s", 18, 30, "+", 1e-5),  # 2 of 12 bases inside [10, 20)
        I.MotifMatch("A", "s", 12, 19, "-", 1e-6),  # the same name again
    ]
    assert [x.name for x in I.overlapping(m, 10, 20)] == ["A"]


def test_no_region_is_said_plainly():
    attr = np.zeros(50)
    attr[7] = 0.3
    text = explain_text(
        "1.00 ± 0.20",
        "promoter strength in tobacco leaves",
        [],
        attr,
        load_effects(),
        "promoter_strength/leaf",
    )
    assert "no region that stands out" in text and "base 8" in text


def test_unknown_attribution_is_a_one_line_error():
    from agrochat.errors import AgrochatError

    with pytest.raises(AgrochatError, match="unknown attribution"):
        I.attribution(Linear(10), "ACGTACGTAC", "saliency")
