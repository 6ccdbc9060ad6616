"""Train the decoder's planner (:mod:`agrochat.bridge.planner`) on planning data (:mod:`agrochat.data_gen.planning`).

The encoder, projector and the decoder's lower layers are frozen, so their output is computed once per example and
cached (``cache.pt`` in the output folder); each step then runs only the adapted top layers and the plan head.
After every epoch the planner is scored on generated validation conversations (another seed) and saved to
``<out>/epoch-N``; the epoch with the best validation accuracy is copied to ``<out>/best``. ``resume`` continues
after the last saved epoch.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from agrochat.bridge import top_adapter as top
from agrochat.bridge.planner import ADAPTER, Planner, PlannerConfig, plan_losses
from agrochat.data_gen.planning import PlanExample
from agrochat.domain.operations import GOALS, NUMBER_OPS, OPS
from agrochat.errors import InputError


@dataclass
class PlanTrainConfig:
    """epochs, batch_size, lr (adapter) and head_lr; seed of the example order."""

    epochs: int = 3
    batch_size: int = 16
    lr: float = 3e-4
    head_lr: float = 1e-3
    seed: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0 or self.head_lr <= 0:
            raise InputError("epochs and batch_size must be >= 1 and learning rates > 0")


def targets(planner: Planner, ex: PlanExample) -> dict:
    """Label tensors of one example."""
    keys = torch.zeros(len(planner.config.keys))
    for k in ex.keys:
        keys[planner.key_index[k]] = 1.0
    seqs = torch.zeros(len(ex.sequences))
    if ex.op in NUMBER_OPS:
        seqs[list(ex.targets)] = 1.0
    goal = planner.config.goals.index(ex.goal) if ex.op == "design" else -100
    return {"op": planner.config.ops.index(ex.op), "keys": keys, "goal": goal, "seqs": seqs}


@torch.no_grad()
def cache_lower(
    planner: Planner, examples: list[PlanExample], batch_size: int = 16, desc: str = "cache"
) -> list[dict]:
    """Per example: the lower layers' output (L, D) in float16, with what a batch needs to be rebuilt."""
    encoded = [planner.encode(ex.messages, ex.sequences) for ex in examples]
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i].input_ids))
    out: list[dict] = [{} for _ in examples]
    for s in tqdm(range(0, len(order), batch_size), desc=desc, mininterval=5):
        idx = order[s : s + batch_size]
        b = planner.batch([encoded[i] for i in idx])
        h = planner.lower_states(b)  # (B, L, D)
        for j, i in enumerate(idx):
            n = len(encoded[i].input_ids)
            out[i] = {
                "h": h[j, :n].to(torch.float16),
                "seq_index": b["seq_index"][j, :n],
                "n_seqs": b["n_seqs"][j],
                **targets(planner, examples[i]),
            }
    return out


def collate_cached(rows: list[dict]) -> dict:
    L = max(r["h"].shape[0] for r in rows)
    D = rows[0]["h"].shape[1]
    h = torch.zeros(len(rows), L, D)
    mask = torch.zeros(len(rows), L, dtype=torch.long)
    seq_index = torch.full((len(rows), L), -1, dtype=torch.long)
    for i, r in enumerate(rows):
        n = r["h"].shape[0]
        h[i, :n], mask[i, :n], seq_index[i, :n] = r["h"].float(), 1, r["seq_index"]
    return {
        "h": h,
        "attention_mask": mask,
        "last": mask.sum(1) - 1,
        "seq_index": seq_index,
        "n_seqs": [r["n_seqs"] for r in rows],
        "op": torch.tensor([r["op"] for r in rows]),
        "keys": torch.stack([r["keys"] for r in rows]),
        "goal": torch.tensor([r["goal"] for r in rows]),
        "seqs": [r["seqs"] for r in rows],
    }


def forward_cached(planner: Planner, b: dict) -> dict:
    h = planner.upper_states(b["h"], b["attention_mask"])  # (B, L, D)
    return planner.head(h, b["attention_mask"], b["last"], b["seq_index"], b["n_seqs"])


@torch.no_grad()
def accuracy(planner: Planner, cached: list[dict], batch_size: int = 32) -> dict:
    """Op accuracy, and op + exact key set accuracy, on cached examples."""
    planner.head.eval()
    planner.model.decoder.eval()
    ok_op = ok_plan = 0
    for s in range(0, len(cached), batch_size):
        b = collate_cached(cached[s : s + batch_size])
        out = forward_cached(planner, b)
        op = out["op"].argmax(-1)
        keys = out["keys"] > 0
        for i in range(len(op)):
            hit = int(op[i]) == int(b["op"][i])
            ok_op += hit
            ok_plan += hit and bool((keys[i] == (b["keys"][i] > 0.5)).all())
    n = max(len(cached), 1)
    return {"op": ok_op / n, "plan": ok_plan / n, "n": len(cached)}


