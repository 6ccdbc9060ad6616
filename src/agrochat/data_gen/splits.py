"""Final train / validation / test assignment with leak removal.

Rules (applied per sequence family, ``promoter`` and ``terminator``):

1. Rows published as ``test`` stay test (the benchmark test sets are kept in full).
2. A non-test row whose sequence or any gene id appears in ANY test row of the family is dropped
   (this removes the ~750 cross-system promoter leaks of the Jores split and, for terminators, training
   constructs of a gene whose other cleavage site or variant is in the test set).
3. The remaining rows are joined into groups (connected components of shared gene ids and identical
   sequences); a group goes to validation when ``sha256(salt:group)`` falls in the lowest
   ``validation_fraction`` of the hash range, else to train. So a gene is never in two splits and the
   carve does not depend on the seed or on row order.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from agrochat.errors import ConfigError

from .sources import Measurement


@dataclass
class SplitConfig:
    """How validation is carved from train.

    Attributes:
        validation_fraction: share of training groups (genes) moved to validation, in [0, 0.5].
        salt: string mixed into the hash; change it to draw a different (still deterministic) carve.
    """

    validation_fraction: float = 0.1
    salt: str = "agrochat-split-v1"

    def __post_init__(self) -> None:
        if not 0.0 <= self.validation_fraction <= 0.5:
            raise ConfigError(f"validation_fraction must be in [0, 0.5], got {self.validation_fraction}")
        if not self.salt:
            raise ConfigError("salt must be non-empty")


@dataclass
class SplitReport:
    """What the split step did: dropped rows per (key, reason) and kept rows per (key, split)."""

    dropped: Counter = field(default_factory=Counter)
    kept: Counter = field(default_factory=Counter)


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            if rb < ra:
                ra, rb = rb, ra
            self.parent[rb] = ra


def hash_fraction(salt: str, group: str) -> float:
    """Deterministic value in [0, 1) for a group id."""
    digest = hashlib.sha256(f"{salt}:{group}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_splits(
    rows: list[Measurement], config: SplitConfig | None = None
) -> tuple[list[Measurement], SplitReport]:
    """Return the kept rows with ``split`` and ``group`` set, and a report of what was dropped."""
    config = config or SplitConfig()
    report = SplitReport()
    kept: list[Measurement] = []
    families: dict[str, list[Measurement]] = defaultdict(list)
    for m in rows:
        families[m.kind].append(m)
    for family in sorted(families):
        members = families[family]
        test_seqs = {m.sequence for m in members if m.official_split == "test"}
        test_genes = {g for m in members if m.official_split == "test" for g in m.genes}
        survivors = []
        for m in members:
            if m.official_split != "test":
                if m.sequence in test_seqs:
                    report.dropped[(m.key, "sequence in a test set")] += 1
                    continue
                if any(g in test_genes for g in m.genes):
                    report.dropped[(m.key, "gene in a test set")] += 1
                    continue
            survivors.append(m)
        uf = _UnionFind()
        for m in survivors:
            # genes are prefixed "g:" and sequences "s:" so the smallest member of a component is a gene id
            uf.union(f"g:{m.genes[0]}", f"s:{m.sequence}")
            for g in m.genes[1:]:
                uf.union(f"g:{m.genes[0]}", f"g:{g}")
        for m in survivors:
            m.group = uf.find(f"g:{m.genes[0]}")[2:]
            if m.official_split == "test":
                m.split = "test"
            elif hash_fraction(config.salt, m.group) < config.validation_fraction:
                m.split = "validation"
            else:
                m.split = "train"
            report.kept[(m.key, m.split)] += 1
            kept.append(m)
    return kept, report


def check_disjoint(rows: list[Measurement]) -> list[str]:
    """Problems found: a gene or sequence of one family in two splits (empty list = fine)."""
    where: dict[tuple[str, str], set[str]] = defaultdict(set)
    for m in rows:
        for g in m.genes:
            where[(m.kind, "gene " + g)].add(m.split)
        where[(m.kind, "sequence " + m.sequence)].add(m.split)
    return [f"{kind} {what[:40]} in splits {sorted(s)}" for (kind, what), s in where.items() if len(s) > 1]
