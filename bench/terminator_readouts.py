"""Terminator-only readout experiment: which readout on the shipped CNN encoder learns terminator strength best.

Not a test: a small training loop outside ``agrochat train`` (one model per call, terminator keys only, plain
squared error on both systems' standardised labels, AdamW + OneCycle to 2e-3, batch 128, 0-3 bp trims, grad
clip 1) that isolates the readout. Rows and splits are the project's (``load_regression_rows`` of
:mod:`agrochat.data_gen.regression`: leak removal, validation carved from train by gene group), so ``--data`` is
the source data folder or an ``agrochat data build``. The validation rows are scored after every epoch
(readouts are compared on them); the official test split is read only with ``--split test``, once, after the
last epoch, for the chosen readout. One thread per process, so two run side by side on 2 cores::

    python bench/terminator_readouts.py pool --epochs 6 --out bench/results/terminator_readouts/pool.json
    python bench/terminator_readouts.py pool --epochs 6 --split test --out ...   # the chosen readout, once

Results written before the project's split was used here (a random 4,000-row hold-out, test after every
epoch) are not comparable with these.

Readouts (all on ``CnnEncoder(CnnSettings(position_embedding=32))``, the shipped encoder architecture):

- ``pool``: mean and max of the encoder states -> LayerNorm -> MLP (256) -> 2 outputs;
- ``flat``: position-aware, like the authors' flatten -> dense: each output position (counted from the 3' end,
  24 slots) has its own weights into 64 features -> 2 outputs;
- ``both``: ``flat`` plus the ``pool`` features;
- ``head``: the model's own projector (``mlp2x_gelu`` to 576) and ``NumericHead`` (``readout: dna``, pool
  ``attention_mean_max``), squared error on its means;
- ``head_mean_max``: the same with ``pool: mean_max``.

``--weighted`` weights each tobacco label by its barcode support (min over the two replicates, clipped to 1-5,
divided by 5), from ``terminators/gorjifard2024_tobacco_leaf_all.tsv.gz`` of the source data.
"""

from __future__ import annotations

import argparse
import math
import random
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from _common import add_split_argument, report
from torch import nn

from agrochat.bridge.cnn import BASE_IDS, CnnEncoder
from agrochat.bridge.config import CnnSettings, NumericHeadConfig, ProjectorConfig
from agrochat.bridge.head import NumericHead
from agrochat.bridge.projector import build_projector

COLS = ["enrichment_tobacco", "enrichment_maize"]
KEYS = {"terminator_strength/leaf": COLS[0], "terminator_strength/protoplast": COLS[1]}  # tobacco leaf, maize
READOUTS = ("pool", "flat", "both", "head", "head_mean_max")


class Net(nn.Module):
    def __init__(self, readout: str, slots: int = 24, width: int = 64) -> None:
        super().__init__()
        self.readout = readout
        self.enc = CnnEncoder(CnnSettings(position_embedding=32))
        h = self.enc.hidden_size
        if readout.startswith("head"):
            pool = "mean_max" if readout == "head_mean_max" else "attention_mean_max"
            self.proj = build_projector(ProjectorConfig(type="mlp2x_gelu"), h, 576)
            self.head = NumericHead(
                576, NumericHeadConfig(keys=["a", "b"], hidden=256, readout="dna", pool=pool)
            )
        elif readout == "pool":
            self.mlp = nn.Sequential(nn.LayerNorm(2 * h), nn.Linear(2 * h, 256), nn.GELU(), nn.Linear(256, 2))
        else:
            self.slots = slots
            self.w = nn.Parameter(torch.randn(slots * h, width) * (slots * h) ** -0.5)
            self.b = nn.Parameter(torch.zeros(width))
            if readout == "both":
                self.pooled_in = nn.Sequential(nn.LayerNorm(2 * h), nn.Linear(2 * h, width))
            self.mlp = nn.Sequential(nn.GELU(), nn.Dropout(0.1), nn.Linear(width, 2))

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h, om = self.enc(ids, mask)  # (B, L', H), (B, L')
        if self.readout.startswith("head"):
            p, pm = self.proj(h, om)  # (B, L', 576)
            b = p.shape[0]
            keys = torch.arange(2).repeat(b)  # (2B,) both systems per sequence
            mean, _ = self.head(None, keys, p.repeat_interleave(2, 0), pm.bool().repeat_interleave(2, 0))
            return mean.view(b, 2)
        m = om.bool().unsqueeze(-1)  # (B, L', 1)
        pooled = torch.cat([(h * m).sum(1) / m.sum(1), h.masked_fill(~m, -1e4).amax(1)], -1)  # (B, 2H)
        if self.readout == "pool":
            return self.mlp(pooled)
        from_end = (om.sum(1, keepdim=True) - 1 - torch.arange(h.shape[1])).clamp(0, self.slots - 1).long()
        slots = torch.zeros(h.shape[0], self.slots, h.shape[2]).scatter_add(
            1, from_end[..., None].expand(-1, -1, h.shape[2]), h * m
        )  # (B, slots, H)
        z = slots.flatten(1) @ self.w + self.b  # (B, width)
        if self.readout == "both":
            z = z + self.pooled_in(pooled)
        return self.mlp(z)


