"""Train the decoder's planner (:mod:`agrochat.bridge.planner`) on planning data (:mod:`agrochat.data_gen.planning`).

The encoder, projector and decoder are frozen, so the decoder states the plan head reads are computed once per
example and cached (``cache.pt`` in the output folder); each step then runs the plan head only. After every epoch
the planner is scored on generated validation conversations (another seed) and saved to ``<out>/epoch-N``; the
epoch with the best validation accuracy is copied to ``<out>/best``. ``resume`` continues after the last saved
epoch.
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

from agrochat.bridge.planner import Planner, PlannerConfig, choose_keys, kind_features, plan_losses
from agrochat.data_gen.planning import PlanExample
from agrochat.domain.operations import GOALS, NUMBER_OPS, OPS, plan_group
from agrochat.errors import InputError


@dataclass
class PlanTrainConfig:
    """epochs, batch_size, lr (peak of a one-cycle schedule), seed of the example order and initialisation."""

    epochs: int = 12
    batch_size: int = 32
    lr: float = 1e-3
    seed: int = 0
    compute_dtype: str = "float32"
    """The writer's forward and backward passes (on the CPU, where its trainer builds its batches) under autocast
    to ``bfloat16`` (for CPUs with AVX512-BF16: 2.3x faster per step on such a CPU, the same loss to 1e-3 on the
    batch checked) or plain ``float32``; the adapter's weights and the optimiser stay float32."""

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise InputError("epochs and batch_size must be >= 1 and the learning rate > 0")
        if self.compute_dtype not in ("float32", "bfloat16"):
            raise InputError(f"compute_dtype must be float32 or bfloat16, not {self.compute_dtype!r}")


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


def group_target(planner: Planner, keys: torch.Tensor) -> int:
    """The group class of a multi-hot key target (-100 without keys)."""
    named = keys.nonzero().flatten().tolist()
    cfg = planner.config
    return cfg.group_names.index(cfg.groups[named[0]]) if named else -100


def cache_lower(
    planner: Planner, examples: list[PlanExample], batch_size: int = 16, desc: str = "cache"
) -> list[dict]:
    """Per example: the decoder states the head reads (L, D) in float16, with what a batch needs to be rebuilt."""
    layer = planner.config.layer
    return cache_states(planner, examples, [layer], batch_size, desc)[layer]


@torch.no_grad()
def cache_states(
    planner: Planner,
    examples: list[PlanExample],
    layers: list[int],
    batch_size: int = 16,
    desc: str = "cache",
) -> dict[int, list[dict]]:
    """:func:`cache_lower` for several layers in one pass of the decoder (layer -> rows)."""
    encoded = [planner.encode(ex.messages, ex.sequences) for ex in examples]
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i].input_ids))
    out: dict[int, list[dict]] = {n: [{} for _ in examples] for n in layers}
    for s in tqdm(range(0, len(order), batch_size), desc=desc, mininterval=5):
        idx = order[s : s + batch_size]
        b = planner.batch([encoded[i] for i in idx])
        states = planner.states_at(b, layers)  # layer -> (B, L, D)
        for j, i in enumerate(idx):
            n = len(encoded[i].input_ids)
            common = {
                "seq_index": b["seq_index"][j, :n],
                "n_seqs": b["n_seqs"][j],
                "kinds": kind_features(planner.kind, examples[i].sequences),
                **targets(planner, examples[i]),
            }
            for layer, h in states.items():
                out[layer][i] = {"h": h[j, :n].to(torch.float16), **common}
    return out


def collate_cached(planner: Planner, rows: list[dict]) -> dict:
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
        "group": torch.tensor([group_target(planner, r["keys"]) for r in rows]),
        "kinds": torch.stack([r.get("kinds", torch.zeros(2)) for r in rows]),  # (B, 2)
        "seqs": [r["seqs"] for r in rows],
    }


def forward_cached(planner: Planner, b: dict) -> dict:
    return planner.logits(b["h"], b)


