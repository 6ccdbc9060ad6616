"""Task keys and the fixed descriptive metadata of every task (everything except label statistics).

A task key is ``"<task>/<tissue>"``: ``promoter_strength/leaf``, ``terminator_strength/protoplast``,
``synthetic_promoter/leaf_withENH_light``, ``natural_promoter/leaf_noENH_dark``,
``tissue_expression/maize:primary root``.
"""

from __future__ import annotations

from ..errors import UnknownTaskError

PROMOTER = "promoter_strength"
TERMINATOR = "terminator_strength"
SYNTHETIC = "synthetic_promoter"
NATURAL = "natural_promoter"
TISSUE = "tissue_expression"
# PGB gene_exp outputs (``gene_expression/zea_mays:<output name>``), built only by ``agrochat data build --pgb``;
# their registry metadata comes from data_gen/pgb.py (describe() does not know them).
GENE_EXPRESSION = "gene_expression"
SYSTEMS = ("leaf", "protoplast")
# The six measured conditions of Jores et al. 2021 (Supp. Tables 4-6); there is no "proto, light".
CONDITIONS = (
    "leaf_noENH_dark",
    "proto_noENH_dark",
    "leaf_withENH_dark",
    "proto_withENH_dark",
    "leaf_noENH_light",
    "leaf_withENH_light",
)
# Conditions of the natural-promoter samples (promoters/jores2021_other_conditions). The benchmark condition
# "with enhancer, dark" is promoter_strength/leaf and /protoplast, not a natural_promoter key.
NATURAL_CONDITIONS = ("leaf_withENH_light", "leaf_noENH_dark", "leaf_noENH_light", "proto_noENH_dark")
EXPRESSION_SPECIES = {"maize": "Zea mays", "sorghum": "Sorghum bicolor"}

JORES = "Jores et al. 2021, Nature Plants 7:842-855 (doi:10.1038/s41477-021-00932-y)"
GORJIFARD = "Gorjifard et al. 2024, Nature Communications 15 (doi:10.1038/s41467-024-50174-7)"
ATLAS = {
    "maize": "EMBL-EBI Expression Atlas E-GEOD-50191 (maize baseline FPKM, 23 tissues)",
    "sorghum": "EMBL-EBI Expression Atlas E-MTAB-5956 (sorghum baseline FPKM, 11 tissues)",
}

_LEAF = "*Nicotiana benthamiana* (tobacco) leaves, transient transformation"
_PROTO = "maize (*Zea mays*) leaf protoplasts"


def make_key(task: str, tissue: str) -> str:
    return f"{task}/{tissue}"


def split_key(key: str) -> tuple[str, str]:
    task, _, tissue = key.partition("/")
    return task, tissue


def effect_condition(key: str) -> str | None:
    """The Supp. Table 4 condition whose effect sizes describe this task key (None if none applies)."""
    task, tissue = split_key(key)
    if task == PROMOTER:
        return {"leaf": "leaf_withENH_dark", "protoplast": "proto_withENH_dark"}.get(tissue)
    if task == SYNTHETIC and tissue in CONDITIONS:
        return tissue
    if task == NATURAL and tissue in NATURAL_CONDITIONS:
        return tissue  # Supp. Table 4 has effect sizes for all six conditions (motif_effects.json)
    return None


def condition_system(condition: str) -> str:
    """Plain-words description of a Jores condition such as ``leaf_withENH_light``."""
    where, enh, light = condition.split("_")
    base = _LEAF if where == "leaf" else _PROTO
    enh_text = "with the 35S enhancer" if enh == "withENH" else "without enhancer"
    return f"{base}, {enh_text}, {light}"


def condition_short(condition: str) -> str:
    """Short plain-text condition, e.g. ``tobacco leaves (with 35S enhancer, light)``."""
    where, enh, light = condition.split("_")
    base = "tobacco leaves" if where == "leaf" else "maize protoplasts"
    enh_text = "with 35S enhancer" if enh == "withENH" else "no enhancer"
    return f"{base} ({enh_text}, {light})"


