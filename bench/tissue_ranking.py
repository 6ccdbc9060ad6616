"""In which tissue is this gene most expressed? The model's per-gene ranking of the tissues of its species on
validation genes, against the average tissue profile of the training rows and against chance.

Not a test: reads the validation rows of the tissue keys (and the training rows, for the average profile) only.
A gene is one promoter sequence with one row per tissue key of its species; kept when it is measured in every
tissue of its species and expressed in at least one (some measurement > 0). Per gene: Spearman across tissues of
the prediction (or of the average profile) against the measurement; top-1: the tissue ranked first is a measured
top tissue (any of them when several tie); top-3: a measured top tissue is among the three ranked first. The
extra, "deviations": Spearman of the prediction minus the average profile against the measurement minus the
average profile, i.e. whether the model knows how a gene departs from the usual profile (0 when it does not).

    python bench/tissue_ranking.py --out bench/results/tissue_ranking_validation.json
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from math import comb
from pathlib import Path

import numpy as np
import torch
from _common import report
from scipy.stats import rankdata

SPECIES = ("maize", "sorghum")
PREFIX = "tissue_expression/"


def row_spearman(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman between the rows of ``a`` and ``b`` (genes x tissues; average ranks for ties); NaN for a
    constant row."""
    ra, rb = rankdata(a, axis=1), rankdata(b, axis=1)
    ra, rb = ra - ra.mean(1, keepdims=True), rb - rb.mean(1, keepdims=True)
    den = np.sqrt((ra**2).sum(1) * (rb**2).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (ra * rb).sum(1) / den, np.nan)


