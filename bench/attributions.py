"""Attributions of the shipped model, measured: ISM vs DeepLIFT/SHAP, and marginalised Jores elements vs the library.

Not a test: numbers from one run of the shipped model (src/agrochat/chat/default_model) on the CPU it runs on
(2 shared cores, one torch thread, for the numbers in bench/results). Keys: ``promoter_strength/leaf`` (tobacco
leaf) and ``promoter_strength/protoplast`` (maize protoplast).

A. ``--part ism_vs_deeplift``: on ``--n`` promoters per key (seeded sample of the validation split, or of the
   official test split only with ``--split test``; the results file's ``provenance`` says which), the per-base
   attribution by in-silico saturation mutagenesis (:func:`agrochat.chat.interpret.ism` and ``ism_attribution``)
   and by DeepLIFT/SHAP (:func:`agrochat.chat.interpret.deeplift_shap`, 20 dinucleotide-shuffled references,
   seed ``--seed``): Pearson and Spearman r between the two over the bases of each sequence (median, IQR, mean)
   and pooled over all bases; wall time per sequence of each method. DeepLIFT's convergence: tangermeme is run
   a second time on the same references (same seed) with ``raw_outputs=True`` to read its multipliers, and the
   references are scored: per sequence ``|sum(attr) - (y - mean y_ref)| / |y - mean y_ref|``, and per
   example-reference pair tangermeme's own delta ``|(y - y_ref) - sum((x - ref) * multipliers)|`` (it warns when
   the mean delta of a batch is over 1 % of the mean absolute output difference). The attribution rebuilt from
   those multipliers is checked against ``deeplift_shap``'s (largest absolute difference recorded).
B. ``--part marginalize``: each Jores et al. 2021 core promoter element and TF cluster, as the consensus (argmax
   base per column) of its PWM in ``CPEs.meme`` / ``TF-clusters.meme``, forward strand, is inserted
   (tangermeme's ``marginalize``) into ``--backgrounds`` backgrounds per key: that key's validation promoters
   (seeded sample; always the validation split), each dinucleotide-shuffled once (tangermeme's
   ``dinucleotide_shuffle``, seeded). The mean predicted change per element is set against the library's
   measured element effect (Supp. Table 4, the condition the key was trained on: leaf_withENH_dark /
   proto_withENH_dark): Pearson and Spearman r for the core elements, the TF clusters and all, beside the
   knockout numbers of ``bench/results/biology_checks.json`` (read from that file, not recomputed).
   Positions (TSS-relative, +1 = the TSS, no 0): TATA box centred on -30 (its 8-bp core TATAAATA at -33..-26);
   BREu directly upstream and BREd directly downstream of that core (the annotator's rule: BREu starts 4 bp
   before the TATA PWM, BREd 12 bp after its start); Inr with its CA dinucleotide's A at +1; TCT with its C at +1;
   Y patch centred on -15; every TF cluster centred on ``--tf-position`` (default -80).

    python bench/attributions.py --part both --split test --n 200 --backgrounds 100
    python bench/attributions.py --part ism_vs_deeplift --n 5 --out /tmp/attributions_small   # a timing run

Writes ``--out`` (default bench/results/attributions.json) and a ``.md`` beside it with the tables.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from _common import add_split_argument
from biology_checks import corr
from scipy import stats

import agrochat.chat
from agrochat.bridge import DnaLanguageModel
from agrochat.bridge.onehot import OneHotPredictor, one_hot_sequences
from agrochat.chat import interpret
from agrochat.data_gen.paths import resolve_data_dir
from agrochat.data_gen.regression import rows_by_key
from agrochat.domain import tasks as T
from agrochat.domain.effects import SIGNIFICANCE_P
from agrochat.domain.motifs import CPE_NAMES, promoter_index, promoter_rel
from agrochat.domain.paths import MOTIFS_DIR

ROOT = Path(__file__).resolve().parents[1]
# the model Assistant.from_pretrained() loads (its number paths only: no planner or writer is needed here)
MODEL_DIR = Path(agrochat.chat.__file__).parent / "default_model"
BENCH_KEYS = ("promoter_strength/leaf", "promoter_strength/protoplast")
SYSTEMS = {"promoter_strength/leaf": "tobacco leaf", "promoter_strength/protoplast": "maize protoplast"}
TABLE4 = "promoters/jores2021_supp_tables/SuppTable4_CPE_TF_effect_summary.tsv"
KNOCKOUTS = ROOT / "bench/results/biology_checks.json"
N_SHUFFLES = 20  # DeepLIFT/SHAP references, as interpret.deeplift_shap's default
TATA_CENTRE = -30
YPATCH_CENTRE = -15
T0 = time.perf_counter()


def log(msg: str) -> None:
    print(f"[{time.perf_counter() - T0:7.1f}s] {msg}", flush=True)


def summary(x) -> dict:
    """Median, quartiles, mean, min and max of a series."""
    x = np.asarray(x, float)
    q1, med, q3 = np.percentile(x, [25, 50, 75])
    return {
        "n": int(len(x)),
        "median": float(med),
        "iqr": [float(q1), float(q3)],
        "mean": float(x.mean()),
        "min": float(x.min()),
        "max": float(x.max()),
    }


def sample(n_rows: int, n: int, seed: int) -> np.ndarray:
    """Sorted indices of a seeded sample of ``min(n, n_rows)`` rows."""
    return np.sort(np.random.default_rng(seed).choice(n_rows, size=min(n, n_rows), replace=False))


# ---- A. ISM vs DeepLIFT/SHAP -----------------------------------------------------------------------------
def convergence(pred: OneHotPredictor, seq: str, attr: np.ndarray, seed: int) -> dict:
    """DeepLIFT/SHAP's summation-to-delta on ``seq`` with ``deeplift_shap``'s references (same seed)."""
    from tangermeme.deep_lift_shap import deep_lift_shap, hypothetical_attributions

    x = one_hot_sequences([seq])  # (1, 4, L)
    with warnings.catch_warnings():  # the deltas are measured here
        warnings.simplefilter("ignore")
        res = deep_lift_shap(
            pred,
            x,
            n_shuffles=N_SHUFFLES,
            random_state=seed,
            device="cpu",
            raw_outputs=True,
            return_references=True,
        )
    mult = res.attributions[0].float()  # (S, 4, L) multipliers per reference
    refs = res.references[0].float()  # (S, 4, L)
    with torch.no_grad():
        y = pred(torch.cat([x, refs]))[:, 0]  # (1 + S,)
    out_diff = y[0] - y[1:]  # (S,) y - y_ref
    in_diff = ((x - refs) * mult).sum((1, 2))  # (S,) sum of the pair's contributions
    pair_delta = (out_diff - in_diff).abs()  # (S,) tangermeme's convergence delta
    hyp = hypothetical_attributions((mult,), (x.expand_as(refs),), (refs,))[0]  # (S, 4, L)
    rebuilt = (hyp.mean(0) * x[0]).sum(0).numpy()  # (L,) as deep_lift_shap averages and projects
    target = float(y[0] - y[1:].mean())  # y - mean y_ref
    seq_delta = abs(float(attr.sum()) - target)
    return {
        "seq_delta": seq_delta,
        "seq_target": target,
        "seq_relative": seq_delta / max(abs(target), 1e-12),
        "pair_relative": float(pair_delta.mean() / out_diff.abs().mean().clamp_min(1e-12)),
        "pair_delta_mean": float(pair_delta.mean()),
        "rebuilt_max_abs_diff": float(np.abs(rebuilt - attr).max()),
    }


def ism_vs_deeplift(model: DnaLanguageModel, rows: dict[str, list[dict]], n: int, seed: int) -> dict:
    out = {}
    for key in BENCH_KEYS:
        pred = interpret.predictor(model, key)
        key_rows = rows[key]
        idx = sample(len(key_rows), n, seed)
        log(f"A. {key}: ISM and DeepLIFT/SHAP on {len(idx)} of {len(key_rows)} promoters")
        r_p, r_s, t_ism, t_dl, conv, a_ism, a_dl, ids = [], [], [], [], [], [], [], []
        for j, i in enumerate(idx):
            seq = key_rows[i]["sequence"]
            t = time.perf_counter()
            ai = interpret.ism_attribution(interpret.ism(pred, seq))  # (L,)
            t_ism.append(time.perf_counter() - t)
            t = time.perf_counter()
            ad = interpret.deeplift_shap(pred, seq, n_shuffles=N_SHUFFLES, seed=seed)  # (L,)
            t_dl.append(time.perf_counter() - t)
            conv.append(convergence(pred, seq, ad, seed))
            r_p.append(float(np.corrcoef(ai, ad)[0, 1]))
            r_s.append(float(stats.spearmanr(ai, ad)[0]))
            a_ism.append(ai)
            a_dl.append(ad)
            ids.append(key_rows[i]["id"])
            if (j + 1) % 25 == 0:
                log(
                    f"   {j + 1}/{len(idx)}: median r {np.median(r_p):.3f}, ISM {np.mean(t_ism):.2f}s, "
                    f"DeepLIFT/SHAP {np.mean(t_dl):.2f}s per sequence"
                )
        seq_rel = np.array([c["seq_relative"] for c in conv])
        pair_rel = np.array([c["pair_relative"] for c in conv])
        pooled_target = sum(abs(c["seq_target"]) for c in conv)
        out[key] = {
            "system": SYSTEMS[key],
            "sequences": len(idx),
            "length": len(key_rows[idx[0]]["sequence"]),
            "per_base_pearson": summary(r_p),
            "per_base_spearman": summary(r_s),
            "pooled_pearson_all_bases": float(np.corrcoef(np.concatenate(a_ism), np.concatenate(a_dl))[0, 1]),
            "share_sequences_r_below_0.5": float(np.mean(np.array(r_p) < 0.5)),
            "convergence": {
                "per_sequence_relative_delta": summary(seq_rel),
                "pooled_relative_delta": sum(c["seq_delta"] for c in conv) / max(pooled_target, 1e-12),
                "per_pair_relative_delta": summary(pair_rel),
                "share_sequences_pair_delta_over_1pct": float(np.mean(pair_rel > 0.01)),
                "mean_abs_pair_delta": float(np.mean([c["pair_delta_mean"] for c in conv])),
                "mean_abs_y_minus_mean_y_ref": pooled_target / len(conv),
                "rebuilt_vs_deeplift_shap_max_abs_diff": max(c["rebuilt_max_abs_diff"] for c in conv),
            },
            "seconds_per_sequence": {
                "ism": {"mean": float(np.mean(t_ism)), "median": float(np.median(t_ism))},
                "deeplift_shap": {"mean": float(np.mean(t_dl)), "median": float(np.median(t_dl))},
            },
            "row_ids": ids,
        }
        o = out[key]
        log(
            f"   per-base Pearson median {o['per_base_pearson']['median']:.3f}, pooled "
            f"{o['pooled_pearson_all_bases']:.3f}; convergence: median relative delta "
            f"{o['convergence']['per_sequence_relative_delta']['median']:.3f}"
        )
    return out


# ---- B. marginalisation vs Supp. Table 4 -------------------------------------------------------------------
def element_name(meme_key: str, file: str) -> str:
    """Supp. Table 4 name of a MEME key ("TATA TATA" -> "TATA", "POL006.1 BREu" -> "BREu", "TF-cluster_7 bZIP"
    -> "TF_7")."""
    ident, _, alt = meme_key.partition(" ")
    if file == "CPEs.meme":
        return alt or ident
    return f"TF_{ident.rsplit('_', 1)[-1]}"


def consensus_motifs() -> dict[str, tuple[str, str]]:
    """(consensus, family) per element: the argmax base of every PWM column."""
    from memelite.io import read_meme

    out = {}
    for file in ("CPEs.meme", "TF-clusters.meme"):
        for key, pwm in read_meme(str(MOTIFS_DIR / file)).items():  # pwm: (4, w)
            name = element_name(key, file)
            family = "core promoter element" if file == "CPEs.meme" else key.partition(" ")[2]
            out[name] = ("".join("ACGT"[i] for i in np.asarray(pwm).argmax(0)), family)
    missing = [n for n in CPE_NAMES if n not in out]
    if missing or len(out) != len(CPE_NAMES) + 72:
        raise AssertionError(f"motif files: {len(out)} elements, missing {missing}")
    return out


def insert_start(name: str, width: int, length: int, tf_rel: int, tata_width: int) -> int:
    """0-based start of an element's insertion (see the module docstring for the positions)."""
    tata_start = promoter_index(TATA_CENTRE, length) - (tata_width - 1) // 2
    if name == "TATA":
        return tata_start
    if name == "BREu":
        return tata_start - 4
    if name == "BREd":
        return tata_start + 12
    if name == "Inr":
        return promoter_index(1, length) - 6  # CTATTCATCA: the A of CA at +1
    if name == "TCT":
        return promoter_index(1, length) - 1  # TCTTTT: the C at +1
    if name == "Ypatch":
        return promoter_index(YPATCH_CENTRE, length) - (width - 1) // 2
    return promoter_index(tf_rel, length) - (width - 1) // 2