# What a Jores STARR-seq promoter label means (benchmark, synthetic and natural promoters alike).
_PROMOTER_LABEL = {
    "label_meaning": "log2 reporter RNA/DNA enrichment minus that of the 35S minimal promoter without "
    "enhancer (0 = as strong as the 35S minimal promoter)",
    "unit": "log2 units relative to the 35S minimal promoter",
}


def describe(key: str) -> dict:
    """Fixed metadata for a key: assay, species, system, label meaning, unit, population, source, level words."""
    task, tissue = split_key(key)
    if task == PROMOTER and tissue in SYSTEMS:
        cond = effect_condition(key)
        return {
            "assay": "Plant STARR-seq core-promoter strength (170 bp, -165..+5 around the TSS)",
            "species": "Arabidopsis thaliana, Zea mays and Sorghum bicolor promoters",
            "system": condition_system(cond),
            **_PROMOTER_LABEL,
            "population": "tested promoters",
            "levels": ["weak", "moderate", "strong"],
            "source": JORES + "; PGB promoter_strength." + tissue,
        }
    if task == SYNTHETIC and tissue in CONDITIONS:
        return {
            "assay": "Plant STARR-seq strength of designed synthetic promoters (170 bp)",
            "species": "synthetic promoters with Arabidopsis-like (synA) or maize-like (synZ) base composition",
            "system": condition_system(tissue),
            **_PROMOTER_LABEL,
            "population": "tested synthetic promoters",
            "levels": ["weak", "moderate", "strong"],
            "source": JORES + ", Supplementary Table 6",
        }
    if task == NATURAL and tissue in NATURAL_CONDITIONS:
        return {
            "assay": "Plant STARR-seq core-promoter strength of natural promoters (170 bp, -165..+5 around the TSS)",
            "species": "Arabidopsis thaliana, Zea mays and Sorghum bicolor promoters",
            "system": condition_system(tissue),
            **_PROMOTER_LABEL,
            "population": "tested natural promoters",
            "levels": ["weak", "moderate", "strong"],
            "source": JORES
            + " (Supplementary Table 2; 10 % samples per condition distributed with the iCREPCP "
            "repository)",
        }
    if task == TERMINATOR and tissue in SYSTEMS:
        system = _LEAF if tissue == "leaf" else _PROTO
        return {
            "assay": "Plant STARR-seq terminator strength (170 nt centred on the poly(A) cleavage site)",
            "species": "Arabidopsis thaliana and Zea mays terminators plus GC-series controls",
            "system": system + ", reporter with 35S enhancer and 35S minimal promoter",
            "label_meaning": "log2 reporter mRNA level (summed barcode RNA/DNA) minus that of the 35S terminator "
            "(0 = as strong as t35S; negative = weaker)",
            "unit": "log2 units relative to the 35S terminator",
            "population": "tested terminators",
            "levels": ["weak", "moderate", "strong"],
            "source": GORJIFARD + "; PGB terminator_strength." + tissue,
        }
    if task == TISSUE and ":" in tissue:
        species, organ = tissue.split(":", 1)
        if species in EXPRESSION_SPECIES:
            return {
                "assay": "baseline RNA-seq expression of the gene whose 170 bp core promoter is given",
                "species": EXPRESSION_SPECIES[species],
                "system": f"{species} tissue: {organ}",
                "label_meaning": "log2(FPKM + 1) of the gene in this tissue (blank atlas cells = 0 FPKM)",
                "unit": "log2(FPKM+1)",
                "population": f"{species} genes in this tissue",
                "levels": ["low", "medium", "high"],
                "source": ATLAS[species] + "; promoters from " + JORES,
            }
    raise UnknownTaskError(f"unknown task/tissue key {key!r}")
