"""Build the shipped motif-effect table (:mod:`agrochat.domain.effects`) from Jores et al. 2021 Supp. Tables 3-5."""

from __future__ import annotations

from pathlib import Path

from ..domain import tasks as T
from ..domain.effects import SIGNIFICANCE_P
from .errors import BadRowLog
from .tsv import parse_label, read_tsv

TABLE4 = "promoters/jores2021_supp_tables/SuppTable4_CPE_TF_effect_summary.tsv"
TABLE5 = "promoters/jores2021_supp_tables/SuppTable5_TF_upstream_vs_downstream_of_TATA.tsv"
TABLE3 = "promoters/jores2021_supp_tables/SuppTable3_TF_motif_clusters.tsv"


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
