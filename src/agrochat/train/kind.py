"""Train the promoter/terminator classifier (:class:`agrochat.bridge.kind.KindClassifier`).

Data: the training pools of :func:`agrochat.data_gen.planning.load_pools` (official training rows, no test
sequence). A stable hash of each sequence puts ``valid_frac`` of each class into validation, so the split does not
depend on the order or on the other rows. Every epoch sees all training promoters and a fresh random draw of as many
training terminators (the terminators are ~3.5x more numerous), so the batches are balanced; the loss is also
weighted by class so that it stays balanced when a class is short. The epoch with the best validation balanced
accuracy is saved to ``out/best``; ``out/log.json`` has every epoch's validation metrics.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from agrochat.bridge.kind import KindClassifier, KindConfig, build_kind_classifier, encode
from agrochat.errors import InputError

PROMOTER, TERMINATOR = 0, 1


def in_validation(sequence: str, valid_frac: float) -> bool:
    """Whether ``sequence`` is in the validation part: the first 8 bytes of its SHA-256, as a fraction of 2**64,
    fall below ``valid_frac`` (stable across runs, machines and row orders)."""
    h = int.from_bytes(hashlib.sha256(sequence.upper().encode()).digest()[:8], "big")
    return h / 2**64 < valid_frac


def split(
    promoters: Sequence[str], terminators: Sequence[str], valid_frac: float
) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """(train, valid) lists of (sequence, label); a sequence found in both classes is dropped (it has no answer)."""
    both = set(promoters) & set(terminators)
    rows = [(s, PROMOTER) for s in dict.fromkeys(promoters) if s not in both]
    rows += [(s, TERMINATOR) for s in dict.fromkeys(terminators) if s not in both]
    train = [r for r in rows if not in_validation(r[0], valid_frac)]
    valid = [r for r in rows if in_validation(r[0], valid_frac)]
    return train, valid


def metrics(probs: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """probs (N,) P(terminator), labels (N,) 0/1 -> per-class accuracy at 0.5, balanced accuracy, ROC AUC, the
    class-balanced log loss and the counts."""
    pred = (probs >= 0.5).long()  # (N,)
    out: dict[str, float] = {}
    for name, c in (("promoter", PROMOTER), ("terminator", TERMINATOR)):
        sel = labels == c
        out[f"n_{name}"] = int(sel.sum())
        out[f"acc_{name}"] = float((pred[sel] == c).float().mean()) if sel.any() else float("nan")
    out["balanced_accuracy"] = (out["acc_promoter"] + out["acc_terminator"]) / 2
    # ROC AUC by ranks (Mann-Whitney U; ties get their mean rank)
    order = probs.argsort()
    ranks = torch.empty_like(probs)
    ranks[order] = torch.arange(1, len(probs) + 1, dtype=probs.dtype)
    _, inv, counts = torch.unique(probs, return_inverse=True, return_counts=True)
    rank_sum = torch.zeros(len(counts), dtype=probs.dtype).index_add_(0, inv, ranks)
    ranks = (rank_sum / counts)[inv]
    n_pos, n_neg = out["n_terminator"], out["n_promoter"]
    if n_pos and n_neg:
        out["auc"] = float((ranks[labels == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
    p = probs.clamp(1e-6, 1 - 1e-6)
    losses = [
        float(-torch.log(p[labels == 1]).mean()) if n_pos else 0.0,
        float(-torch.log(1 - p[labels == 0]).mean()) if n_neg else 0.0,
    ]
    out["balanced_log_loss"] = sum(losses) / 2
    return out


def evaluate(model: KindClassifier, rows: list[tuple[str, int]], batch_size: int = 512) -> dict[str, float]:
    """Validation metrics of ``model`` on (sequence, label) rows."""
    probs = torch.tensor(model.prob_terminator([s for s, _ in rows], batch_size))  # (N,)
    return metrics(probs, torch.tensor([y for _, y in rows]))


def train_kind(
    pools,
    out: Path,
    config: KindConfig | None = None,
    epochs: int = 10,
    batch_size: int = 128,
    lr: float = 3e-3,
    weight_decay: float = 1e-2,
    valid_frac: float = 0.1,
    terminators_per_epoch: int = 0,
    seed: int = 0,
) -> dict:
    """Train a classifier on ``pools`` (``promoters``: (sequence, species) pairs, ``terminators``: sequences),
    choose the epoch on validation and save it to ``out/best``. ``terminators_per_epoch``: terminators drawn
    afresh each epoch (0: as many as the training promoters). Returns ``{"log", "best_epoch", "best", "seconds",
    "n_train", "n_valid"}``; the log is also written to ``out/log.json``."""
    if epochs <= 0:
        raise InputError(f"epochs must be > 0, got {epochs}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    config = config or KindConfig()
    train, valid = split([s for s, _ in pools.promoters], list(pools.terminators), valid_frac)
    train_p = [s for s, y in train if y == PROMOTER]
    train_t = [s for s, y in train if y == TERMINATOR]
    if not train_p or not train_t or not valid:
        raise InputError(
            f"training needs both classes and a validation part: {len(train_p)} promoters, "
            f"{len(train_t)} terminators to train on, {len(valid)} to validate on"
        )
    n_t = min(terminators_per_epoch or len(train_p), len(train_t))
    # class weights: each class contributes half of the loss, whatever its count in the epoch
    w_p, w_t = (len(train_p) + n_t) / (2 * len(train_p)), (len(train_p) + n_t) / (2 * n_t)

    torch.manual_seed(seed)
    rng = random.Random(seed)
    model = build_kind_classifier(config)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps_per_epoch = -(-(len(train_p) + n_t) // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=lr, total_steps=epochs * steps_per_epoch, pct_start=0.1
    )
    log: list[dict] = []
    best: dict | None = None
    start = time.time()
    for epoch in range(1, epochs + 1):
        rows = [(s, PROMOTER) for s in train_p] + [(s, TERMINATOR) for s in rng.sample(train_t, n_t)]
        rng.shuffle(rows)
        model.train()
        total, seen = 0.0, 0
        bar = tqdm(range(0, len(rows), batch_size), desc=f"kind epoch {epoch}", mininterval=10)
        for s in bar:
            batch = rows[s : s + batch_size]
            ids, mask = encode([q for q, _ in batch], config.max_len)  # (B, L), (B, L)
            y = torch.tensor([float(lab) for _, lab in batch])  # (B,)
            weight = torch.where(y == 1, w_t, w_p)  # (B,)
            loss = F.binary_cross_entropy_with_logits(model(ids, mask), y, weight=weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total, seen = total + loss.item() * len(batch), seen + len(batch)
            bar.set_postfix(loss=f"{total / seen:.4f}", refresh=False)
        entry = {
            "epoch": epoch,
            "train_loss": total / seen,
            "valid": evaluate(model, valid),
            "seconds": round(time.time() - start, 1),
        }
        log.append(entry)
        print(json.dumps(entry), flush=True)
        if best is None or entry["valid"]["balanced_accuracy"] > best["valid"]["balanced_accuracy"]:
            best = entry
            model.save_pretrained(out / "best")
        (out / "log.json").write_text(
            json.dumps(
                {
                    "config": {
                        "model": config.__dict__,
                        "epochs": epochs,
                        "batch_size": batch_size,
                        "lr": lr,
                        "weight_decay": weight_decay,
                        "valid_frac": valid_frac,
                        "terminators_per_epoch": n_t,
                        "seed": seed,
                    },
                    "n_train": {"promoter": len(train_p), "terminator": len(train_t)},
                    "best_epoch": best["epoch"],
                    "epochs": log,
                },
                indent=1,
            )
        )
    assert best is not None
    return {
        "log": log,
        "best_epoch": best["epoch"],
        "best": best["valid"],
        "seconds": round(time.time() - start, 1),
        "n_train": len(train_p) + len(train_t),
        "n_valid": len(valid),
    }


def run(data_dir: Path, out: Path, epochs: int = 10, config: KindConfig | None = None, **kwargs) -> dict:
    """Load the training pools from ``data_dir`` (no test sequence), train and save the best to ``out/best``."""
    from agrochat.data_gen.planning import load_pools

    return train_kind(load_pools(data_dir), Path(out), config, epochs, **kwargs)