def supp_table4(data_dir: str | None, condition: str) -> dict[str, tuple[float, float]]:
    """(mean effect, p-value) per element in ``condition`` from Supp. Table 4."""
    path = resolve_data_dir(data_dir) / TABLE4
    with open(path, newline="") as fh:
        return {
            r["element"]: (float(r[f"{condition}_mean"]), float(r[f"{condition}_pvalue"]))
            for r in csv.DictReader(fh, delimiter="\t")
        }


def knockout_numbers() -> dict:
    """The element-knockout correlations of bench/results/biology_checks.json per key, as stored there (the core
    elements' correlation from its stored per-element numbers)."""
    if not KNOCKOUTS.exists():
        return {}
    data = json.loads(KNOCKOUTS.read_text())
    meta = data.get("meta", {})
    out = {
        "file": str(KNOCKOUTS.relative_to(ROOT)),
        "run": meta.get("date"),
        "split": meta.get("split") or (data.get("provenance") or {}).get("split"),
    }
    if out["split"] is None:  # files written before the split was recorded name their carriers by split
        els = [e for o in data.get("element_effects", {}).values() for e in o["elements"]]
        out["split"] = (
            "test (per-element 'carriers_in_test')" if els and "carriers_in_test" in els[0] else "?"
        )
    for key, o in data.get("element_effects", {}).items():
        core = o["core_elements"]
        out[key] = {
            "all": o["all"],
            "tf_clusters": o["tf_clusters_only"],
            "paper_significant": o["paper_significant_only"],
            "core_elements": corr([v["model"] for v in core.values()], [v["paper"] for v in core.values()]),
            "core_elements_included": sorted(core),
            "elements": sorted(e["element"] for e in o["elements"]),
        }
    return out


