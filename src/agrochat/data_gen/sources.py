"""Readers for the real source tables under the data directory (layout of ``shared/data``).

Every reader returns :class:`Measurement` objects (one sequence, one registry key, one label) and reports
malformed rows through a :class:`~agrochat.data_gen.errors.BadRowLog` (file and line in the message).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..domain import tasks as T
from .errors import BadRowLog
from .pgb import read_pgb_fasta
from .tsv import clean_sequence, parse_label, read_tsv

PROMOTER_TEST = {
    "leaf": "promoters/jores2021_cnn_split/CNN_test_leaf_with_jores_cnn_pred.tsv",
    "protoplast": "promoters/jores2021_cnn_split/CNN_test_proto_with_jores_cnn_pred.tsv",
}
PROMOTER_TEST_PLAIN = {
    "leaf": "promoters/jores2021_cnn_split/CNN_test_leaf.tsv",
    "protoplast": "promoters/jores2021_cnn_split/CNN_test_proto.tsv",
}
PROMOTER_TRAIN = {
    "leaf": "promoters/pgb_train/pgb_promoter_strength_leaf_train_first8000.tsv",
    "protoplast": "promoters/pgb_train/pgb_promoter_strength_protoplast_train_first8000.tsv",
}
SYNTHETIC = "promoters/jores2021_supp_tables/SuppTable6_synthetic_promoters.tsv"
OTHER_CONDITIONS = {
    c: f"promoters/jores2021_other_conditions/jores2021_{c}_sample.tsv" for c in T.NATURAL_CONDITIONS
}
TERMINATOR_SPLIT = "terminators/gorjifard2024_cnn_split.tsv.gz"
TERMINATOR_PRED = "terminators/gorjifard2024_cnn_test_predictions.tsv"
ATLAS = {
    "maize": "promoters/jores2021_annotation/ExpressionAtlas_Maize_FPKM.tsv.gz",
    "sorghum": "promoters/jores2021_annotation/ExpressionAtlas_Sorghum_FPKM.tsv.gz",
}
SPECIES_CODE = {"Zm": "maize", "Sb": "sorghum"}
_TERM_GENE = re.compile(r"AT[1-5CM]G\d{5}|Zm\d{5}d\d{6}")


@dataclass
class Measurement:
    """One measured value of one sequence under one task key.

    Attributes:
        sequence: upper-case ACGT.
        key: registry key, e.g. ``promoter_strength/leaf``.
        value: the raw label.
        kind: ``"promoter"`` or ``"terminator"`` (the sequence family; splits are enforced per family).
        genes: gene / construct ids used to keep a gene in one split.
        species: source species code or name (At / Zm / Sb, Arabidopsis / Maize / GC, synA / synZ).
        official_split: ``"train"`` or ``"test"`` as published.
        baseline: the authors' CNN prediction (test rows), else None.
        name: display id (gene id or construct name).
        source: ``file:line`` it came from.
        split: final split after leak removal (``train`` / ``validation`` / ``test``), set by ``splits``.
        group: split group id (smallest gene id of the connected gene/sequence component).
    """

    sequence: str
    key: str
    value: float
    kind: str
    genes: tuple[str, ...]
    species: str
    official_split: str
    baseline: float | None = None
    name: str = ""
    source: str = ""
    split: str = ""
    group: str = ""
    extra: dict = field(default_factory=dict)


def promoter_genes(text: str) -> tuple[str, ...]:
    """Jores gene field: several genes with identical promoters are joined by ``;`` or ``/``."""
    return tuple(g for g in re.split(r"[;/]", text.strip()) if g)


def terminator_genes(ident: str) -> tuple[str, ...]:
    """Gene ids inside a terminator construct id (``AT1G01010_2``, ``Zm00001d014272_T002-AABB`` ...)."""
    genes = tuple(dict.fromkeys(_TERM_GENE.findall(ident)))
    return genes or (ident,)


def _src(path: Path, line: int) -> str:
    return f"{path.name}:{line}"


def load_promoter_tests(data_dir: Path, log: BadRowLog) -> list[Measurement]:
    """The official Jores test sets (both systems), with the Jores CNN prediction as baseline."""
    out: list[Measurement] = []
    for system in T.SYSTEMS:
        path = data_dir / PROMOTER_TEST[system]
        has_pred = path.exists()
        if not has_pred:
            path = data_dir / PROMOTER_TEST_PLAIN[system]
        required = ["sp", "gene", "sequence", "enrichment"] + (["jores_cnn_prediction"] if has_pred else [])
        for line, row in read_tsv(path, required, log):
            seq = clean_sequence(row["sequence"], path, line, log)
            if seq is None:
                continue
            ok, value = parse_label(row["enrichment"], "enrichment", path, line, log)
            if not ok:
                continue
            baseline = None
            if has_pred:
                ok, baseline = parse_label(
                    row["jores_cnn_prediction"], "jores_cnn_prediction", path, line, log, allow_na=True
                )
                if not ok:
                    continue
            genes = promoter_genes(row["gene"])
            if not genes:
                log.bad(path, line, "empty gene id")
                continue
            out.append(
                Measurement(
                    seq,
                    T.make_key(T.PROMOTER, system),
                    value,
                    "promoter",
                    genes,
                    row["sp"],
                    "test",
                    baseline,
                    row["gene"],
                    _src(path, line),
                )
            )
    return out


def load_promoter_train(data_dir: Path, log: BadRowLog, pgb_dir: Path | None = None) -> list[Measurement]:
    """PGB training promoters: the first-8,000-row TSVs, or full PGB FASTA files under ``pgb_dir``.

    With ``pgb_dir`` (hub layout ``promoter_strength/{leaf,protoplast}_{train,validation}.fa``) PGB's own
    train and validation files are both used as training material (we carve our own validation split).
    """
    out: list[Measurement] = []
    for system in T.SYSTEMS:
        key = T.make_key(T.PROMOTER, system)
        fasta = (
            [pgb_dir / "promoter_strength" / f"{system}_{s}.fa" for s in ("train", "validation")]
            if pgb_dir
            else []
        )
        fasta = [p for p in fasta if p.exists()]
        if fasta:
            for path in fasta:
                for rec in read_pgb_fasta(path, log=log):
                    gene, _, sp = rec["name"].rpartition("_")
                    out.append(
                        Measurement(
                            rec["sequence"],
                            key,
                            rec["label"],
                            "promoter",
                            promoter_genes(gene or rec["name"]),
                            sp,
                            "train",
                            None,
                            gene or rec["name"],
                            path.name,
                        )
                    )
            continue
        out += _promoter_table(data_dir / PROMOTER_TRAIN[system], key, ("id", "species", "label"), log)
    return out


def _promoter_table(path: Path, key: str, cols: tuple[str, str, str], log: BadRowLog) -> list[Measurement]:
    """Training promoters of one key from a TSV with a sequence column and (gene id, species, label) ``cols``."""
    gene_col, species_col, label_col = cols
    out: list[Measurement] = []
    for line, row in read_tsv(path, [gene_col, species_col, label_col, "sequence"], log):
        seq = clean_sequence(row["sequence"], path, line, log)
        if seq is None:
            continue
        ok, value = parse_label(row[label_col], label_col, path, line, log)
        if not ok:
            continue
        genes = promoter_genes(row[gene_col])
        if not genes:
            log.bad(path, line, "empty gene id")
            continue
        out.append(
            Measurement(
                seq,
                key,
                value,
                "promoter",
                genes,
                row[species_col].strip(),
                "train",
                None,
                row[gene_col],
                _src(path, line),
            )
        )
    return out


def load_synthetic(data_dir: Path, log: BadRowLog) -> list[Measurement]:
    """Supp. Table 6 synthetic promoters, one measurement per condition with a value (NA = not measured)."""
    path = data_dir / SYNTHETIC
    out: list[Measurement] = []
    for line, row in read_tsv(path, ["promoter", "sequence", *T.CONDITIONS], log):
        seq = clean_sequence(row["sequence"], path, line, log)
        if seq is None:
            continue
        name = row["promoter"].strip()
        if not name:
            log.bad(path, line, "empty promoter name")
            continue
        for cond in T.CONDITIONS:
            ok, value = parse_label(row[cond], cond, path, line, log, allow_na=True)
            if not ok:
                break
            if value is None:
                continue
            species = (
                "synA" if name.startswith("synA") else "synZ" if name.startswith("synZ") else "synthetic"
            )
            out.append(
                Measurement(
                    seq,
                    T.make_key(T.SYNTHETIC, cond),
                    value,
                    "promoter",
                    (name,),
                    species,
                    "train",
                    None,
                    name,
                    _src(path, line),
                    extra={"cpes": row.get("CPEs", ""), "tfbs": row.get("TFBSs", "")},
                )
            )
    return out


def load_other_conditions(data_dir: Path, log: BadRowLog) -> list[Measurement]:
    """Natural promoters measured in four more conditions (10 % samples per condition, Jores Supp. Table 2).

    One ``natural_promoter/<condition>`` measurement per row, published split ``train``. A condition whose file
    is absent (fixtures, older data trees) is skipped. Rows that are test promoters of either official test set
    are removed later by :func:`~agrochat.data_gen.splits.assign_splits` (same sequence or gene as a test row).
    """
    out: list[Measurement] = []
    for cond, rel in OTHER_CONDITIONS.items():
        path = data_dir / rel
        if not path.exists():
            continue
        out += _promoter_table(path, T.make_key(T.NATURAL, cond), ("gene", "sp", "enrichment"), log)
    return out


def _terminator_predictions(data_dir: Path, log: BadRowLog) -> dict[str, tuple[float | None, float | None]]:
    path = data_dir / TERMINATOR_PRED
    if not path.exists():
        return {}
    cols = ["id", "enrichment_tobacco_predictions", "enrichment_maize_predictions"]
    preds: dict[str, tuple[float | None, float | None]] = {}
    for line, row in read_tsv(path, cols, log):
        ok1, leaf = parse_label(row[cols[1]], cols[1], path, line, log, allow_na=True)
        ok2, proto = parse_label(row[cols[2]], cols[2], path, line, log, allow_na=True)
        if ok1 and ok2:
            preds[row["id"]] = (leaf, proto)
    return preds


def load_terminators(data_dir: Path, log: BadRowLog) -> list[Measurement]:
    """Gorjifard 2024 CNN split (one split for both systems) with the authors' CNN test predictions."""
    path = data_dir / TERMINATOR_SPLIT
    preds = _terminator_predictions(data_dir, log)
    out: list[Measurement] = []
    cols = ["id", "species", "set", "enrichment_tobacco", "enrichment_maize", "sequence"]
    for line, row in read_tsv(path, cols, log):
        seq = clean_sequence(row["sequence"], path, line, log)
        if seq is None:
            continue
        if row["set"] not in ("train", "test"):
            log.bad(path, line, f"set must be 'train' or 'test', got {row['set']!r}")
            continue
        ok1, leaf = parse_label(row["enrichment_tobacco"], "enrichment_tobacco", path, line, log)
        ok2, proto = (
            parse_label(row["enrichment_maize"], "enrichment_maize", path, line, log)
            if ok1
            else (False, None)
        )
        if not (ok1 and ok2):
            continue
        ident = row["id"].strip()
        pred = preds.get(ident, (None, None)) if row["set"] == "test" else (None, None)
        for system, value, base in (("leaf", leaf, pred[0]), ("protoplast", proto, pred[1])):
            out.append(
                Measurement(
                    seq,
                    T.make_key(T.TERMINATOR, system),
                    value,
                    "terminator",
                    terminator_genes(ident),
                    row["species"],
                    row["set"],
                    base,
                    ident,
                    _src(path, line),
                )
            )
    return out


