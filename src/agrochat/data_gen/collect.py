"""Load every source, remove leaks, assign splits and join tissue expression: the measurement table."""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ..domain import tasks as T
from . import sources as S
from .errors import BadRowLog, MissingSourceError
from .sources import Measurement
from .splits import SplitConfig, SplitReport, assign_splits, check_disjoint


@dataclass
class CollectReport:
    """What collection did: missing optional sources, split report, bad rows, rows per (key, split)."""

    missing: list[str] = field(default_factory=list)
    split: SplitReport = field(default_factory=SplitReport)
    bad: BadRowLog = field(default_factory=BadRowLog)
    rows: Counter = field(default_factory=Counter)


def _limit(rows: list[Measurement], limit: int) -> list[Measurement]:
    """Keep at most ``limit`` groups per (key, split), chosen by a hash of the group id (deterministic)."""
    groups: dict[tuple[str, str], set[str]] = defaultdict(set)
    for m in rows:
        groups[(m.key, m.split)].add(m.group)
    keep: set[tuple[str, str, str]] = set()
    for (key, split), gs in groups.items():
        ranked = sorted(gs, key=lambda g: hashlib.sha1(g.encode()).hexdigest())[:limit]
        keep.update((key, split, g) for g in ranked)
    return [m for m in rows if (m.key, m.split, m.group) in keep]


def collect_measurements(
    data_dir: Path,
    log: BadRowLog | None = None,
    split_config: SplitConfig | None = None,
    pgb_dir: Path | None = None,
    limit: int | None = None,
) -> tuple[list[Measurement], CollectReport]:
    """All measurements with final splits. Sources absent from ``data_dir`` are listed in ``report.missing``."""
    report = CollectReport(bad=log or BadRowLog())
    log = report.bad
    rows: list[Measurement] = []
    loaders = [
        ("promoter test sets", lambda: S.load_promoter_tests(data_dir, log)),
        ("promoter training rows", lambda: S.load_promoter_train(data_dir, log, pgb_dir)),
        ("synthetic promoters", lambda: S.load_synthetic(data_dir, log)),
        ("natural promoters in other conditions", lambda: S.load_other_conditions(data_dir, log)),
        ("terminators", lambda: S.load_terminators(data_dir, log)),
    ]
    for name, load in loaders:
        try:
            rows.extend(load())
        except MissingSourceError as exc:
            report.missing.append(f"{name}: {exc}")
    if not rows:
        raise MissingSourceError(f"no source tables found under {data_dir}: " + "; ".join(report.missing))
    rows, report.split = assign_splits(rows, split_config)
    atlases = []
    for species in S.ATLAS:
        try:
            atlases.append(S.load_atlas(data_dir, species, log))
        except MissingSourceError as exc:
            report.missing.append(f"{species} expression atlas: {exc}")
    rows.extend(S.expression_measurements(rows, atlases))
    if limit is not None:
        promoters = {m.key for m in rows if T.split_key(m.key)[0] != T.TISSUE}
        base = _limit([m for m in rows if m.key in promoters], limit)
        kept_seqs = {m.sequence for m in base}
        tissue = [m for m in rows if m.key not in promoters and m.sequence in kept_seqs]
        rows = base + tissue
    problems = check_disjoint(rows)
    if problems:
        raise AssertionError("split invariant violated: " + "; ".join(problems[:5]))
    for m in rows:
        report.rows[(m.key, m.split)] += 1
    return rows, report