def encode(seqs) -> list[torch.Tensor]:
    return [torch.tensor([BASE_IDS.get(c, 5) for c in s.upper()]) for s in seqs]


def batchify(ids: list[torch.Tensor], shift: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad to the longest; with ``shift``, half the sequences lose 0-``shift`` bases at each end."""
    out = []
    for x in ids:
        if shift and random.random() < 0.5:
            a, b = random.randint(0, shift), random.randint(0, shift)
            x = x[a : len(x) - b]
        out.append(x)
    n = max(len(x) for x in out)
    t = torch.zeros(len(out), n, dtype=torch.long)
    m = torch.zeros(len(out), n, dtype=torch.long)
    for i, x in enumerate(out):
        t[i, : len(x)], m[i, : len(x)] = x, 1
    return t, m


def r2(y: np.ndarray, p: np.ndarray) -> list[float]:
    return [
        float(1 - ((y[:, k] - p[:, k]) ** 2).sum() / ((y[:, k] - y[:, k].mean()) ** 2).sum()) for k in (0, 1)
    ]


def frame(data: str, split: str) -> pd.DataFrame:
    """One row per terminator construct of ``split`` (the project's split), with both systems' labels."""
    from agrochat.data_gen.regression import rows_by_key

    per: dict[str, dict] = {}
    for key, rows in rows_by_key(data, split, list(KEYS)).items():
        for r in rows:
            name = r["id"].split("|", 1)[1]
            per.setdefault(name, {"id": name, "sequence": r["sequence"]})[KEYS[key]] = r["target"]
    return pd.DataFrame(sorted(per.values(), key=lambda r: r["id"])).dropna(subset=COLS)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("readout", choices=READOUTS)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--weighted", action="store_true")
    ap.add_argument("--data", default="../shared/data", help="source data folder or an agrochat data build")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--limit", type=int, default=0, help="train on the first N rows only (a quick smoke run)")
    add_split_argument(ap)
    return ap


def main() -> None:
    from agrochat.provenance import provenance

    args = parser().parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    random.seed(0)
    np.random.seed(0)
    train = frame(args.data, "train").sample(frac=1, random_state=0)
    val = frame(args.data, "validation")
    if args.limit:
        train, val = train.iloc[: args.limit], val.iloc[: args.limit]
    mu, sd = train[COLS].mean().values, train[COLS].std().values
    x_train, x_val = encode(train.sequence), encode(val.sequence)
    y_train = torch.tensor((train[COLS].values - mu) / sd, dtype=torch.float32)
    weights = torch.ones_like(y_train)
    if args.weighted:
        bc = pd.read_csv(Path(args.data) / "terminators" / "gorjifard2024_tobacco_leaf_all.tsv.gz", sep="\t")
        support = bc[["n_bc_rep1", "n_bc_rep2"]].fillna(0).min(axis=1)
        support = pd.Series(support.values, index=bc.sequence).groupby(level=0).first()
        weights[:, 0] = torch.tensor(train.sequence.map(support).fillna(0).clip(1, 5).values / 5.0)
    net = Net(args.readout)
    bs = 128
    steps = args.epochs * math.ceil(len(x_train) / bs)
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=0.05)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps, pct_start=0.3)

    @torch.no_grad()
    def predict(xs: list[torch.Tensor]) -> np.ndarray:
        net.eval()
        out = [net(*batchify(xs[i : i + 512], 0)) for i in range(0, len(xs), 512)]
        net.train()
        return torch.cat(out).numpy() * sd + mu

    history, t0 = [], time.time()
    for epoch in range(args.epochs):
        for idx in torch.randperm(len(x_train)).split(bs):
            t, m = batchify([x_train[j] for j in idx], 3)
            w = weights[idx]
            loss = (w * (net(t, m) - y_train[idx]) ** 2).sum() / w.sum()
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            sched.step()
        history.append(
            {
                "epoch": epoch + 1,
                "seconds": round(time.time() - t0),
                "val_r2": r2(val[COLS].values, predict(x_val)),
            }
        )
        print(history[-1], flush=True)
    result = {"readout": args.readout, "weighted": args.weighted, "epochs": history}
    if args.split == "test":  # once, after training: the test rows choose nothing
        test = frame(args.data, "test")
        if args.limit:
            test = test.iloc[: args.limit]
        prov = provenance("test", rows=len(test), data=args.data)
        result["test_r2"] = r2(test[COLS].values, predict(encode(test.sequence)))
        print({"test_r2": result["test_r2"]}, flush=True)
    else:
        prov = provenance("validation", rows=len(val), data=args.data)
    report(result, args.out, prov)


if __name__ == "__main__":
    main()