def top_k_hit(score: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """Per gene: one of the ``k`` tissues with the highest ``score`` is a tissue of maximal ``y``."""
    top = np.argsort(-score, axis=1, kind="stable")[:, :k]
    best = y == y.max(1, keepdims=True)
    return np.take_along_axis(best, top, axis=1).any(1)


def chance_top_k(y: np.ndarray, k: int) -> float:
    """Expected top-k accuracy of a random ranking, ties at the top counted (k / tissues without ties)."""
    t = y.shape[1]
    ties = (y == y.max(1, keepdims=True)).sum(1)
    return float(np.mean([1 - comb(t - m, k) / comb(t, k) for m in ties]))


def mean_sem(x: np.ndarray) -> dict:
    x = x[~np.isnan(x)]
    return {"mean": float(x.mean()), "sem": float(x.std(ddof=1) / np.sqrt(len(x))), "n": int(len(x))}


def gene_matrix(rows: dict[str, list[dict]], ks: list[str]) -> tuple[int, int, np.ndarray]:
    """Measurements (genes x ``ks``) of the genes measured in every tissue of ``ks`` and above 0 in one; also the
    number of genes and of complete genes before the expression filter."""
    genes: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for k in ks:
        for r in rows[k]:
            genes[(r["group"], r["sequence"])][k] = r["target"]
    complete = [g for g in genes.values() if len(g) == len(ks)]
    y = np.array([[g[k] for k in ks] for g in complete]).reshape(-1, len(ks))
    return len(genes), len(complete), y[y.max(1) > 0]


def species_keys(known: list[str], species: str) -> list[str]:
    return sorted(k for k in known if k.startswith(f"{PREFIX}{species}:"))


def _top_k(p: np.ndarray, prof: np.ndarray, often: np.ndarray, y: np.ndarray, k: int, t: int) -> dict:
    """How often the model's, the average profile's and the most-often-top ranking put a gene's measured top
    tissue among their first ``k``, and chance (``t`` tissues)."""
    return {
        "model": float(top_k_hit(p, y, k).mean()),
        "profile": float(top_k_hit(prof, y, k).mean()),
        "most_often_top": float(top_k_hit(often, y, k).mean()),
        "chance": k / t,
        "chance_with_ties": chance_top_k(y, k),
    }


def r2(pred: np.ndarray, y: np.ndarray) -> float:
    return float(1 - ((y - pred) ** 2).sum() / ((y - y.mean()) ** 2).sum())


def level_and_place(p: np.ndarray, y: np.ndarray) -> dict:
    """How much of a tissue key's variance across genes is the gene's overall level and how much is where it is
    expressed, and which of the two the model carries (genes x tissues of one species). ``level_oracle_r2``: per
    tissue, R² of the gene's measured mean over its other tissues (knowing how strongly a gene is expressed, not
    where); ``model_r2``: per tissue, the model's R²; ``model_level_r2``: the model's gene means against the measured
    ones; ``model_place_r2``: the model's deviations from its gene mean against the measured deviations, pooled."""
    t = y.shape[1]
    others = (y.sum(1, keepdims=True) - y) / (t - 1)  # (G, T): the gene's mean over its other tissues
    fit = [np.polyval(np.polyfit(others[:, j], y[:, j], 1), others[:, j]) for j in range(t)]  # linear rescale
    oracle = [r2(fit[j], y[:, j]) for j in range(t)]
    model = [r2(p[:, j], y[:, j]) for j in range(t)]
    gm_y, gm_p = y.mean(1), p.mean(1)
    dev_y, dev_p = y - gm_y[:, None], p - gm_p[:, None]
    between = t * ((gm_y - gm_y.mean()) ** 2).sum()
    return {
        "between_gene_share_of_variance": float(between / ((y - y.mean()) ** 2).sum()),
        "level_oracle_r2": {
            "mean": float(np.mean(oracle)),
            "min": float(min(oracle)),
            "max": float(max(oracle)),
        },
        "model_r2": {"mean": float(np.mean(model)), "min": float(min(model)), "max": float(max(model))},
        "model_level_r2": r2(np.polyval(np.polyfit(gm_p, gm_y, 1), gm_p), gm_y),
        "model_level_pearson": float(np.corrcoef(gm_p, gm_y)[0, 1]),
        "model_place_pearson": float(np.corrcoef(dev_p.ravel(), dev_y.ravel())[0, 1]),
    }


def ranking_accuracy(out: dict) -> dict:
    """Per species, what a ranking answer says about itself: validation genes, how often the tissue ranked first
    (or one of the first three) was the gene's measured top tissue, and chance."""
    return {
        sp: {
            "split": out["split"],
            "genes": r["genes"],
            "top1": round(r["top1"]["model"], 4),
            "top3": round(r["top3"]["model"], 4),
            "chance_top1": round(r["top1"]["chance"], 4),
        }
        for sp, r in out["species"].items()
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=None, help="data directory (default: the shared source data)")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path)
    ap.add_argument(
        "--model-file",
        type=Path,
        help="also write each species' top-1/top-3 hit rates here (the model folder's ranking.json: ranking "
        "answers say how often their top tissue is right)",
    )
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from agrochat.chat import DEFAULT_MODEL_DIR, Assistant
    from agrochat.chat.evaluate import evaluate_fast
    from agrochat.data_gen.regression import rows_by_key
    from agrochat.provenance import provenance

    split = "validation"  # this script never reads the test split
    a = Assistant.from_pretrained()
    keys = {sp: species_keys(a.known_keys, sp) for sp in SPECIES}
    every = [k for sp in SPECIES for k in keys[sp]]
    rows = rows_by_key(args.data, split, every)
    train = rows_by_key(args.data, "train", every)
    ev = evaluate_fast(a, args.data, split=split, keys=every, batch_size=args.batch_size, ridge=False)
    prov = provenance(split, DEFAULT_MODEL_DIR, sum(len(v) for v in rows.values()), args.data)
    prov["also_read"] = {
        "split": "train",
        "rows": sum(len(v) for v in train.values()),
        "why": "average profile",
    }

    out: dict = {
        "split": split,
        "profile": "mean measured value per tissue key over its training rows (the same ranking for every gene)",
        "gene": "one promoter sequence (and gene id) with one validation row per tissue key of its species",
        "kept": "genes measured in every tissue of their species and above 0 in at least one",
        "most_often_top": "tissues ranked by how often each is the top tissue of a training gene (complete, "
        "expressed genes; ties at the top count for each tied tissue): a second fixed ranking",
        "top_k": "hit when one of the k tissues ranked first has the gene's maximal measurement (ties: any)",
        "species": {},
    }
    for sp in SPECIES:
        ks = keys[sp]
        genes: dict[tuple[str, str], dict[str, tuple[float, float]]] = defaultdict(dict)
        for key in ks:
            pts = ev[key]["points"]
            assert len(pts["pred"]) == len(rows[key]), key
            for r, y, p in zip(rows[key], pts["target"], pts["pred"], strict=True):
                assert abs(r["target"] - y) < 1e-4, (key, r["id"])  # the points are in row order
                assert (r["group"], r["sequence"]) not in genes or key not in genes[
                    (r["group"], r["sequence"])
                ]
                genes[(r["group"], r["sequence"])][key] = (r["target"], p)
        complete = {g: v for g, v in genes.items() if len(v) == len(ks)}
        y = np.array([[v[k][0] for k in ks] for v in complete.values()]).reshape(-1, len(ks))
        p = np.array([[v[k][1] for k in ks] for v in complete.values()]).reshape(-1, len(ks))
        keep = y.max(1) > 0
        y, p = y[keep], p[keep]
        profile = np.array([np.mean([r["target"] for r in train[k]]) for k in ks])
        prof = np.broadcast_to(profile, y.shape)
        _, _, ty = gene_matrix(train, ks)  # training genes: how often each tissue is a gene's top tissue
        often = np.broadcast_to((ty == ty.max(1, keepdims=True)).mean(0), y.shape)
        rho_model, rho_prof = row_spearman(p, y), row_spearman(prof, y)
        diff = rho_model - rho_prof
        t = len(ks)
        out["species"][sp] = {
            "tissues": t,
            "genes_in_validation": len(genes),
            "genes_all_tissues": len(complete),
            "genes": int(keep.sum()),
            "train_rows_per_tissue": {k.split(":", 1)[1]: len(train[k]) for k in ks},
            "profile": {k.split(":", 1)[1]: float(v) for k, v in zip(ks, profile, strict=True)},
            "profile_top_tissue": ks[int(np.argmax(profile))].split(":", 1)[1],
            "train_genes": len(ty),
            "most_often_top_tissue": ks[int(np.argmax(often[0]))].split(":", 1)[1],
            "spearman": {
                "model": mean_sem(rho_model),
                "profile": mean_sem(rho_prof),
                "most_often_top": mean_sem(row_spearman(often, y)),
                "model_minus_profile": mean_sem(diff),
                "share_of_genes_model_above_profile": float(np.mean(diff[~np.isnan(diff)] > 0)),
                "model_vs_profile_agreement": mean_sem(row_spearman(p, prof)),
                "deviations_from_profile": mean_sem(row_spearman(p - prof, y - prof)),
            },
            **{f"top{k}": _top_k(p, prof, often, y, k, t) for k in (1, 3)},
            "level_and_place": level_and_place(p, y),
            "genes_with_tied_top_tissues": int(((y == y.max(1, keepdims=True)).sum(1) > 1).sum()),
            "measured_top_tissue_counts": {
                k.split(":", 1)[1]: int(c)
                for k, c in zip(ks, np.bincount(np.argmax(y, 1), minlength=t), strict=True)
                if c
            },
            "predicted_top_tissue_counts": {
                k.split(":", 1)[1]: int(c)
                for k, c in zip(ks, np.bincount(np.argmax(p, 1), minlength=t), strict=True)
                if c
            },
        }
    report(out, args.out, prov)
    if args.model_file:
        args.model_file.write_text(json.dumps(ranking_accuracy(out), indent=1) + "\n")
    print(
        "\nspecies | genes | Spearman model / profile | top-1 model / profile / most-often-top / chance | "
        "top-3 model / profile / most-often-top"
    )
    for sp, r in out["species"].items():
        s, t1, t3 = r["spearman"], r["top1"], r["top3"]
        print(
            f"{sp} | {r['genes']} | {s['model']['mean']:.3f} / {s['profile']['mean']:.3f} | "
            f"{t1['model']:.3f} / {t1['profile']:.3f} / {t1['most_often_top']:.3f} / {t1['chance']:.3f} | "
            f"{t3['model']:.3f} / {t3['profile']:.3f} / {t3['most_often_top']:.3f} | "
            f"deviations {s['deviations_from_profile']['mean']:.3f}"
        )
    print(
        "\nspecies | between-gene share | level oracle R² (mean) | model R² (mean) | model level Pearson | place Pearson"
    )
    for sp, r in out["species"].items():
        lp = r["level_and_place"]
        print(
            f"{sp} | {lp['between_gene_share_of_variance']:.3f} | {lp['level_oracle_r2']['mean']:.3f} | "
            f"{lp['model_r2']['mean']:.3f} | {lp['model_level_pearson']:.3f} | {lp['model_place_pearson']:.3f}"
        )


if __name__ == "__main__":
    main()