@torch.no_grad()
def accuracy(planner: Planner, cached: list[dict], batch_size: int = 32) -> dict:
    """Op accuracy, and op + exact key set accuracy (keys as :func:`choose_keys` picks them), on cached examples."""
    planner.head.eval()
    cfg = planner.config
    ok_op = ok_plan = 0
    for s in range(0, len(cached), batch_size):
        b = collate_cached(planner, cached[s : s + batch_size])
        out = forward_cached(planner, b)
        op = out["op"].argmax(-1)
        groups, keys = out["group"].softmax(-1), out["keys"].sigmoid()
        for i in range(len(op)):
            hit = int(op[i]) == int(b["op"][i])
            want = {cfg.keys[j] for j in b["keys"][i].nonzero().flatten().tolist()}
            group_p = dict(zip(cfg.group_names, groups[i].tolist(), strict=True))
            got = set(choose_keys(group_p, dict(zip(cfg.keys, keys[i].tolist(), strict=True)), cfg.group_of))
            ok_op += hit
            ok_plan += hit and (not want or got == want)
    n = max(len(cached), 1)
    return {"op": ok_op / n, "plan": ok_plan / n, "n": len(cached)}


def train_planner(
    planner: Planner,
    train: list[PlanExample],
    valid: list[PlanExample],
    out: Path,
    config: PlanTrainConfig,
    resume: bool = False,
    written: tuple[list[PlanExample], list[PlanExample]] | None = None,
) -> dict:
    """Train ``planner`` in place; returns the per-epoch log (also written to ``out/log.json``). ``written``:
    examples from phrasing sets written by people (train, validation; their states cached apart in
    ``cache-written.pt``): the train part joins the training examples, and the epoch kept is the one planning the
    validation part best."""
    out.mkdir(parents=True, exist_ok=True)
    cache = lambda rows, desc: cache_lower(planner, rows, desc=desc)  # noqa: E731
    train_c, valid_c = cached_states(out, resume, cache, train, valid)
    pairs = [(train_c, train), (valid_c, valid)]
    written_c: list[dict] = []
    if written is not None:
        extra_c, written_c = cached_states(out, resume, cache, *written, name="cache-written.pt")
        pairs += [(extra_c, written[0]), (written_c, written[1])]
        train_c = train_c + extra_c
    if planner.kind is not None:  # a cache made without the kind classifier: add its features
        for rows, examples in pairs:
            add_kinds(planner, rows, examples)
    log_path = out / "log.json"
    log = json.loads(log_path.read_text()) if resume and log_path.is_file() else []
    start = len(log)
    if start:
        saved = Planner.from_pretrained(out / f"epoch-{start}", planner.model)
        planner.head.load_state_dict(saved.head.state_dict())
    opt = torch.optim.AdamW(planner.head.parameters(), lr=config.lr, weight_decay=0.01)
    steps = config.epochs * ((len(train_c) + config.batch_size - 1) // config.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=steps, pct_start=0.1)
    for _ in range(start * (steps // config.epochs)):
        sched.step()
    rng = random.Random(config.seed)
    for epoch in range(config.epochs):
        order = list(range(len(train_c)))
        rng.shuffle(order)  # the same orders with or without a resume
        if epoch < start:
            continue
        planner.head.train()
        t0, total = time.time(), 0.0
        bar = tqdm(range(0, len(order), config.batch_size), desc=f"epoch {epoch + 1}", mininterval=10)
        for s in bar:
            b = collate_cached(planner, [train_c[i] for i in order[s : s + config.batch_size]])
            loss = plan_losses(forward_cached(planner, b), b)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(planner.head.parameters(), 1.0)
            opt.step()
            sched.step()
            total += loss.item()
            bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
        entry = {"epoch": epoch + 1, "loss": total / len(bar), "valid": accuracy(planner, valid_c)}
        if written_c:
            entry["valid_written"] = accuracy(planner, written_c)
        entry["seconds"] = round(time.time() - t0)
        record_epoch(out, log, entry, planner.save_pretrained)
    return keep_best(out, log, lambda e: e.get("valid_written", e["valid"])["plan"])


def add_kinds(planner: Planner, rows: list[dict], examples: list[PlanExample]) -> None:
    """Give cached rows without kind features those of their examples (the examples the cache was made from)."""
    if len(rows) != len(examples):
        raise InputError(f"the cache has {len(rows)} rows for {len(examples)} examples")
    for r, ex in zip(rows, examples, strict=True):
        if r["n_seqs"] != len(ex.sequences) or r["op"] != planner.config.ops.index(ex.op):
            raise InputError("the cached rows were made from other examples: recache (no --resume)")
        if not r.get("kinds", torch.zeros(2)).any():
            r["kinds"] = kind_features(planner.kind, ex.sequences)


def cached_states(
    out: Path, resume: bool, cache, train, valid, name: str = "cache.pt"
) -> tuple[list[dict], list[dict]]:
    """``cache(rows, desc)`` of the train and validation examples, computed once and kept in ``out/<name>``
    (``resume`` reads it back)."""
    path = out / name
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


def cache_layers(
    model_dir: Path, data_dir: Path, out: Path, layers: list[int], n_train: int = 5000, n_valid: int = 500
) -> dict[int, Path]:
    """Cache the planning data's decoder states at several ``layers`` in one pass, one run folder per layer
    (``out/layer-N/cache.pt``): ``run(..., layer=N, resume=True)`` on a folder then trains on it, so the layer
    the planner reads is chosen on generated validation conversations without running the decoder again."""
    from agrochat.bridge import DnaLanguageModel
    from agrochat.data_gen.planning import generate, load_pools

    model = DnaLanguageModel.from_pretrained(model_dir).eval()
    pools = load_pools(data_dir)
    keys = list(model.config.numeric_head.keys)
    train = generate(keys, pools, n_train, seed=0)
    valid = generate(keys, pools, n_valid, seed=1)
    planner = Planner.build(model, _config(keys, max(layers)))
    tr, va = (
        cache_states(planner, train, layers, desc="cache train"),
        cache_states(planner, valid, layers, desc="cache valid"),
    )
    folders = {}
    for n in layers:
        folders[n] = out / f"layer-{n}"
        folders[n].mkdir(parents=True, exist_ok=True)
        torch.save({"train": tr[n], "valid": va[n]}, folders[n] / "cache.pt")
    return folders


def _config(keys: list[str], layer: int) -> PlannerConfig:
    return PlannerConfig(
        keys=keys, ops=list(OPS), goals=list(GOALS), groups=[plan_group(k) for k in keys], layer=layer
    )


def run(
    model_dir: Path,
    data_dir: Path,
    out: Path,
    n_train: int = 5000,
    n_valid: int = 500,
    layer: int = 24,
    train_config: PlanTrainConfig | None = None,
    resume: bool = False,
    kind_dir: Path | None = None,
    written: tuple[list[PlanExample], list[PlanExample]] | None = None,
) -> dict:
    """Build a planner for the model in ``model_dir``, generate its planning data from ``data_dir`` (training
    sequences only), train it (with ``written``: examples from phrasing sets written by people, train and
    validation) and save the best epoch to ``out/best``."""
    from agrochat.bridge import DnaLanguageModel
    from agrochat.data_gen.planning import generate, load_pools

    model = DnaLanguageModel.from_pretrained(model_dir).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    pools = load_pools(data_dir)
    keys = list(model.config.numeric_head.keys)
    train = generate(keys, pools, n_train, seed=0)
    valid = generate(keys, pools, n_valid, seed=1)
    torch.manual_seed((train_config or PlanTrainConfig()).seed)
    kind = None
    if kind_dir is not None:
        from agrochat.bridge.kind import KindClassifier

        kind = KindClassifier.from_pretrained(kind_dir)
    planner = Planner.build(model, _config(keys, layer), kind)
    return train_planner(
        planner, train, valid, out, train_config or PlanTrainConfig(), resume=resume, written=written
    )