def marginalize_elements(
    model: DnaLanguageModel,
    rows: dict[str, list[dict]],
    n_bg: int,
    seed: int,
    tf_rel: int,
    data_dir: str | None,
    knockouts: dict,
) -> dict:
    from tangermeme.ersatz import dinucleotide_shuffle
    from tangermeme.marginalize import marginalize

    motifs = consensus_motifs()
    out: dict = {"positions": {}, "per_key": {}}
    for key in BENCH_KEYS:
        cond = T.effect_condition(key)
        table = supp_table4(data_dir, cond)
        key_rows = rows[key]
        idx = sample(len(key_rows), n_bg, seed)
        x = one_hot_sequences([key_rows[i]["sequence"] for i in idx])  # (B, 4, L)
        length = x.shape[-1]
        bg = dinucleotide_shuffle(x, n=1, random_state=seed)[:, 0].float()  # (B, 4, L)
        pred = interpret.predictor(model, key)
        log(f"B. {key}: {len(motifs)} elements into {len(idx)} shuffled validation promoters")
        elements = []
        for name, (cons, family) in motifs.items():
            start = insert_start(name, len(cons), length, tf_rel, len(motifs["TATA"][0]))
            res = marginalize(pred, bg, cons, start=start, batch_size=128, device="cpu")
            before, after = res.y_before[:, 0], res.y_after[:, 0]  # (B,), (B,)
            d = (after - before).numpy()
            mean, p = table[name]
            elements.append(
                {
                    "element": name,
                    "family": family,
                    "core": name in CPE_NAMES,
                    "predicted_mean_effect": float(d.mean()),
                    "predicted_median_effect": float(np.median(d)),
                    "predicted_sd": float(d.std()),
                    "share_raised": float((d > 0).mean()),
                    "library_mean_effect": mean,
                    "library_p": p,
                    "library_significant": p < SIGNIFICANCE_P,
                }
            )
            out["positions"][name] = {
                "consensus": cons,
                "start_0based": start,
                "tss_relative": [promoter_rel(start, length), promoter_rel(start + len(cons) - 1, length)],
            }
        out["per_key"][key] = summarise_b(key, cond, elements, float(before.mean()), knockouts.get(key))
        o = out["per_key"][key]
        o["bre_with_tata"] = bre_with_tata(pred, bg, motifs, length, tf_rel, table)
        core = {n: v["library"] for n, v in o["core_elements"].items()}
        pred_core = {n: v["predicted"] for n, v in o["core_elements"].items()}
        pred_core.update({n: v["predicted_mean_effect"] for n, v in o["bre_with_tata"].items()})
        o["marginalize"]["core_elements_bre_with_tata"] = corr(
            [pred_core[n] for n in CPE_NAMES], [core[n] for n in CPE_NAMES]
        )
        log(
            f"   all: Pearson {o['marginalize']['all']['pearson']:.3f}, Spearman "
            f"{o['marginalize']['all']['spearman']:.3f}; TATA {o['core_elements']['TATA']['predicted']:+.2f} "
            f"(library {o['core_elements']['TATA']['library']:+.2f})"
        )
    out["backgrounds"] = {
        "source": "validation promoters of each key (seeded sample), dinucleotide-shuffled once each",
        "per_key": n_bg,
    }
    return out


