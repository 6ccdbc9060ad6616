"""Regenerate the shipped fixtures from the real source data.

    python -m agrochat.data_gen.make_fixtures --data-dir ../shared/data

Writes into ``data_gen/fixtures/``:

- ``registry.json``: the task registry built from the REAL training labels (full build of the sources);
- ``motif_effects.json``: Jores et al. 2021 Supp. Tables 3-5 as JSON;
- ``motifs/CPEs.meme``, ``motifs/TF-clusters.meme``: the PWMs (needed at inference for explanations);
- ``mini_data/``: a few hundred real rows in the ``shared/data`` layout, chosen to contain the edge cases
  the tests need (cross-system promoter leaks, sequences in both test sets, NA CNN predictions, multi-gene
  ids, terminator genes with one construct in test and another in train, atlas genes, natural promoters of the
  other conditions whose sequence is a fixture test promoter or a fixture training promoter);
- ``pgb_fasta/``: a tiny copy of real rows in the PGB FASTA layout.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import math
import shutil
from pathlib import Path

from ..domain.paths import RESOURCES_DIR
from ..domain.registry import build_registry
from . import sources as S
from .collect import collect_measurements
from .motif_effects import build_effects
from .paths import FIXTURES_DIR, resolve_data_dir


def _read(path: Path) -> tuple[list[str], list[dict], list[str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as fh:
        lines = fh.read().splitlines()
    comments = [x for x in lines if x.startswith("#")]
    body = [x for x in lines if not x.startswith("#")]
    reader = csv.DictReader(body, delimiter="\t")
    rows = list(reader)
    return list(reader.fieldnames or []), rows, comments


def _write(path: Path, header: list[str], rows: list[dict], comments: list[str] | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = (
        "\n".join([*(comments or []), "\t".join(header), *("\t".join(r[h] for h in header) for r in rows)])
        + "\n"
    )
    if path.suffix == ".gz":
        with gzip.GzipFile(path, "wb", mtime=0) as fh:
            fh.write(text.encode("utf-8"))
    else:
        path.write_text(text, encoding="utf-8")


def _pick(rows: list[dict], preds, n: int, chosen: list[dict]) -> None:
    for r in rows:
        if len([c for c in chosen if preds(c)]) >= n:
            return
        if preds(r) and r not in chosen:
            chosen.append(r)


def make_mini(data_dir: Path, out: Path) -> dict[str, int]:
    """Copy a small, edge-case-rich subset of the real tables into ``out`` (same layout)."""
    counts: dict[str, int] = {}
    test_h, test_rows = {}, {}
    for sys_ in ("leaf", "protoplast"):
        test_h[sys_], test_rows[sys_], _ = _read(data_dir / S.PROMOTER_TEST[sys_])
    train_h, train_rows = {}, {}
    for sys_ in ("leaf", "protoplast"):
        train_h[sys_], train_rows[sys_], _ = _read(data_dir / S.PROMOTER_TRAIN[sys_])
    atlas = {sp: _read(data_dir / S.ATLAS[sp]) for sp in S.ATLAS}
    atlas_genes = {sp: {r["Gene ID"] for r in a[1]} for sp, a in atlas.items()}
    other = {"leaf": "protoplast", "protoplast": "leaf"}
    seq_test = {s: {r["sequence"] for r in test_rows[s]} for s in test_rows}
    seq_train = {s: {r["sequence"] for r in train_rows[s]} for s in train_rows}
    tests, trains = {}, {}
    for s in ("leaf", "protoplast"):
        chosen: list[dict] = []
        _pick(test_rows[s], lambda r, s=s: r["sequence"] in seq_test[other[s]], 3, chosen)
        _pick(test_rows[s], lambda r, s=s: r["sequence"] in seq_train[other[s]], 5, chosen)
        _pick(test_rows[s], lambda r: r["jores_cnn_prediction"] == "NA", 2, chosen)
        _pick(test_rows[s], lambda r: ";" in r["gene"] or "/" in r["gene"], 1, chosen)
        _pick(test_rows[s], lambda r: r["sp"] == "Zm" and r["gene"] in atlas_genes["maize"], 4, chosen)
        _pick(test_rows[s], lambda r: r["sp"] == "Sb" and r["gene"] in atlas_genes["sorghum"], 4, chosen)
        _pick(test_rows[s], lambda r: r["sp"] == "At", 3, chosen)
        tests[s] = chosen
    for s in ("leaf", "protoplast"):
        chosen = []
        fixture_other_test = {r["sequence"] for r in tests[other[s]]}
        _pick(train_rows[s], lambda r, f=fixture_other_test: r["sequence"] in f, 5, chosen)
        _pick(train_rows[s], lambda r, s=s: r["sequence"] in seq_train[other[s]], 3, chosen)
        _pick(train_rows[s], lambda r: r["species"] == "Zm" and r["id"] in atlas_genes["maize"], 8, chosen)
        _pick(train_rows[s], lambda r: r["species"] == "Sb" and r["id"] in atlas_genes["sorghum"], 8, chosen)
        _pick(train_rows[s], lambda r: r["species"] == "At", 6, chosen)
        trains[s] = chosen
    # make the "in both training sets" rows really present in both fixture files
    for s in ("leaf", "protoplast"):
        both = [r for r in trains[s] if r["sequence"] in seq_train[other[s]]]
        for r in both:
            match = next(x for x in train_rows[other[s]] if x["sequence"] == r["sequence"])
            if match not in trains[other[s]]:
                trains[other[s]].append(match)
    for s in ("leaf", "protoplast"):
        _write(out / S.PROMOTER_TEST[s], test_h[s], tests[s])
        _write(out / S.PROMOTER_TRAIN[s], train_h[s], trains[s])
        counts[S.PROMOTER_TEST[s]] = len(tests[s])
        counts[S.PROMOTER_TRAIN[s]] = len(trains[s])
    counts.update(make_other_conditions(data_dir, out, tests, trains))
    syn_h, syn_rows, _ = _read(data_dir / S.SYNTHETIC)
    syn = []
    for fam in ("synA1", "synZ1", "synZ2"):
        fam_rows = [r for r in syn_rows if r["promoter"] == fam]
        syn += fam_rows[:3] + [r for r in fam_rows if "NA" in r.values()][:1]
    _write(out / S.SYNTHETIC, syn_h, syn)
    counts[S.SYNTHETIC] = len(syn)
    term_h, term_rows, _ = _read(data_dir / S.TERMINATOR_SPLIT)
    test_t = [r for r in term_rows if r["set"] == "test"]
    train_t = [r for r in term_rows if r["set"] == "train"]
    by_gene: dict[str, list[dict]] = {}
    for r in train_t:
        for g in S.terminator_genes(r["id"]):
            by_gene.setdefault(g, []).append(r)
    chosen_test, chosen_train = [], []
    for r in test_t:  # test constructs whose gene has other constructs in train
        partners = [p for g in S.terminator_genes(r["id"]) for p in by_gene.get(g, [])]
        if partners and len(chosen_test) < 4:
            chosen_test.append(r)
            chosen_train += partners[:2]
    _pick(test_t, lambda r: r["species"] == "GC", 2, chosen_test)
    _pick(test_t, lambda r: r["species"] == "Arabidopsis", 7, chosen_test)
    _pick(test_t, lambda r: r["species"] == "Maize", 7, chosen_test)
    _pick(train_t, lambda r: r["species"] == "GC", 4, chosen_train)
    _pick(train_t, lambda r: r["species"] == "Arabidopsis", 20, chosen_train)
    _pick(train_t, lambda r: r["species"] == "Maize", 20, chosen_train)
    _write(out / S.TERMINATOR_SPLIT, term_h, chosen_test + chosen_train)
    counts[S.TERMINATOR_SPLIT] = len(chosen_test) + len(chosen_train)
    pred_h, pred_rows, _ = _read(data_dir / S.TERMINATOR_PRED)
    ids = {r["id"] for r in chosen_test}
    preds = [r for r in pred_rows if r["id"] in ids]
    _write(out / S.TERMINATOR_PRED, pred_h, preds)
    counts[S.TERMINATOR_PRED] = len(preds)
    used = set()
    for s in ("leaf", "protoplast"):
        for r in tests[s] + trains[s]:
            used.update(S.promoter_genes(r.get("gene") or r["id"]))
    for sp, (head, rows, comments) in atlas.items():
        keep = [r for r in rows if r["Gene ID"] in used]
        _write(out / S.ATLAS[sp], head, keep, comments)
        counts[S.ATLAS[sp]] = len(keep)
    return counts


def make_other_conditions(
    data_dir: Path, out: Path, tests: dict[str, list[dict]], trains: dict[str, list[dict]], n: int = 40
) -> dict[str, int]:
    """About ``n`` real rows per natural-promoter condition: 2 + 2 whose sequence is in the fixture leaf /
    protoplast test sets (the leak test needs them), up to 6 that are fixture training promoters (cross rows),
    one multi-gene row, the rest by species. Conditions whose file is absent are skipped."""
    counts: dict[str, int] = {}
    test_seqs = {s: {r["sequence"] for r in rows} for s, rows in tests.items()}
    train_seqs = {r["sequence"] for rows in trains.values() for r in rows}
    for rel in S.OTHER_CONDITIONS.values():
        if not (data_dir / rel).exists():
            continue
        head, rows, _ = _read(data_dir / rel)
        chosen: list[dict] = []
        _pick(rows, lambda r: r["sequence"] in test_seqs["leaf"], 2, chosen)
        _pick(
            rows,
            lambda r: r["sequence"] in test_seqs["protoplast"] and r["sequence"] not in test_seqs["leaf"],
            2,
            chosen,
        )
        _pick(rows, lambda r: r["sequence"] in train_seqs, 6, chosen)
        _pick(rows, lambda r: ";" in r["gene"] or "/" in r["gene"], 1, chosen)
        per_species = (n - len(chosen)) // 3
        special = list(chosen)
        for sp in ("At", "Zm", "Sb"):
            _pick(
                rows,
                lambda r, sp=sp, special=special: r["sp"] == sp and r not in special,
                per_species,
                chosen,
            )
        _write(out / rel, head, chosen)
        counts[rel] = len(chosen)
    return counts


def make_pgb_fasta(data_dir: Path, out: Path) -> None:
    """Tiny real-data files in the PGB FASTA layout (``<task>/<name>_<split>.fa``)."""
    _, leaf, _ = _read(data_dir / S.PROMOTER_TRAIN["leaf"])
    (out / "promoter_strength").mkdir(parents=True, exist_ok=True)
    with open(out / "promoter_strength" / "leaf_train.fa", "w") as fh:
        for r in leaf[:5]:
            seq = r["sequence"]
            fh.write(f">{r['name']}|{r['label']}\n{seq[:80]}\n{seq[80:]}\n")  # multi-line sequence on purpose
    head, rows, _ = _read(data_dir / S.ATLAS["maize"])
    _, test, _ = _read(data_dir / S.PROMOTER_TEST["leaf"])
    fpkm = {r["Gene ID"]: r for r in rows}
    tissues = [h for h in head if h not in ("Gene ID", "Gene Name")][:3]
    (out / "gene_exp").mkdir(parents=True, exist_ok=True)
    with open(out / "gene_exp" / "zea_mays_test.fa", "w") as fh:
        n = 0
        for r in test:
            if r["gene"] in fpkm and n < 3:
                vals = [f"{math.log2(float(fpkm[r['gene']][t] or 0) + 1):.4f}" for t in tissues]
                fh.write(f">{r['gene']}|{'|'.join(vals)}\n{r['sequence']}\n")
                n += 1


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=str(FIXTURES_DIR), help="test fixtures (mini_data/, pgb_fasta/)")
    parser.add_argument(
        "--resources",
        default=str(RESOURCES_DIR),
        help="runtime resources (registry.json, motif_effects.json, motifs/)",
    )
    args = parser.parse_args(argv)
    data_dir = resolve_data_dir(args.data_dir)
    out = Path(args.out)
    res = Path(args.resources)
    out.mkdir(parents=True, exist_ok=True)
    res.mkdir(parents=True, exist_ok=True)
    rows, _ = collect_measurements(data_dir)
    registry = build_registry(
        rows, meta={"built_from": "shared/data (real sources, full build)", "label_stats": "train split"}
    )
    registry.to_json(res / "registry.json")
    import json

    (res / "motif_effects.json").write_text(json.dumps(build_effects(data_dir), indent=1) + "\n")
    (res / "motifs").mkdir(exist_ok=True)
    for name in ("CPEs.meme", "TF-clusters.meme"):
        target = res / "motifs" / name
        shutil.copyfile(data_dir / "promoters" / "jores2021_motifs" / name, target)
        target.chmod(0o644)
    mini = out / "mini_data"
    if mini.exists():
        shutil.rmtree(mini)
    counts = make_mini(data_dir, mini)
    make_pgb_fasta(data_dir, out / "pgb_fasta")
    print(f"registry: {len(registry)} keys; mini_data rows: {sum(counts.values())}")
    for k, v in counts.items():
        print(f"  {k}: {v}")


if __name__ == "__main__":
    main()
