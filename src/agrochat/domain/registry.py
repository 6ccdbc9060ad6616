"""Task / tissue registry: what every task key means and how its labels are distributed.

The registry is JSON-serialisable (a model checkpoint stores it). ``load_registry()`` without a path loads
the copy shipped in ``resources/registry.json``, built from the real training labels, so inference works
without the source data.
"""

from __future__ import annotations

import bisect
import json
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError, UnknownTaskError
from . import tasks as T
from .paths import DEFAULT_REGISTRY_PATH

REGISTRY_VERSION = 1
N_QUANTILES = 101

TASK_ALIASES = {
    "promoter": T.PROMOTER,
    "promoters": T.PROMOTER,
    "promoter strength": T.PROMOTER,
    "terminator": T.TERMINATOR,
    "terminators": T.TERMINATOR,
    "terminator strength": T.TERMINATOR,
    "synthetic": T.SYNTHETIC,
    "synthetic promoter": T.SYNTHETIC,
    "synthetic promoters": T.SYNTHETIC,
    "natural": T.NATURAL,
    "natural promoter": T.NATURAL,
    "natural promoters": T.NATURAL,
    "tissue": T.TISSUE,
    "expression": T.TISSUE,
    "gene expression": T.TISSUE,
    "tissue expression": T.TISSUE,
}
SYSTEM_ALIASES = {
    "leaf": "leaf",
    "leaves": "leaf",
    "tobacco": "leaf",
    "tobacco leaf": "leaf",
    "tobacco leaves": "leaf",
    "benthamiana": "leaf",
    "n. benthamiana": "leaf",
    "nicotiana benthamiana": "leaf",
    "n. benthamiana leaf": "leaf",
    "n. benthamiana leaves": "leaf",
    "nicotiana benthamiana leaves": "leaf",
    "maize protoplast cells": "protoplast",
    "maize leaf protoplast": "protoplast",
    "protoplast": "protoplast",
    "protoplasts": "protoplast",
    "proto": "protoplast",
    "maize protoplast": "protoplast",
    "maize protoplasts": "protoplast",
    "maize leaf protoplasts": "protoplast",
}
SYNTHETIC_DEFAULTS = {"leaf": "leaf_withENH_dark", "protoplast": "proto_withENH_dark"}
# Explicit condition wording (enhancer / light / dark). Only text that names one of these resolves to a
# condition; plain system names ("tobacco leaf") keep their old meaning. Unnamed parts default to the benchmark
# condition: tobacco leaf, with the 35S enhancer, dark.
_NO_ENH = re.compile(
    r"\b(?:no|without|w/o)\s+(?:an?\s+|the\s+|any\s+)?(?:35s\s+)?enhancers?\b"
    r"|\benhancer[- ]?less\b|\bnoenh\b"
)
_WITH_ENH = re.compile(
    r"\b(?:with\s+)?(?:an?\s+|the\s+)?(?:upstream\s+)?(?:35s\s+)?enhancers?(?:\s+construct)?\b"
    r"|\bwithenh\b"
)
_LIGHT = re.compile(r"\b(?:light|lit)\b")
_DARK = re.compile(r"\b(?:dark|darkness)\b")
_FILLER = re.compile(
    r"\b(?:in|the|a|an|and|with|plants|kept|construct|condition|conditions|under|assay)\b|[,;:()]"
)


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("_", " ").strip().lower())


def parse_condition(text: str) -> str | None:
    """Jores condition named by explicit enhancer/light/dark wording, e.g. ``"tobacco leaf, no enhancer, dark"``
    -> ``leaf_noENH_dark``. None when the text names no condition word or has words left that are not a system
    name (``"root without enhancer"``). The result may be a condition that was never measured (proto, light).
    """
    norm = _norm(text)
    no_enh, light, dark = _NO_ENH.search(norm), _LIGHT.search(norm), _DARK.search(norm)
    rest = _NO_ENH.sub(" ", norm)
    with_enh = _WITH_ENH.search(rest)
    if not (no_enh or with_enh or light or dark) or (no_enh and with_enh) or (light and dark):
        return None
    for pattern in (_WITH_ENH, _LIGHT, _DARK, _FILLER):
        rest = pattern.sub(" ", rest)
    rest = " ".join(rest.split())
    system = SYSTEM_ALIASES.get(rest, "leaf" if not rest else None)
    if system is None:
        return None
    where = "leaf" if system == "leaf" else "proto"
    return f"{where}_{'noENH' if no_enh else 'withENH'}_{'light' if light else 'dark'}"


