"""``agrochat motifs`` (chat/motif_report.py, chat/motifs_cli.py): config checks, the pieces (TOMTOM names,
marginalisation, trimming and placing patterns) and the pipeline end to end on a toy model with a planted motif;
the shipped model on real promoters is the slow test."""

from __future__ import annotations

import json
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from agrochat.bridge.onehot import one_hot_sequences
from agrochat.chat.motif_report import (
    MotifReport,
    MotifReportConfig,
    backgrounds,
    consensus,
    describe_pattern,
    key_report,
    marginal_effect,
    revcomp,
    seqlet_spans,
    tomtom_matches,
    trim_span,
    write_report,
)
from agrochat.errors import ConfigError
from conftest import LEAF, read_promoters

pytest.importorskip("modiscolite")
pytest.importorskip("logomaker")

TATA = "TATAAATA"
PLANT = 125  # 0-based start of the planted motif: -40 relative to the TSS of a 170-bp promoter


class MotifCounter(nn.Module):
    """A toy predictor: sum over positions of ReLU(matches to ``motif`` - (len - 2)), i.e. 2 for each exact copy on
    the forward strand, 1 for each copy with one mismatch, plus a weak fixed random weight per base and position
    (so that attributions are not zero outside the motif, as in a real model). (B, 4, L) -> (B, 1)."""

    def __init__(self, motif: str = TATA, length: int = 170) -> None:
        super().__init__()
        self.register_buffer(
            "weak", 0.01 * torch.randn(4, length, generator=torch.Generator().manual_seed(0))
        )
        self.conv = nn.Conv1d(4, 1, len(motif), bias=True)
        with torch.no_grad():
            self.conv.weight.zero_()
            for i, b in enumerate(motif):
                self.conv.weight[0, "ACGT".index(b), i] = 1.0
            self.conv.bias.fill_(-(len(motif) - 2.0))
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.conv(x)).sum(-1) + (x * self.weak).sum((1, 2))[:, None]  # (B, 1)


def _random_rows(n: int, seed: int = 0, length: int = 170) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [
        {"sequence": "".join(rng.choice(list("ACGT"), size=length)), "split": "validation"} for _ in range(n)
    ]


def _planted(rows: list[dict], motif: str = TATA, at: int = PLANT) -> list[dict]:
    return [{**r, "sequence": r["sequence"][:at] + motif + r["sequence"][at + len(motif) :]} for r in rows]


def _tiny(**kw) -> MotifReportConfig:
    base = dict(
        keys=(LEAF,), n=60, n_shuffles=4, min_metacluster=10, min_cluster=5, leiden_runs=2, backgrounds=20
    )
    return MotifReportConfig(**{**base, **kw})


@pytest.mark.parametrize(
    "kw, words",
    [
        ({"keys": ()}, "at least one key"),
        ({"keys": (LEAF, LEAF)}, "repeat"),
        ({"method": "saliency"}, "deeplift_shap, ism"),
        ({"n": 0}, "n must be at least 1"),
        ({"n_shuffles": 0}, "n_shuffles"),
        ({"max_seqlets": 0}, "max_seqlets"),
        ({"flank": -1}, "flank"),
        ({"fdr": 0.0}, "fdr"),
        ({"fdr": 1.5}, "fdr"),
        ({"backgrounds": 0}, "backgrounds"),
    ],
)
def test_config_rejects_bad_values_in_one_line(kw, words):
    with pytest.raises(ConfigError, match=words) as e:
        MotifReportConfig(**kw)
    assert "\n" not in str(e.value)


def test_config_defaults_and_dict():
    cfg = MotifReportConfig(keys=[LEAF], out="somewhere")
    assert cfg.keys == (LEAF,) and cfg.n == 2000 and cfg.method == "deeplift_shap"
    assert json.loads(json.dumps(cfg.to_dict()))["out"] == "somewhere"


