"""Train the decoder's writer (:mod:`agrochat.bridge.writer`) on (question, evidence, answer) examples
(:mod:`agrochat.data_gen.writing`).

The decoder's lower layers run without an adapter, so their states for every teacher-forced example are computed
once and cached (``cache.pt``); each step runs the adapted top layers and the language-model head on the answer
tokens only. After every epoch the writer is saved to ``<out>/epoch-N`` with its loss on validation examples
(another seed); the best epoch is copied to ``<out>/best``. ``resume`` continues after the last saved epoch.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from agrochat.bridge import top_adapter as top
from agrochat.bridge.writer import ADAPTER, Writer

from .plan import PlanTrainConfig, cached_states, keep_best, record_epoch


@torch.no_grad()
def cache_lower(writer: Writer, examples, batch_size: int = 16, desc: str = "cache") -> list[dict]:
    """Per example: the lower layers' states (L, D) in float16 and the labels (L,)."""
    pairs = [writer.example(ex.question, ex.evidence.text(), ex.answer) for ex in examples]
    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]))
    emb = top.peft_decoder(writer.model).get_base_model().get_input_embeddings()
    pad = writer.tokenizer.pad_token_id or 0
    out: list[dict] = [{} for _ in pairs]
    for s in tqdm(range(0, len(order), batch_size), desc=desc, mininterval=10):
        idx = order[s : s + batch_size]
        L = max(len(pairs[i][0]) for i in idx)
        ids = torch.full((len(idx), L), pad, dtype=torch.long)
        mask = torch.zeros((len(idx), L), dtype=torch.long)
        for j, i in enumerate(idx):
            n = len(pairs[i][0])
            ids[j, :n], mask[j, :n] = torch.tensor(pairs[i][0]), 1
        with top.active(writer.model, None):
            embeds = emb(ids)  # (B, L, D): base token embeddings
        h = top.lower_states(writer.model, ADAPTER, writer.config.layers, embeds, mask)
        for j, i in enumerate(idx):
            n = len(pairs[i][0])
            out[i] = {"h": h[j, :n].to(torch.float16), "labels": torch.tensor(pairs[i][1])}
    return out


def _collate(rows: list[dict]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    L = max(r["h"].shape[0] for r in rows)
    h = torch.zeros(len(rows), L, rows[0]["h"].shape[1])
    mask = torch.zeros(len(rows), L, dtype=torch.long)
    labels = torch.full((len(rows), L), -100, dtype=torch.long)
    for i, r in enumerate(rows):
        n = r["h"].shape[0]
        h[i, :n], mask[i, :n], labels[i, :n] = r["h"].float(), 1, r["labels"]
    return h, mask, labels


def _loss(writer: Writer, rows: list[dict], dtype: str = "float32") -> torch.Tensor:
    h, mask, labels = _collate(rows)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == "bfloat16"):
        states = top.upper_states(writer.model, ADAPTER, writer.config.layers, h, mask)  # (B, L, D)
        target = labels[:, 1:]  # next-token targets
        sel = target != -100  # (B, L-1)
        lm_head = top.peft_decoder(writer.model).get_base_model().lm_head
        logits = lm_head(states[:, :-1][sel])  # (N, V): answer positions only
    return F.cross_entropy(logits.float(), target[sel])


def train_writer(
    writer: Writer, train, valid, out: Path, config: PlanTrainConfig, resume: bool = False
) -> dict:
    """Train ``writer`` in place; returns the per-epoch log (also ``out/log.json``)."""
    out.mkdir(parents=True, exist_ok=True)
    train_c, valid_c = cached_states(
        out, resume, lambda rows, desc: cache_lower(writer, rows, desc=desc), train, valid
    )
    params = list(top.params(writer.model, ADAPTER).values())
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=0.01)
    per_epoch = (len(train_c) + config.batch_size - 1) // config.batch_size
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=config.lr, total_steps=config.epochs * per_epoch, pct_start=0.1
    )
    log_path = out / "log.json"
    log = json.loads(log_path.read_text()) if resume and log_path.is_file() else []
    start = len(log)
    if start:
        top.load(writer.model, ADAPTER, out / f"epoch-{start}")
        params = list(top.params(writer.model, ADAPTER).values())
        for p in params:
            p.requires_grad_(True)
        opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=0.01)
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=config.lr, total_steps=config.epochs * per_epoch, pct_start=0.1
        )
        for _ in range(start * per_epoch):
            sched.step()
    rng = random.Random(config.seed)
    dec = top.peft_decoder(writer.model)
    for epoch in range(start, config.epochs):
        dec.train()
        order = list(range(len(train_c)))
        rng.shuffle(order)
        t0, total = time.time(), 0.0
        bar = tqdm(range(0, len(order), config.batch_size), desc=f"epoch {epoch + 1}", mininterval=10)
        for s in bar:
            loss = _loss(writer, [train_c[i] for i in order[s : s + config.batch_size]], config.compute_dtype)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            total += loss.item()
            bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
        dec.eval()
        with torch.no_grad():
            vl = [
                _loss(writer, valid_c[s : s + 32], config.compute_dtype).item()
                for s in range(0, len(valid_c), 32)
            ]
        entry = {
            "epoch": epoch + 1,
            "loss": total / len(bar),
            "valid_loss": sum(vl) / max(len(vl), 1),
            "seconds": round(time.time() - t0),
        }
        record_epoch(out, log, entry, writer.save_pretrained)
    return keep_best(out, log, lambda e: -e["valid_loss"])


def run(
    model_dir: Path,
    out: Path,
    n_train: int = 1200,
    n_valid: int = 150,
    layers: int = 6,
    train_config: PlanTrainConfig | None = None,
    resume: bool = False,
    variety: int = 0,
    init: Path | None = None,
) -> dict:
    """Build a writer for the model in ``model_dir``, generate its examples, train it and save the best epoch to
    ``out/best``. ``variety``: how many wordings of each answer sentence the examples draw from (0: all;
    :func:`agrochat.data_gen.writing.generate_writing`); ``init``: a saved writer to start from (its layers)."""
    from agrochat.bridge import DnaLanguageModel
    from agrochat.bridge.writer import WriterConfig
    from agrochat.data_gen.writing import generate_writing
    from agrochat.domain.evidence import vocabulary_of
    from agrochat.domain.registry import load_registry

    model = DnaLanguageModel.from_pretrained(model_dir).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    reg = model_dir / "registry.json"
    registry = load_registry(reg if reg.is_file() else None)
    keys = list(model.config.numeric_head.keys)
    train = generate_writing(keys, registry, n_train, seed=0, variety=variety)
    valid = generate_writing(keys, registry, n_valid, seed=1, variety=variety)
    if init is not None:
        writer = Writer.from_pretrained(init, model, compiled=False)
    else:
        writer = Writer.build(model, WriterConfig(layers=layers))
    writer.vocabulary = vocabulary_of(ex.answer for ex in train)
    return train_writer(writer, train, valid, out, train_config or PlanTrainConfig(lr=5e-4), resume=resume)