def bre_with_tata(
    pred: OneHotPredictor, bg: torch.Tensor, motifs: dict, length: int, tf_rel: int, table: dict
) -> dict:
    """BREu / BREd marginalised into the backgrounds with the TATA consensus already in place (the library calls
    a BRE only beside a TATA box, so its Supp. Table 4 effect is one among TATA promoters): the change from
    background + TATA to background + TATA + BRE (the BRE overwrites the TATA consensus's 4 flanking bases)."""
    from tangermeme.ersatz import substitute
    from tangermeme.marginalize import marginalize

    tata = motifs["TATA"][0]
    with_tata = substitute(
        bg, tata, start=insert_start("TATA", len(tata), length, tf_rel, len(tata))
    )  # (B, 4, L)
    out = {}
    for name in ("BREu", "BREd"):
        cons = motifs[name][0]
        start = insert_start(name, len(cons), length, tf_rel, len(tata))
        res = marginalize(pred, with_tata.float(), cons, start=start, batch_size=128, device="cpu")
        d = (res.y_after - res.y_before)[:, 0].numpy()  # (B,)
        out[name] = {
            "predicted_mean_effect": float(d.mean()),
            "predicted_sd": float(d.std()),
            "share_raised": float((d > 0).mean()),
            "library_mean_effect": table[name][0],
        }
    return out