def train_planner(
    planner: Planner,
    train: list[PlanExample],
    valid: list[PlanExample],
    out: Path,
    config: PlanTrainConfig,
    resume: bool = False,
) -> dict:
    """Train ``planner`` in place; returns the per-epoch log (also written to ``out/log.json``)."""
    out.mkdir(parents=True, exist_ok=True)
    train_c, valid_c = cached_states(
        out, resume, lambda rows, desc: cache_lower(planner, rows, desc=desc), train, valid
    )
    log_path = out / "log.json"
    log = json.loads(log_path.read_text()) if resume and log_path.is_file() else []
    start = len(log)
    if start:  # the saved adapter replaces the fresh one: collect the parameters to train after this
        saved = Planner.from_pretrained(out / f"epoch-{start}", planner.model)
        planner.head.load_state_dict(saved.head.state_dict())
    dec_params = list(top.params(planner.model, ADAPTER).values())
    for p in dec_params:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(
        [
            {"params": dec_params, "lr": config.lr},
            {"params": planner.head.parameters(), "lr": config.head_lr},
        ],
        weight_decay=0.01,
    )
    steps = config.epochs * ((len(train_c) + config.batch_size - 1) // config.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=[config.lr, config.head_lr], total_steps=steps, pct_start=0.1
    )
    for _ in range(start * (steps // config.epochs)):
        sched.step()
    rng = random.Random(config.seed)
    for epoch in range(start, config.epochs):
        planner.head.train()
        planner.model.decoder.train()
        order = list(range(len(train_c)))
        rng.shuffle(order)
        t0, total = time.time(), 0.0
        bar = tqdm(range(0, len(order), config.batch_size), desc=f"epoch {epoch + 1}", mininterval=10)
        for s in bar:
            b = collate_cached([train_c[i] for i in order[s : s + config.batch_size]])
            loss = plan_losses(forward_cached(planner, b), b["op"], b["keys"], b["goal"], b["seqs"])
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(dec_params + list(planner.head.parameters()), 1.0)
            opt.step()
            sched.step()
            total += loss.item()
            bar.set_postfix(loss=f"{loss.item():.3f}")
        acc = accuracy(planner, valid_c)
        entry = {
            "epoch": epoch + 1,
            "loss": total / len(bar),
            "valid": acc,
            "seconds": round(time.time() - t0),
        }
        record_epoch(out, log, entry, planner.save_pretrained)
    return keep_best(out, log, lambda e: e["valid"]["plan"])


def cached_states(out: Path, resume: bool, cache, train, valid) -> tuple[list[dict], list[dict]]:
    """``cache(rows, desc)`` of the train and validation examples, computed once and kept in ``out/cache.pt``
    (``resume`` reads it back)."""
    path = out / "cache.pt"
    if resume and path.is_file():
        cached = torch.load(path)
        return cached["train"], cached["valid"]
    train_c, valid_c = cache(train, "cache train"), cache(valid, "cache valid")
    torch.save({"train": train_c, "valid": valid_c}, path)
    return train_c, valid_c


def record_epoch(out: Path, log: list[dict], entry: dict, save) -> None:
    """Log an epoch (stdout and ``out/log.json``) and save its adapter to ``out/epoch-N`` with ``save``."""
    log.append(entry)
    print(json.dumps(entry), flush=True)
    save(out / f"epoch-{entry['epoch']}")
    (out / "log.json").write_text(json.dumps(log, indent=1))


def keep_best(out: Path, log: list[dict], score) -> dict:
    """Copy the epoch with the highest ``score(entry)`` to ``out/best``."""
    best = max(log, key=score)
    shutil.rmtree(out / "best", ignore_errors=True)
    shutil.copytree(out / f"epoch-{best['epoch']}", out / "best")
    return {"log": log, "best_epoch": best["epoch"]}


def run(
    model_dir: Path,
    data_dir: Path,
    out: Path,
    n_train: int = 5000,
    n_valid: int = 500,
    layers: int = 6,
    train_config: PlanTrainConfig | None = None,
    resume: bool = False,
) -> dict:
    """Build a planner for the model in ``model_dir``, generate its planning data from ``data_dir`` (training
    sequences only), train it and save the best epoch to ``out/best``."""
    from agrochat.bridge import DnaLanguageModel
    from agrochat.data_gen.planning import generate, load_pools

    model = DnaLanguageModel.from_pretrained(model_dir).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    pools = load_pools(data_dir)
    keys = list(model.config.numeric_head.keys)
    train = generate(keys, pools, n_train, seed=0)
    valid = generate(keys, pools, n_valid, seed=1)
    planner = Planner.build(model, PlannerConfig(keys=keys, ops=list(OPS), goals=list(GOALS), layers=layers))
    return train_planner(planner, train, valid, out, train_config or PlanTrainConfig(), resume=resume)
