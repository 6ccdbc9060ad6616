"""The promoter/terminator classifier (bridge/kind.py) and its training (train/kind.py), tiny and on CPU."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from agrochat.bridge.kind import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    KindClassifier,
    KindConfig,
    build_kind_classifier,
    encode,
)
from agrochat.errors import CheckpointError, ConfigError, InputError, ResourceNotFoundError
from agrochat.train.kind import in_validation, metrics, split, train_kind

FIXTURES = Path(__file__).parent / "fixtures"
TINY = dict(embed_dim=4, channels=[8, 8], kernel=5, dropout=0.0)


def _column(name: str, n_fields: int, column: int) -> list[str]:
    """The ``column`` (1-based) of the data rows with ``n_fields`` tab-separated fields (header skipped)."""
    rows = [line.rstrip("\n").split("\t") for line in (FIXTURES / name).read_text().splitlines()]
    rows = [r for r in rows if len(r) == n_fields and not r[0].startswith("#") and r[0] != "id"]
    return [r[column - 1] for r in rows]


PROMOTERS = _column("promoters_leaf_64.tsv", 4, 4)
TERMINATORS = _column("terminators_train_8.tsv", 5, 5)


def _trained(steps: int = 40, **config) -> KindClassifier:
    """A tiny classifier fitted for a few steps on the fixture sequences (classes weighted to balance)."""
    torch.manual_seed(0)
    model = KindClassifier(KindConfig(**{**TINY, **config}))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    ids, mask = encode(PROMOTERS + TERMINATORS, 170)  # (B, L)
    y = torch.tensor([0.0] * len(PROMOTERS) + [1.0] * len(TERMINATORS))  # (B,)
    w = torch.where(y == 1, len(PROMOTERS) / len(TERMINATORS), 1.0)  # (B,)
    for _ in range(steps):
        loss = F.binary_cross_entropy_with_logits(model(ids, mask), y, weight=w)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def test_fixtures_are_read():
    assert len(PROMOTERS) >= 50 and len(TERMINATORS) == 8
    assert all(set(s) <= set("ACGTN") for s in PROMOTERS + TERMINATORS)
    assert all(len(s) == 170 for s in TERMINATORS)


@pytest.mark.parametrize(
    "bad",
    [
        {"embed_dim": 0},
        {"channels": []},
        {"channels": [8, -1]},
        {"kernel": 4},
        {"kernel": 0},
        {"dropout": 1.0},
        {"dropout": -0.1},
        {"max_len": 0},
        {"type": ""},
        {"position_embedding": 1},
    ],
)
def test_config_validation_raises(bad):
    with pytest.raises(ConfigError):
        KindConfig(**bad)


def test_unknown_type_and_keys_raise():
    with pytest.raises(ConfigError, match="unknown kind classifier type"):
        build_kind_classifier(KindConfig(type="transformer"))
    with pytest.raises(ConfigError, match="unknown kind config keys"):
        KindConfig.from_dict({"channels": [8], "width": 3})
    assert isinstance(build_kind_classifier(KindConfig(**TINY)), KindClassifier)


def test_trained_classifier_separates_its_training_sequences():
    p = _trained().prob_terminator(PROMOTERS + TERMINATORS)
    acc_p = sum(x < 0.5 for x in p[: len(PROMOTERS)]) / len(PROMOTERS)
    acc_t = sum(x >= 0.5 for x in p[len(PROMOTERS) :]) / len(TERMINATORS)
    assert (acc_p + acc_t) / 2 > 0.9


@pytest.mark.parametrize("position", [False, True])
def test_save_and_load_give_the_same_probabilities(tmp_path, position):
    model = _trained(position_embedding=position)
    model.save_pretrained(tmp_path / "kind")
    assert json.loads((tmp_path / "kind" / CONFIG_FILE).read_text())["type"] == "cnn"
    from safetensors.torch import load_file

    assert all(v.dtype == torch.float16 for v in load_file(tmp_path / "kind" / WEIGHTS_FILE).values())
    loaded = KindClassifier.from_pretrained(tmp_path / "kind")
    assert not loaded.training and loaded.config == model.config
    seqs = PROMOTERS[:8] + TERMINATORS
    before, after = model.prob_terminator(seqs), loaded.prob_terminator(seqs)
    assert max(abs(a - b) for a, b in zip(before, after, strict=True)) < 5e-3
    assert max(before) - min(before) > 0.1  # not a constant model, so the comparison means something


def test_load_errors(tmp_path):
    with pytest.raises(ResourceNotFoundError):
        KindClassifier.from_pretrained(tmp_path / "missing")
    KindClassifier(KindConfig(**TINY)).save_pretrained(tmp_path / "k")
    cfg = json.loads((tmp_path / "k" / CONFIG_FILE).read_text())
    (tmp_path / "k" / CONFIG_FILE).write_text(json.dumps({**cfg, "channels": [8, 16]}))
    with pytest.raises(CheckpointError):
        KindClassifier.from_pretrained(tmp_path / "k")


@pytest.mark.parametrize("position", [False, True])
def test_prob_terminator_reads_lowercase_rna_and_any_length(position):
    model = _trained(10, position_embedding=position)
    t, p = TERMINATORS[0], PROMOTERS[0]
    rna = t.replace("T", "U")
    probs = model.prob_terminator([t, t.lower(), rna, rna.lower(), f" {t[:85]}\n{t[85:]} "])
    assert max(probs) - min(probs) < 1e-6
    # padding does not leak: a short sequence gets the same probability alone and beside a longer one
    short = p[:61]
    assert model.prob_terminator([short])[0] == pytest.approx(model.prob_terminator([short, t])[0], abs=1e-6)
    # longer than max_len: the central 170 bases are read
    long = "A" * 40 + t + "C" * 41
    assert model.prob_terminator([long])[0] == pytest.approx(model.prob_terminator([t])[0], abs=1e-6)
    assert model.prob_terminator([]) == []
    assert model.training is False


def test_prob_terminator_keeps_training_mode_and_rejects_non_dna():
    model = KindClassifier(KindConfig(**TINY)).train()
    assert model.prob_terminator(["ACGTRYN"])[0] == pytest.approx(model.prob_terminator(["ACGTNNN"])[0])
    assert model.training
    with pytest.raises(InputError):
        model.prob_terminator(["ACGTX"])
    with pytest.raises(InputError):
        model.prob_terminator([" "])


def test_metrics_known_values():
    probs = torch.tensor([0.1, 0.6, 0.2, 0.9, 0.8, 0.4])
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    m = metrics(probs, labels)
    assert m["acc_promoter"] == pytest.approx(2 / 3) and m["acc_terminator"] == pytest.approx(2 / 3)
    assert m["balanced_accuracy"] == pytest.approx(2 / 3)
    assert m["auc"] == pytest.approx(8 / 9)  # pairs (t > p): 0.9 and 0.8 beat all 3, 0.4 beats 0.1 and 0.2
    assert metrics(torch.full((6,), 0.3), labels)["auc"] == pytest.approx(0.5)  # ties count half
    assert m["n_promoter"] == 3 and m["n_terminator"] == 3


def test_split_is_stable_and_disjoint():
    tr, va = split(PROMOTERS, TERMINATORS + [PROMOTERS[0]], 0.3)
    seqs = [s for s, _ in tr + va]
    assert PROMOTERS[0] not in seqs  # in both classes: dropped
    assert not {s for s, _ in tr} & {s for s, _ in va}
    assert all(in_validation(s, 0.3) for s, _ in va)
    assert split(list(reversed(PROMOTERS)), TERMINATORS, 0.3)[1] != []
    assert {s for s, _ in split(list(reversed(PROMOTERS)), TERMINATORS, 0.3)[1]} == {
        s for s, _ in split(PROMOTERS, TERMINATORS, 0.3)[1]
    }
    frac = sum(in_validation(f"ACGT{i}", 0.1) for i in range(2000)) / 2000
    assert 0.07 < frac < 0.13


def test_train_kind_writes_log_and_best(tmp_path):
    pools = SimpleNamespace(promoters=[(s, "Zm") for s in PROMOTERS], terminators=TERMINATORS * 1)
    res = train_kind(
        pools, tmp_path / "run", KindConfig(**TINY), epochs=2, batch_size=16, valid_frac=0.3, seed=1
    )
    log = json.loads((tmp_path / "run" / "log.json").read_text())
    assert [e["epoch"] for e in log["epochs"]] == [1, 2]
    assert log["best_epoch"] == res["best_epoch"]
    assert {"balanced_accuracy", "acc_promoter", "acc_terminator", "n_promoter"} <= set(
        log["epochs"][0]["valid"]
    )
    best = KindClassifier.from_pretrained(tmp_path / "run" / "best")
    assert len(best.prob_terminator(TERMINATORS[:2])) == 2
    with pytest.raises(InputError):
        train_kind(pools, tmp_path / "bad", KindConfig(**TINY), epochs=0)
