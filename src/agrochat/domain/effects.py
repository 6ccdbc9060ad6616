"""Measured average motif effects (Jores et al. 2021, Supp. Tables 3-5), shipped as JSON for inference.

Supp. Table 4: per element (6 core promoter elements + TF_1..TF_72) and condition, the mean and sd over 15
groups (3 species x 5 GC bins) of the strength difference between promoters with and without the
element, and the Wilcoxon p-value. The paper calls an effect significant at p < 0.0005.
Supp. Table 5: per TF cluster and condition, mean strength difference upstream minus downstream of the
TATA box. Supp. Table 3: TF families per cluster.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..errors import InputError
from .paths import DEFAULT_EFFECTS_PATH

SIGNIFICANCE_P = 0.0005


@dataclass(frozen=True)
class Effect:
    """Average effect of an element in one condition (log2 units) and whether it is significant."""

    mean: float
    sd: float
    p: float

    @property
    def significant(self) -> bool:
        return self.p < SIGNIFICANCE_P


@dataclass
class MotifEffects:
    """Lookup of element effects; ``data`` is the JSON structure written by :func:`build_effects`."""

    data: dict

    def __post_init__(self) -> None:
        if "elements" not in self.data:
            raise InputError("effects data needs an 'elements' mapping")

    def effect(self, name: str, condition: str | None) -> Effect | None:
        el = self.data["elements"].get(name)
        if el is None or condition is None or condition not in el.get("effects", {}):
            return None
        e = el["effects"][condition]
        return Effect(e["mean"], e["sd"], e["p"])

    def upstream_minus_downstream(self, name: str, condition: str | None) -> float | None:
        el = self.data["elements"].get(name) or {}
        return (el.get("up_minus_down") or {}).get(condition) if condition else None

    def family(self, name: str) -> str | None:
        return (self.data["elements"].get(name) or {}).get("family")


@lru_cache(maxsize=4)
def _load(path: str) -> MotifEffects:
    return MotifEffects(json.loads(Path(path).read_text(encoding="utf-8")))


def load_effects(path: str | Path | None = None) -> MotifEffects:
    """The shipped effect table (``resources/motif_effects.json``) or one at ``path``."""
    return _load(str(path or DEFAULT_EFFECTS_PATH))