def summarise_b(key: str, cond: str, elements: list[dict], bg_mean: float, ko: dict | None) -> dict:
    def c(sel) -> dict:
        return corr(
            [e["predicted_mean_effect"] for e in sel],
            [e["library_mean_effect"] for e in sel],
        )

    core = [e for e in elements if e["core"]]
    tf = [e for e in elements if not e["core"]]
    sig = [e for e in elements if e["library_significant"]]
    res = {
        "system": SYSTEMS[key],
        "condition": cond,
        "background_mean_prediction": bg_mean,
        "marginalize": {
            "core_elements": c(core),
            "tf_clusters": c(tf),
            "all": c(elements),
            "paper_significant": c(sig),
            "sign_agreement_paper_significant": float(
                np.mean(
                    [np.sign(e["predicted_mean_effect"]) == np.sign(e["library_mean_effect"]) for e in sig]
                )
            ),
        },
        "core_elements": {
            e["element"]: {
                "predicted": round(e["predicted_mean_effect"], 4),
                "library": e["library_mean_effect"],
            }
            for e in core
        },
        "elements": elements,
    }
    if ko is not None:
        same = [e for e in elements if e["element"] in set(ko["elements"])]
        kcore = [e for e in core if e["element"] in set(ko["core_elements_included"])]
        res["marginalize"]["knockout_elements"] = c(same)
        res["marginalize"]["knockout_core_elements"] = c(kcore)
        res["knockout"] = {k: v for k, v in ko.items() if k != "elements"}
    return res


