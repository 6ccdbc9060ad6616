"""Fused number paths (small fast-path batches) give the numbers of the paths run one by one."""

from __future__ import annotations

import pytest
import torch

from agrochat.bridge.cnn import CnnEncoder
from agrochat.bridge.config import CnnSettings, NumericHeadConfig, ProjectorConfig
from agrochat.bridge.fused import FusedCnn, FusedReadout
from agrochat.bridge.head import NumericHead
from agrochat.bridge.model import NumberPath, _path_numbers
from agrochat.bridge.projector import build_projector
from agrochat.errors import ConfigError

CFG = CnnSettings(stem_channels=8, channels=[8, 16], hidden_size=12, position_embedding=6)
KEYS = ["terminator_strength/leaf", "terminator_strength/protoplast"]


def _encoder(seed: int, cfg: CnnSettings = CFG) -> CnnEncoder:
    torch.manual_seed(seed)
    enc = CnnEncoder(cfg)
    for m in enc.modules():  # batch norms with statistics of their own, as after training
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return enc.eval()


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(1)
    ids = torch.randint(1, 6, (3, 37))  # (B, L): odd length, N included
    mask = torch.ones_like(ids)
    ids[1, 30:], mask[1, 30:] = 0, 0  # a shorter sequence, padded
    return ids, mask


def test_fused_cnn_equals_each_encoder():
    encoders = [_encoder(s) for s in range(3)]
    ids, mask = _batch()
    h, out_mask = FusedCnn(encoders)(ids, mask)  # (P, B, L', H)
    for j, enc in enumerate(encoders):
        want, want_mask = enc(ids, mask)
        assert torch.equal(out_mask, want_mask)
        torch.testing.assert_close(h[j], want, atol=1e-5, rtol=1e-5)


def test_fused_cnn_refuses_encoders_of_different_configurations():
    other = CnnSettings(stem_channels=8, channels=[8, 16], hidden_size=12, position_embedding=0)
    with pytest.raises(ConfigError):
        FusedCnn([_encoder(0), _encoder(1, other)])


def test_fused_readout_equals_each_members_projector_and_head():
    ids, mask = _batch()
    members = []
    for s in range(3):
        torch.manual_seed(10 + s)
        head = NumericHead(20, NumericHeadConfig(keys=KEYS, hidden=16, pool="mean_max", readout="dna"))
        members.append(NumberPath(_encoder(s), build_projector(ProjectorConfig(), 12, 20), head).eval())
    states = [m.encoder(ids, mask) for m in members]
    key_ids = torch.tensor([1, 0, 1])
    with torch.no_grad():
        mean, log_var = FusedReadout(members)(torch.stack([h for h, _ in states]), states[0][1], key_ids)
        for j, (m, (h, hm)) in enumerate(zip(members, states, strict=True)):
            want_mean, want_lv = _path_numbers(m.projector, m.numeric_head, h, hm, [1, 1, 1], key_ids)
            torch.testing.assert_close(mean[j], want_mean, atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(log_var[j], want_lv, atol=1e-5, rtol=1e-5)


def test_the_shipped_fast_path_gives_the_same_numbers_fused_and_one_path_at_a_time(monkeypatch):
    import agrochat.bridge.model as model_module
    from agrochat.chat import Assistant
    from conftest import read_promoters

    assistant = Assistant.from_pretrained()
    seqs = [r["sequence"] for r in read_promoters()[:3]]
    keys = (
        "promoter_strength/leaf",
        "terminator_strength/protoplast",
        "tissue_expression/maize:mature pollen",
    )
    fused = {
        k: [p for s in seqs for p in assistant.predict(s, *k.split("/", 1), explanations=False)] for k in keys
    }
    assert assistant.model._fused, "a batch of one sequence runs the fused encoders"
    monkeypatch.setattr(model_module, "FUSE_MAX", 0)
    for k in keys:
        alone = assistant.predict(seqs, *k.split("/", 1), explanations=False)
        for a, b in zip(fused[k], alone, strict=True):
            assert abs(a.value - b.value) < 1e-5 and abs(a.uncertainty - b.uncertainty) < 1e-5
            assert a.ood == b.ood