@dataclass
class AtlasTable:
    """Expression Atlas baseline FPKM for one species: tissue names and per-gene values (blank = 0)."""

    species: str
    tissues: list[str]
    fpkm: dict[str, list[float]]
    source: str


def load_atlas(data_dir: Path, species: str, log: BadRowLog) -> AtlasTable:
    path = data_dir / ATLAS[species]
    tissues: list[str] = []
    fpkm: dict[str, list[float]] = {}
    for line, row in read_tsv(path, ["Gene ID"], log, comment="#"):
        if not tissues:
            tissues = [c for c in row if c not in ("Gene ID", "Gene Name")]
        values = []
        for t in tissues:
            cell = row[t].strip()
            if not cell:
                values.append(0.0)
                continue
            ok, v = parse_label(cell, t, path, line, log)
            if not ok:
                break
            if v < 0:
                log.bad(path, line, f"negative FPKM in column {t!r}: {cell!r}")
                break
            values.append(v)
        if len(values) == len(tissues):
            fpkm[row["Gene ID"].strip()] = values
    return AtlasTable(species, tissues, fpkm, path.name)


def expression_measurements(promoters: list[Measurement], atlases: list[AtlasTable]) -> list[Measurement]:
    """Join split promoters to atlas genes: one measurement per (gene promoter, tissue), log2(FPKM+1).

    Only single-gene maize/sorghum promoters are used (a shared promoter cannot be given one gene's
    expression). Each gene appears once; its split and group are the promoter's.
    """
    by_species = {a.species: a for a in atlases}
    seen: set[str] = set()
    out: list[Measurement] = []
    ordered = sorted(promoters, key=lambda m: (m.split != "test", m.key, m.source))
    for m in ordered:
        species = SPECIES_CODE.get(m.species)
        if m.key.split("/")[0] != T.PROMOTER or species not in by_species or len(m.genes) != 1:
            continue
        gene = m.genes[0]
        atlas = by_species[species]
        if gene in seen or gene not in atlas.fpkm:
            continue
        seen.add(gene)
        for col, (tissue, value) in enumerate(zip(atlas.tissues, atlas.fpkm[gene], strict=True)):
            out.append(
                Measurement(
                    m.sequence,
                    T.make_key(T.TISSUE, f"{species}:{tissue}"),
                    math.log2(value + 1.0),
                    "promoter",
                    m.genes,
                    m.species,
                    m.official_split,
                    None,
                    gene,
                    f"{atlas.source} ({gene})",
                    m.split,
                    m.group,
                    extra={"col": col},
                )
            )
    return out