def test_tomtom_names_the_tata_pwm_tata_box_on_both_strands():
    from agrochat.chat.interpret import motif_library

    pwms, _ = motif_library()
    tata = np.asarray(pwms["TATA TATA"]).T  # (W, 4)
    for ppm in (tata, tata[::-1, ::-1]):  # the PWM and its reverse complement
        matches = tomtom_matches(ppm)
        assert len(matches) == 3 and matches[0].name == "TATA box"
        assert matches[0].source == "Jores et al. 2021 core promoter elements"
        assert matches[0].p_value < 1e-10 < matches[1].p_value
    gc = np.tile([[0.0, 0.5, 0.5, 0.0]], (8, 1))  # a GC run is no TATA box
    assert all(m.name != "TATA box" for m in tomtom_matches(gc))


def test_marginal_effect_has_the_sign_and_size_of_a_planted_motif():
    x = one_hot_sequences([r["sequence"] for r in _random_rows(40)])  # (40, 4, 170)
    bg = backgrounds(x, 30, seed=1)
    assert bg.shape == (30, 4, 170) and torch.allclose(bg.sum(1), torch.ones(30, 170))
    model = MotifCounter()
    after = bg.clone()
    after[:, :, PLANT : PLANT + len(TATA)] = one_hot_sequences([TATA])  # the insertion, by hand
    with torch.no_grad():
        diff = (model(after) - model(bg))[:, 0]  # (30,)
    effect, sd = marginal_effect(model, bg, TATA, PLANT)
    assert effect == pytest.approx(float(diff.mean()), abs=1e-5) and effect > 1.5
    assert sd == pytest.approx(float(diff.std(unbiased=False)), abs=1e-5)
    assert marginal_effect(model, bg, TATA, 20)[0] > 1.5  # anywhere, for this toy
    rc_effect, _ = marginal_effect(model, bg, revcomp(TATA), PLANT)  # the toy reads one strand only
    assert rc_effect < 0.5


def test_trimming_consensus_and_seqlet_positions():
    cwm = np.zeros((10, 4))
    cwm[3:7, 0] = [0.4, 1.0, 0.5, 0.3]
    cwm[2, 0] = 0.25  # below 30% of the largest (1.0)
    cwm[8, 1] = -0.1  # likewise; absolute values count
    assert trim_span(cwm) == (3, 7)
    ppm = np.eye(4)[[3, 0, 3, 0]]
    assert consensus(ppm) == "TATA" and revcomp("TATAAAC") == "GTTTATA"
    seqlets = [
        SimpleNamespace(start=100, end=110, is_revcomp=False),
        SimpleNamespace(start=50, end=60, is_revcomp=True),
    ]
    starts, minus = seqlet_spans(SimpleNamespace(seqlets=seqlets), 3, 7)
    assert starts.tolist() == [103, 53] and minus.tolist() == [False, True]


def test_a_pattern_is_placed_relative_to_the_tss_and_inserted_on_its_strand():
    bg = backgrounds(one_hot_sequences([r["sequence"] for r in _random_rows(30)]), 30, 0)  # (30, 4, 170)
    ppm = np.eye(4)[["ACGT".index(b) for b in TATA]]  # (8, 4)
    seqlets = [SimpleNamespace(start=PLANT, end=PLANT + 8, is_revcomp=True) for _ in range(3)]
    raw = SimpleNamespace(contrib_scores=ppm, sequence=ppm, seqlets=seqlets)
    p = describe_pattern("pos_0", "pos", raw, 170, LEAF, MotifCounter(revcomp(TATA)), bg)
    assert p.strand == "-" and p.consensus == TATA and p.insert_start == PLANT
    assert p.position_mean == pytest.approx(-36.5) and p.position_sd == 0  # centre of 125..132: -40..-33
    assert p.effect > 1.5  # the reverse complement went in, which this toy reads
    assert p.matches[0].name == "TATA box"