# ---- report ----------------------------------------------------------------------------------------------
def _f(x, fmt: str = "{:.3f}") -> str:
    return "–" if x is None else fmt.format(x)


def _rs(c: dict | None) -> str:
    """'Pearson / Spearman (n)'."""
    if c is None:
        return "–"
    return f"{_f(c['pearson'], '{:.2f}')} / {_f(c['spearman'], '{:.2f}')} ({c['n']})"


def markdown(res: dict) -> str:
    m = res["meta"]
    split = "official test" if m["split_ism_vs_deeplift"] == "test" else m["split_ism_vs_deeplift"]
    L = [
        f"# Attributions of the shipped model ({m['date']})",
        "",
        f"`{m['command']}`: {m['seconds_total'] / 60:.1f} min on {m['cpu_count']} CPU cores "
        f"({m['torch_threads']} torch thread, machine shared with other work; load average "
        f"{m['loadavg_start']} at the start). Seed {m['seed']}.",
    ]
    a = res.get("ism_vs_deeplift") or {}
    if a:
        L += [
            "",
            f"## A. ISM vs DeepLIFT/SHAP on {split} promoters",
            "",
            "Per-base attribution of the observed base: ISM (every substitution scored; the observed base's "
            "change minus the mean over the four bases) and DeepLIFT/SHAP (tangermeme, "
            f"{N_SHUFFLES} dinucleotide-shuffled references). r between the two over the bases of each sequence.",
            "",
            "| key (system) | sequences | per-base Pearson median (IQR) | mean | Spearman median | "
            "pooled Pearson, all bases | sequences with r < 0.5 | s/sequence ISM | s/sequence DeepLIFT/SHAP |",
            "|---|---:|---|---:|---:|---:|---:|---:|---:|",
        ]
        for key, o in a.items():
            p, s, t = o["per_base_pearson"], o["per_base_spearman"], o["seconds_per_sequence"]
            L.append(
                f"| {key} ({o['system']}) | {o['sequences']} | {p['median']:.3f} ({p['iqr'][0]:.3f} to "
                f"{p['iqr'][1]:.3f}) | {p['mean']:.3f} | {s['median']:.3f} | "
                f"{o['pooled_pearson_all_bases']:.3f} | {o['share_sequences_r_below_0.5']:.0%} | "
                f"{t['ism']['mean']:.2f} | {t['deeplift_shap']['mean']:.2f} |"
            )
        L += [
            "",
            "DeepLIFT/SHAP convergence (summation to delta). Per sequence: |sum(attr) − (y − mean y_ref)| / "
            "|y − mean y_ref|; per example-reference pair (tangermeme's delta, which it warns about above 1 % of "
            "the output difference): mean |(y − y_ref) − sum((x − ref) · multipliers)| / mean |y − y_ref|.",
            "",
            "| key | per-sequence relative delta: median (IQR) | mean | pooled | per-pair relative delta: "
            "median (IQR) | sequences over 1 % | mean abs(y − mean y_ref) |",
            "|---|---|---:|---:|---|---:|---:|",
        ]
        for key, o in a.items():
            c = o["convergence"]
            s, pp = c["per_sequence_relative_delta"], c["per_pair_relative_delta"]
            L.append(
                f"| {key} | {s['median']:.3f} ({s['iqr'][0]:.3f} to {s['iqr'][1]:.3f}) | {s['mean']:.3f} | "
                f"{c['pooled_relative_delta']:.3f} | {pp['median']:.3f} ({pp['iqr'][0]:.3f} to "
                f"{pp['iqr'][1]:.3f}) | {c['share_sequences_pair_delta_over_1pct']:.0%} | "
                f"{c['mean_abs_y_minus_mean_y_ref']:.3f} |"
            )
    b = res.get("marginalize") or {}
    if b:
        pos = b["positions"]
        L += [
            "",
            "## B. Marginalised Jores et al. 2021 elements vs the library's measured effect (Supp. Table 4)",
            "",
            f"Each element's PWM consensus (argmax per column), forward strand, inserted into "
            f"{b['backgrounds']['per_key']} backgrounds per key ({b['backgrounds']['source']}); mean predicted "
            "change against the library's mean strength difference with vs without the element "
            "(Supp. Table 4, the key's condition). Positions (TSS-relative, +1 = TSS): "
            + "; ".join(
                f"{n} {pos[n]['consensus']} {pos[n]['tss_relative'][0]:+d}..{pos[n]['tss_relative'][1]:+d}"
                for n in CPE_NAMES
            )
            + f"; TF clusters centred on {b['tf_position']:+d} (e.g. TF_1 {pos['TF_1']['tss_relative'][0]:+d}.."
            f"{pos['TF_1']['tss_relative'][1]:+d}).",
            "",
            "Pearson / Spearman (n elements). Knockout: bench/results/biology_checks.json (run "
            f"{b.get('knockout_run', '–')}, split: {b.get('knockout_split', '–')}; knockouts in natural promoters carrying the element, elements with "
            "≥ 30 carriers; its core-element r is computed from the per-element numbers stored there).",
            "",
            "| key (system) | core: marginalise | core: knockout | TF clusters: marginalise | TF clusters: "
            "knockout | all: marginalise | all: knockout | marginalise on the knockout's elements | "
            "library-significant: marginalise | library-significant: knockout |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for key, o in b["per_key"].items():
            mg, ko = o["marginalize"], o.get("knockout", {})
            L.append(
                f"| {key} ({o['system']}, {o['condition']}) | {_rs(mg['core_elements'])} | "
                f"{_rs(ko.get('core_elements'))} | {_rs(mg['tf_clusters'])} | {_rs(ko.get('tf_clusters'))} | "
                f"{_rs(mg['all'])} | {_rs(ko.get('all'))} | {_rs(mg.get('knockout_elements'))} | "
                f"{_rs(mg['paper_significant'])} | {_rs(ko.get('paper_significant'))} |"
            )
        L += [
            "",
            "Core elements, predicted marginal effect / library effect (log2):",
            "",
            "| key | background mean prediction | " + " | ".join(CPE_NAMES) + " |",
            "|---|---:|" + "---:|" * len(CPE_NAMES),
        ]
        for key, o in b["per_key"].items():
            ce = o["core_elements"]
            L.append(
                f"| {key} | {o['background_mean_prediction']:.2f} | "
                + " | ".join(f"{ce[n]['predicted']:+.2f} / {ce[n]['library']:+.2f}" for n in CPE_NAMES)
                + " |"
            )
    if b:
        L += [
            "",
            "BREu / BREd beside a TATA box (the library calls a BRE only next to one, so its effect is one among "
            "TATA promoters): inserted into the backgrounds with the TATA consensus already in place, "
            "predicted / library: "
            + "; ".join(
                f"{key} BREu {o['bre_with_tata']['BREu']['predicted_mean_effect']:+.2f} / "
                f"{o['bre_with_tata']['BREu']['library_mean_effect']:+.2f}, BREd "
                f"{o['bre_with_tata']['BREd']['predicted_mean_effect']:+.2f} / "
                f"{o['bre_with_tata']['BREd']['library_mean_effect']:+.2f}, core elements r with these "
                f"{_rs(o['marginalize']['core_elements_bre_with_tata'])}"
                for key, o in b["per_key"].items()
            )
            + ".",
        ]
    L += ["", "All numbers are the model's predictions (log2 units) except the library's effects.", ""]
    return "\n".join(L)


# ---- main ------------------------------------------------------------------------------------------------
def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=("ism_vs_deeplift", "marginalize", "both"), default="both")
    ap.add_argument("--n", type=int, default=200, help="promoters per key for part A")
    ap.add_argument("--backgrounds", type=int, default=100, help="shuffled backgrounds per key for part B")
    ap.add_argument("--tf-position", type=int, default=-80, help="TSS-relative centre of the TF clusters (B)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-dir", default=None, help="source data (default ../shared/data)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench/results/attributions.json")
    add_split_argument(ap)  # part A's promoters; part B's backgrounds are validation promoters always
    return ap


