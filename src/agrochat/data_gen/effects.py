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

from . import tasks as T
from .errors import BadRowLog
from .paths import DEFAULT_EFFECTS_PATH
from .tsv import parse_label, read_tsv

SIGNIFICANCE_P = 0.0005
TABLE4 = "promoters/jores2021_supp_tables/SuppTable4_CPE_TF_effect_summary.tsv"
TABLE5 = "promoters/jores2021_supp_tables/SuppTable5_TF_upstream_vs_downstream_of_TATA.tsv"
TABLE3 = "promoters/jores2021_supp_tables/SuppTable3_TF_motif_clusters.tsv"


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
            raise ValueError("effects data needs an 'elements' mapping")

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


def build_effects(data_dir: Path, log: BadRowLog | None = None) -> dict:
    """Read Supp. Tables 3-5 from the data directory into the JSON structure used by :class:`MotifEffects`."""
    log = log or BadRowLog()
    elements: dict[str, dict] = {}
    path4 = data_dir / TABLE4
    cols = [f"{c}_{s}" for c in T.CONDITIONS for s in ("mean", "sd", "pvalue")]
    for line, row in read_tsv(path4, ["element", *cols], log):
        effects = {}
        for c in T.CONDITIONS:
            vals = []
            for s in ("mean", "sd", "pvalue"):
                ok, v = parse_label(row[f"{c}_{s}"], f"{c}_{s}", path4, line, log, allow_na=True)
                vals.append(v if ok else None)
            if None not in vals:
                effects[c] = {"mean": round(vals[0], 4), "sd": round(vals[1], 4), "p": vals[2]}
        elements[row["element"]] = {"effects": effects}
    path3 = data_dir / TABLE3
    if path3.exists():
        for _, row in read_tsv(path3, ["cluster_id", "families"], log):
            elements.setdefault(f"TF_{row['cluster_id']}", {"effects": {}})["family"] = row["families"]
    path5 = data_dir / TABLE5
    if path5.exists():
        for line, row in read_tsv(path5, ["TF_binding_site", *T.CONDITIONS], log):
            diffs = {}
            for c in T.CONDITIONS:
                ok, v = parse_label(row[c], c, path5, line, log, allow_na=True)
                if ok and v is not None:
                    diffs[c] = round(v, 4)
            elements.setdefault(row["TF_binding_site"], {"effects": {}})["up_minus_down"] = diffs
    for name in ("TATA", "Inr", "BREu", "BREd", "Ypatch", "TCT"):
        if name in elements:
            elements[name]["family"] = "core promoter element"
    return {
        "source": "Jores et al. 2021 Nature Plants, Supplementary Tables 3, 4 and 5",
        "significance_p": SIGNIFICANCE_P,
        "conditions": list(T.CONDITIONS),
        "elements": elements,
    }


@lru_cache(maxsize=4)
def _load(path: str) -> MotifEffects:
    return MotifEffects(json.loads(Path(path).read_text(encoding="utf-8")))


def load_effects(path: str | Path | None = None) -> MotifEffects:
    """The shipped effect table (``fixtures/motif_effects.json``) or one at ``path``."""
    return _load(str(path or DEFAULT_EFFECTS_PATH))