def test_pipeline_recovers_a_planted_motif_on_a_toy_model(tmp_path):
    rows = _random_rows(60, seed=2)
    rows = _planted(rows[:40]) + rows[40:]  # 40 of 60 carry the motif at -40
    seen = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        res = key_report(MotifCounter(), LEAF, rows, _tiny(), lambda *a: seen.append(a), unit="toy units")
        assert torch.get_num_threads() == 1  # modisco-lite's numba (OpenMP) threads do not leak into torch
    finally:
        torch.set_num_threads(threads)
    assert res.sequences == {"validation": 60}
    assert ("promoter_strength/leaf", "attributions", 60, 60) in seen
    assert res.patterns, "TF-MoDISco found nothing"
    top = res.patterns[0]
    assert top.sign == "pos" and top.seqlets >= 20
    assert TATA in top.consensus or top.consensus in TATA
    assert -45 <= top.position_mean <= -30
    assert top.effect > 1.0 and top.matches[0].name == "TATA box"

    path = write_report(MotifReport(_tiny(), [res]), tmp_path / "out", {"command": "`test`"})
    text = path.read_text()
    assert "| pos_0 | ![pos_0](promoter_strength_leaf/pos_0.png)" in text and "TATA box" in text
    assert "- **command**: `test`" in text
    png = tmp_path / "out" / "promoter_strength_leaf" / "pos_0.png"
    assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size < 20_000
    data = json.loads((tmp_path / "out" / "report.json").read_text())
    assert data["results"][0]["patterns"][0]["matches"][0]["name"] == "TATA box"


def test_cli_errors_are_one_line(monkeypatch, tmp_path):
    from agrochat.cli import app

    r = CliRunner()
    res = r.invoke(app, ["motifs", "--n", "0", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "n must be at least 1" in res.output
    res = r.invoke(app, ["motifs", "--data-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path)])
    assert res.exit_code == 2 and "data directory not found" in res.output
    monkeypatch.setitem(sys.modules, "modiscolite", None)  # as if not installed
    res = r.invoke(app, ["motifs", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "pip install 'agrochat[motifs]'" in res.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_shipped_model_finds_the_tata_box_in_real_promoters(tmp_path):
    """About 40 s: the shipped model's attributions on 64 real leaf promoters; TF-MoDISco finds a pattern
    TOMTOM names the TATA box, upstream of the TSS, which raises the prediction."""
    from agrochat.chat import Assistant
    from agrochat.chat.motif_report import motif_report
    from agrochat.cli import app

    a = Assistant.from_pretrained()
    rows = [{"sequence": r["sequence"], "split": "train"} for r in read_promoters()]
    report = motif_report(a.model, _tiny(n=64, fdr=0.2), {LEAF: rows})
    tata = [p for p in report.results[0].patterns if any(m.name == "TATA box" for m in p.matches)]
    assert tata and all(p.sign == "pos" and p.effect > 0.3 and -120 < p.position_mean < -15 for p in tata)
    res = CliRunner().invoke(app, ["motifs", "--key", "nope/x", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "no key 'nope/x'" in res.output


def test_ism_hypothetical_contributions_are_centred_changes():
    """method="ism": per position, each base's predicted change centred over the four bases (no gradients)."""
    from agrochat.chat.motif_report import hypothetical_attributions

    rows = _planted(_random_rows(3, seed=3))
    x = one_hot_sequences([r["sequence"] for r in rows])  # (3, 4, 170)
    model = MotifCounter()
    attr = hypothetical_attributions(model, x, _tiny(method="ism", batch_size=2))  # (3, 4, 170)
    assert attr.shape == (3, 4, 170)
    assert np.allclose(attr.sum(1), 0, atol=1e-5)
    i, b = PLANT + 1, "ACGT".index(TATA[1])  # the planted A at -39: changing it loses the whole copy
    changed = x[:1].clone()
    changed[0, :, i] = torch.eye(4)[(b + 1) % 4]
    with torch.no_grad():
        loss = float(model(changed)[0, 0] - model(x[:1])[0, 0])
    assert loss < -0.9 and attr[0, b, i] > 0.5