def main() -> None:
    from agrochat.provenance import provenance

    args = parser().parse_args()
    torch.set_num_threads(1)
    load0 = os.getloadavg()
    out = args.out if args.out.suffix == ".json" else args.out.with_suffix(".json")
    model = DnaLanguageModel.from_pretrained(MODEL_DIR)
    data = resolve_data_dir(args.data_dir)
    do_a, do_b = args.part in ("ism_vs_deeplift", "both"), args.part in ("marginalize", "both")
    log(f"loading the {args.split if do_a else 'validation'} promoters")
    rows_a = rows_by_key(args.data_dir, args.split, list(BENCH_KEYS)) if do_a else {}
    rows_b: dict[str, list[dict]] = {}
    if do_b:  # the backgrounds: validation promoters always
        reuse = do_a and args.split == "validation"
        rows_b = rows_a if reuse else rows_by_key(args.data_dir, "validation", list(BENCH_KEYS))
    split = args.split if do_a else "validation"
    n_read = sum(len(v) for v in (rows_a if do_a else rows_b).values())
    prov = provenance(split, MODEL_DIR, n_read, data)
    prov["splits"] = {
        "ism_vs_deeplift": args.split if do_a else None,
        "marginalize_backgrounds": "validation" if do_b else None,
    }
    if do_a and do_b and args.split != "validation":
        prov["validation_rows_for_backgrounds"] = sum(len(v) for v in rows_b.values())
    times: dict[str, float] = {}
    res: dict = {}

    def save(done: bool) -> None:
        res["meta"] = {
            "complete": done,
            "command": "python " + prov["command"],
            "date": time.strftime("%Y-%m-%d %H:%M"),
            "model": "chat/default_model (number paths, as Assistant.from_pretrained() loads them)",
            "split_ism_vs_deeplift": args.split if do_a else None,
            "seed": args.seed,
            "n": args.n,
            "backgrounds": args.backgrounds,
            "deeplift_shap_references": N_SHUFFLES,
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "loadavg_start": [round(x, 2) for x in load0],
            "loadavg_now": [round(x, 2) for x in os.getloadavg()],
            "seconds": {k: round(v, 1) for k, v in times.items()},
            "seconds_total": round(time.perf_counter() - T0, 1),
        }
        res["provenance"] = prov
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(res, indent=1) + "\n")
        if done:
            out.with_suffix(".md").write_text(markdown(res))

    if do_a:
        t = time.perf_counter()
        res["ism_vs_deeplift"] = ism_vs_deeplift(model, rows_a, args.n, args.seed)
        times["ism_vs_deeplift"] = time.perf_counter() - t
        save(False)
    if do_b:
        t = time.perf_counter()
        ko = knockout_numbers()
        res["marginalize"] = marginalize_elements(
            model, rows_b, args.backgrounds, args.seed, args.tf_position, args.data_dir, ko
        )
        res["marginalize"]["tf_position"] = args.tf_position
        res["marginalize"]["knockout_run"] = ko.get("run")
        res["marginalize"]["knockout_split"] = ko.get("split")
        times["marginalize"] = time.perf_counter() - t
    save(True)
    print(markdown(res))
    log(f"wrote {out} and {out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