def ordinal(n: int) -> str:
    if 10 <= n % 100 <= 20:
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


@dataclass
class TaskSpec:
    """Everything known about one task key.

    Attributes:
        key: ``"<task>/<tissue>"``.
        task, tissue: the two halves of the key.
        assay, species, system, label_meaning, unit, population, source: plain-text metadata.
        levels: three words for the lower, middle and upper tercile (``weak / moderate / strong``).
        tissues: every tissue (second key half) of this task.
        n, mean, std: count, mean and standard deviation (ddof=1) of the TRAIN labels. ``std`` falls back to
            1.0 when the labels have no spread (n < 2 or all equal), so dividing by it is always safe.
        quantiles: ``N_QUANTILES`` sorted train-label quantiles at 0, 1, ..., 100 percent.
        thresholds: the two tercile cut points separating the three ``levels``.
        gc_median: median GC fraction of the training sequences (None if unknown).
    """

    key: str
    task: str
    tissue: str
    assay: str
    species: str
    system: str
    label_meaning: str
    unit: str
    population: str
    source: str
    levels: list[str]
    tissues: list[str]
    n: int
    mean: float
    std: float
    quantiles: list[float]
    thresholds: list[float]
    gc_median: float | None = None

    def __post_init__(self) -> None:
        if self.key != T.make_key(self.task, self.tissue):
            raise InputError(f"key {self.key!r} does not match task {self.task!r} / tissue {self.tissue!r}")
        if self.n < 1:
            raise InputError(f"{self.key}: n must be >= 1")
        if not (math.isfinite(self.mean) and math.isfinite(self.std) and self.std > 0):
            raise InputError(f"{self.key}: mean/std must be finite and std > 0")
        if len(self.quantiles) < 2 or any(
            b < a for a, b in zip(self.quantiles[:-1], self.quantiles[1:], strict=True)
        ):
            raise InputError(f"{self.key}: quantiles must be >= 2 sorted values")
        if len(self.levels) != len(self.thresholds) + 1:
            raise InputError(f"{self.key}: need one more level word than thresholds")
        if any(b < a for a, b in zip(self.thresholds[:-1], self.thresholds[1:], strict=True)):
            raise InputError(f"{self.key}: thresholds must be sorted")

    def percentile(self, value: float) -> float:
        """Percentile (0-100) of ``value`` among the training labels, by interpolating the quantiles.

        A value equal to a run of tied quantiles (e.g. many 0-FPKM genes) gets the middle of the run.
        """
        q = self.quantiles
        step = 100.0 / (len(q) - 1)
        if value <= q[0]:
            lo, hi = 0, bisect.bisect_right(q, value)
            return 0.0 if value < q[0] else step * (hi - 1) / 2
        if value >= q[-1]:
            lo = bisect.bisect_left(q, value)
            return 100.0 if value > q[-1] else step * (lo + len(q) - 1) / 2
        lo, hi = bisect.bisect_left(q, value), bisect.bisect_right(q, value)
        if hi > lo:
            return step * (lo + hi - 1) / 2
        a, b = q[lo - 1], q[lo]
        return step * (lo - 1 + (value - a) / (b - a))

    def level(self, value: float) -> str:
        """The level word: number of thresholds strictly below ``value`` picks it."""
        return self.levels[bisect.bisect_left(self.thresholds, value)]

    def format_value(
        self,
        value: float,
        sigma: float | None = None,
        interval: tuple[float, float] | None = None,
        at_floor: tuple[float, float] | None = None,
        median: float | None = None,
    ) -> str:
        """Text that replaces a ``<num>`` slot, e.g.
        ``2.31 ± 0.40 log2 units relative to the 35S minimal promoter (87th percentile of tested promoters; strong)``;
        with an asymmetric 68 % ``interval``, ``at_floor`` = (floor, its probability) and the ``median``:
        ``1.02 (mean; median 0.00; 68 % interval 0.00 to 0.99; 62 % chance of exactly 0, the point mass that
        pulls the median below the mean) log2(FPKM+1) (...)``.
        """
        pm = f" ± {sigma:.2f}" if sigma is not None else ""
        if interval is not None:
            med = f"; median {median:.2f}" if median is not None else ""
            pm = f" (mean{med}; 68 % interval {interval[0]:.2f} to {interval[1]:.2f}"
            pm += (
                f"; {at_floor[1]:.0%} chance of exactly {at_floor[0]:g}, the point mass that pulls the median "
                "below the mean)"
                if at_floor
                else ")"
            )
        pct = ordinal(int(round(min(max(self.percentile(value), 0.0), 100.0))))
        return f"{value:.2f}{pm} {self.unit} ({pct} percentile of {self.population}; {self.level(value)})"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TaskSpec:
        return cls(**data)

    @classmethod
    def from_labels(
        cls, key: str, labels: Iterable[float], tissues: list[str], gc_median: float | None = None
    ) -> TaskSpec:
        """Build a spec for ``key`` from its training labels (terciles as level thresholds)."""
        arr = np.asarray(list(labels), dtype=float)
        if arr.size == 0:
            raise InputError(f"{key}: no training labels")
        task, tissue = T.split_key(key)
        meta = T.describe(key)
        quant = np.quantile(arr, np.linspace(0, 1, N_QUANTILES))
        thr = np.quantile(arr, [1 / 3, 2 / 3])
        std = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
        return cls(
            key=key,
            task=task,
            tissue=tissue,
            tissues=list(tissues),
            n=int(arr.size),
            mean=float(arr.mean()),
            std=std if std > 1e-12 else 1.0,
            quantiles=[round(float(x), 6) for x in quant],
            thresholds=[round(float(x), 6) for x in thr],
            gc_median=None if gc_median is None else round(float(gc_median), 4),
            **meta,
        )


