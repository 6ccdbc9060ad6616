"""Training data: the rows a run trains on (:class:`TrainingData`) and their encoding into batches of tensors
(:class:`StageData`) for one stage and split.

Regression rows (stage kind ``regress``) become padded DNA ids plus flat per-target tensors; conversations (kind
``conversation``) become the processor's padded text + DNA batches.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from agrochat.bridge.model import DnaLanguageModel
from agrochat.bridge.processor import Example

from .config import REGRESS, StageConfig

RegressionItem = tuple[list[int], list[tuple[int, float]]]
"""A regression sequence encoded: its DNA token ids and its (key index, normalised target) pairs."""


@dataclass
class RegressionRow:
    """One (sequence, task/tissue key, label) row for the direct regression stage."""

    sequence: str
    key: str
    target: float


@dataclass
class TrainingData:
    """Rows per split: ``regression`` for stage regress, ``conversations`` (data_gen rows) for align/instruct."""

    regression: dict[str, list[RegressionRow]]
    conversations: dict[str, list[dict]]
    norm: dict[str, list[float]] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    registry: object | None = None  # data_gen Registry, saved beside the final model


def stage_rows(data: TrainingData, stage: StageConfig, split: str, keys: set[str]) -> list:
    """The rows of ``split`` that ``stage`` trains on, restricted to the model's keys: regression rows for a
    regress stage, conversations (all of whose targets are known keys) otherwise."""
    if stage.kind == REGRESS:
        return [r for r in data.regression.get(split, []) if r.key in keys]
    return [r for r in data.conversations.get(split, []) if all(k in keys for k in r["target_keys"])]


class StageData:
    """Encoded rows of one stage and split, with their lengths for token-budget batching.

    Regression rows are grouped by sequence (one encoder pass serves every task/tissue label of a sequence).
    With ``limit``, a deterministic subset is drawn, balanced across tasks when ``balance`` is set. With
    ``augment``, the stage's augmentations (frame shift, shift, reverse complement) apply to regression batches.
    """

    def __init__(
        self,
        model: DnaLanguageModel,
        stage: StageConfig,
        rows: list,
        seed: int,
        limit: int,
        show: bool,
        balance: bool = False,
        augment: bool = False,
    ) -> None:
        self.kind = stage.kind
        self.seed = seed
        self.frame_shift = stage.frame_shift if augment else 0
        self.shift = stage.shift if augment else 0
        self.reverse_complement = stage.reverse_complement and augment
        self.augmented = bool(self.frame_shift or self.shift or self.reverse_complement)
        self.sequences: list[str] = []  # regression sequences by item (kept only when augmented)
        self.lm_loss = stage.lm_loss
        self.task_weighting = stage.task_weighting
        self.model = model
        proc = model.processor
        self.items: list[RegressionItem] | list[Example] = []
        self.task_of = [k.split("/")[0] for k in model.config.numeric_head.keys]  # key index -> task
        if self.kind == REGRESS:
            groups: dict[str, list[RegressionRow]] = {}
            for r in rows:
                groups.setdefault(r.sequence, []).append(r)
            rows = list(groups.values())
        rows = _subset(rows, limit, seed, balance, self.kind)
        for r in tqdm(rows, desc=f"encode {stage.name}", disable=not show or len(rows) < 2000, leave=False):
            if self.kind == REGRESS:
                targets = []
                for row in r:
                    mean, std = model.config.numeric_head.stats(row.key)
                    targets.append((proc.key_index[row.key], (row.target - mean) / std))
                self.items.append((proc.dna_token_ids(r[0].sequence), targets))
                if self.augmented:
                    self.sequences.append(r[0].sequence)
            else:
                ex = proc.encode(r["messages"], r["sequences"], r["targets"], r["target_keys"])
                if not self.lm_loss:  # causal decoder: tokens after the last <num> cannot change the numbers
                    cut = max(i for i, t in enumerate(ex.input_ids) if t == proc.num_token_id) + 1
                    ex.input_ids, ex.labels = ex.input_ids[:cut], ex.labels[:cut]
                self.items.append(ex)
        self.lengths = [len(it[0]) if self.kind == REGRESS else len(it.input_ids) for it in self.items]

    def _augment(self, idx: list[int], epoch: int) -> list[list[int]]:
        """Ids of the batch's sequences after this epoch's augmentation: 5' frame shift, shift from either end,
        reverse complement (deterministic per seed, epoch and batch, so a resumed run sees the same batches)."""
        rng = np.random.default_rng([self.seed, epoch, idx[0]])
        out = []
        for i in idx:
            seq = self.sequences[i]
            if self.frame_shift:
                seq = seq[int(rng.integers(0, self.frame_shift + 1)) :]
            if self.shift:
                s = int(rng.integers(-self.shift, self.shift + 1))
                seq = seq[s:] if s > 0 else seq[: len(seq) + s] if s < 0 else seq
            if self.reverse_complement and rng.random() < 0.5:
                seq = reverse_complement(seq)
            out.append(
                self.items[i][0] if seq == self.sequences[i] else self.model.processor.dna_token_ids(seq)
            )
        return out

    def collate(self, idx: list[int], epoch: int | None = None) -> dict[str, torch.Tensor]:
        """One batch; augmented (see :meth:`_augment`) when the stage asks for it and an ``epoch`` is given.

        Regression batches: ``dna_input_ids``/``dna_attention_mask`` (B, T) for the B sequences, and per target
        (M of them) ``num_row_index`` (its sequence), ``num_key_ids``, ``num_targets`` (normalised) and, with
        task weighting, ``num_weights``, all (M,).
        """
        if self.kind != REGRESS:
            batch = self.model.processor.collate([self.items[i] for i in idx])
            if not self.lm_loss:
                batch.pop("labels")
            return batch
        if self.augmented and epoch is not None:
            tokens = self._augment(idx, epoch)
        else:
            tokens = [self.items[i][0] for i in idx]
        ids, mask = self.model.processor.pad_dna(tokens)  # (B, T), (B, T)
        flat = [(j, k, y) for j, i in enumerate(idx) for k, y in self.items[i][1]]  # M targets
        batch = {
            "dna_input_ids": ids,
            "dna_attention_mask": mask,
            "num_row_index": torch.tensor([f[0] for f in flat], dtype=torch.long),  # (M,)
            "num_key_ids": torch.tensor([f[1] for f in flat], dtype=torch.long),  # (M,)
            "num_targets": torch.tensor([f[2] for f in flat], dtype=torch.float32),  # (M,)
        }
        if self.task_weighting:
            batch["num_weights"] = torch.tensor(
                [w for i in idx for w in self._weights(i)], dtype=torch.float32
            )  # (M,)
        return batch

    def _weights(self, i: int) -> list[float]:
        """1 / (the sequence's number of targets of the same task), per target of item ``i``."""
        tasks = [self.task_of[k] for k, _ in self.items[i][1]]
        return [1.0 / tasks.count(t) for t in tasks]


_COMPLEMENT = str.maketrans("ACGTN", "TGCAN")


def reverse_complement(seq: str) -> str:
    """The reverse complement of an upper-case ACGTN sequence."""
    return seq.translate(_COMPLEMENT)[::-1]


def _subset(rows: list, limit: int, seed: int, balance: bool, kind: str) -> list:
    """Deterministic subset of ``limit`` rows; with ``balance`` an equal share per task (as far as rows allow).
    ``rows``: groups of regression rows (kind ``regress``) or conversations."""
    if not limit or len(rows) <= limit:
        return rows
    rng = np.random.default_rng(seed)
    if not balance:
        return [rows[i] for i in np.sort(rng.choice(len(rows), size=limit, replace=False))]
    by_task: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        task = r[0].key.split("/")[0] if kind == REGRESS else r["task"]
        by_task.setdefault(task, []).append(i)
    chosen: list[int] = []
    tasks = sorted(by_task, key=lambda t: len(by_task[t]))
    for n, task in enumerate(tasks):  # small tasks give their unused share to the larger ones
        share = (limit - len(chosen)) // (len(tasks) - n)
        pool = by_task[task]
        chosen += pool if len(pool) <= share else rng.choice(pool, size=share, replace=False).tolist()
    return [rows[i] for i in sorted(chosen)]