@dataclass
class Registry:
    """All task specs by key, with alias resolution. ``meta`` records how it was built."""

    specs: dict[str, TaskSpec]
    meta: dict = field(default_factory=dict)
    version: int = REGISTRY_VERSION

    def __post_init__(self) -> None:
        if self.version != REGISTRY_VERSION:
            raise InputError(f"unsupported registry version {self.version} (expected {REGISTRY_VERSION})")
        for key, spec in self.specs.items():
            if key != spec.key:
                raise InputError(f"registry entry {key!r} holds spec {spec.key!r}")

    def __contains__(self, key: object) -> bool:
        return key in self.specs

    def __len__(self) -> int:
        return len(self.specs)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def keys(self) -> list[str]:
        return sorted(self.specs)

    def tasks(self) -> list[str]:
        return sorted({s.task for s in self.specs.values()})

    def tissues(self, task: str) -> list[str]:
        task = self._task(task)
        return sorted(s.tissue for s in self.specs.values() if s.task == task)

    def _known(self) -> str:
        by_task = defaultdict(list)
        for s in self.specs.values():
            by_task[s.task].append(s.tissue)
        return "; ".join(f"{t}: {', '.join(sorted(v))}" for t, v in sorted(by_task.items()))

    def get(self, key: str) -> TaskSpec:
        try:
            return self.specs[key]
        except KeyError:
            raise UnknownTaskError(
                f"unknown task key {key!r}. Known tasks and tissues: {self._known()}"
            ) from None

    def _task(self, task: str) -> str:
        if task in self.tasks():
            return task
        norm = _norm(task)
        cand = TASK_ALIASES.get(norm) or norm.replace(" ", "_")
        if cand in self.tasks():
            return cand
        raise UnknownTaskError(
            f"unknown task {task!r}. Known tasks: {', '.join(self.tasks())}; "
            f"aliases: {', '.join(sorted(TASK_ALIASES))}"
        )

    def resolve(self, task: str, tissue: str | None = None) -> str:
        """Key for a task and tissue, accepting aliases (``"tobacco leaf"``, ``"proto"``, ``"primary root"``).

        ``resolve("promoter_strength/leaf")`` (a full key, no tissue) is accepted too.
        """
        if tissue is None:
            if task in self.specs:
                return task
            task, _, tissue = task.partition("/")
        task = self._task(task)
        tissues = self.tissues(task)
        norm = _norm(tissue)
        lower = {_norm(t): t for t in tissues}
        if norm in lower:
            return T.make_key(task, lower[norm])
        cond = parse_condition(tissue) if task in (T.PROMOTER, T.NATURAL, T.SYNTHETIC) else None
        if cond is not None:
            key = self._condition_key(task, cond)
            if key is not None:
                return key
        system = SYSTEM_ALIASES.get(norm)
        if system and task == T.SYNTHETIC and SYNTHETIC_DEFAULTS[system] in tissues:
            return T.make_key(task, SYNTHETIC_DEFAULTS[system])
        if system and system in tissues:
            return T.make_key(task, system)
        if task == T.TISSUE:
            hits = [
                t for t in tissues if _norm(t.split(":", 1)[1]) == norm or _norm(t.replace(":", " ")) == norm
            ]
            if len(hits) == 1:
                return T.make_key(task, hits[0])
            if len(hits) > 1:
                raise UnknownTaskError(f"tissue {tissue!r} is ambiguous for {task}: {', '.join(hits)}")
        raise UnknownTaskError(
            f"unknown tissue {tissue!r} for task {task}. Known tissues: {', '.join(tissues)}; "
            f"system aliases: {', '.join(sorted(SYSTEM_ALIASES))}"
        )

    def _condition_key(self, task: str, cond: str) -> str | None:
        """Key for an explicitly named condition: the benchmark condition is ``promoter_strength/<system>``,
        the other natural-promoter conditions ``natural_promoter/<cond>``; synthetic promoters keep their task."""
        if task == T.SYNTHETIC:
            key = T.make_key(T.SYNTHETIC, cond)
        else:
            bench = {v: k for k, v in SYNTHETIC_DEFAULTS.items()}
            key = T.make_key(T.PROMOTER, bench[cond]) if cond in bench else T.make_key(T.NATURAL, cond)
        return key if key in self.specs else None

    def to_dict(self) -> dict:
        return {
            "version": self.version,
            "meta": self.meta,
            "tasks": {k: self.specs[k].to_dict() for k in self.keys()},
        }

    @classmethod
    def from_dict(cls, data: dict) -> Registry:
        specs = {k: TaskSpec.from_dict(v) for k, v in data["tasks"].items()}
        return cls(specs=specs, meta=data.get("meta", {}), version=data.get("version", REGISTRY_VERSION))

    def to_json(self, path: str | Path | None = None) -> str:
        text = json.dumps(self.to_dict(), indent=1, ensure_ascii=False)
        if path is not None:
            Path(path).write_text(text + "\n", encoding="utf-8")
        return text

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> Registry:
        if isinstance(text_or_path, Path) or not str(text_or_path).lstrip().startswith("{"):
            text_or_path = Path(text_or_path).read_text(encoding="utf-8")
        return cls.from_dict(json.loads(text_or_path))


def load_registry(path: str | Path | None = None) -> Registry:
    """Load a registry JSON (default: the shipped one built from the real training labels)."""
    return Registry.from_json(Path(path) if path is not None else DEFAULT_REGISTRY_PATH)


def build_registry(rows, meta: dict | None = None) -> Registry:
    """Registry from split measurements: statistics use rows whose ``split == "train"`` only."""
    labels: dict[str, list[float]] = defaultdict(list)
    gcs: dict[str, list[float]] = defaultdict(list)
    for m in rows:
        if m.split == "train":
            labels[m.key].append(m.value)
            gcs[m.key].append((m.sequence.count("G") + m.sequence.count("C")) / max(len(m.sequence), 1))
    by_task = defaultdict(list)
    for key in labels:
        by_task[T.split_key(key)[0]].append(T.split_key(key)[1])
    specs = {
        key: TaskSpec.from_labels(key, vals, sorted(by_task[T.split_key(key)[0]]), float(np.median(gcs[key])))
        for key, vals in sorted(labels.items())
    }
    return Registry(specs=specs, meta=dict(meta or {}))
