"""Does the shipped model's own evidence agree with measured biology? One measurement run, four checks.

Not a test: numbers from one run of the shipped model (src/agrochat/chat/default_model) on the CPU it runs on (2 cores for the numbers in bench/results).

Checks 1, 3 and 4 read the validation promoters of promoter_strength/leaf and /protoplast; the official test
promoters only with ``--split test`` (once per shipped model; the results file's ``provenance`` says which).

1. TATA knockouts. On the promoters (promoter_strength/leaf and /protoplast) that carry an annotated TATA box: how often the model's own TATA knockout (``ko:TATA``: the motif's bases replaced by
   random other bases, ``--replicates`` draws, averaged; :func:`agrochat.chat.attribution.variant_effects`)
   lowers the prediction, how often by more than its uncertainty, and the median change.
2. Synthetic promoters (Jores et al. 2021, Supp. Table 6). Pairs of promoters on the same background with the
   same other core elements and TF sites that differ only by an added TATA box, Inr or Y patch: how often the
   model's predicted effect of adding the element (prediction with minus without) has the sign of the measured
   effect, per element and condition key. Synthetic promoters are training data: the split code
   (:mod:`agrochat.data_gen.splits`) puts a whole background (all its variants) in train or validation by a
   hash of its name, so the numbers are reported apart for the backgrounds the model never trained on
   (validation: used only to pick the best checkpoint) and, labelled as such, for those it trained on.
3. Element effects. For every element (core elements and TF clusters) carried by at least ``--min-carriers``
   promoters, the model's mean knockout contribution (prediction minus knocked-out prediction) over up to
   ``--carriers`` carriers (seeded sample) against the paper's average element effect (Supp. Table 4, the
   condition matching the key): Pearson and Spearman r over elements.
4. Design. ``Assistant.design(goal="stronger", max_mutations=10)`` (greedy) on ``--designs`` random
   promoters (seeded) per key: predicted gain after 5 and 10 substitutions, the share flagged out of
   distribution, seconds per design.

    .venv/bin/python bench/biology_checks.py               # writes bench/results/biology_checks.{json,md}
    .venv/bin/python bench/biology_checks.py --quick       # a small smoke run (writes /tmp/biology_checks_quick.*)
    .venv/bin/python bench/biology_checks.py --split test  # the official test promoters, once per shipped model

Knockouts are scored through a caching scorer: every call of ``variant_effects`` runs twice with the same
seed, first recording the sequences it asks for (they are then scored in large batches), then reading the
scores back, so the effects are exactly those of the library function with its own seeded replacements.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from _common import add_split_argument
from scipy import stats

from agrochat.chat import DEFAULT_MODEL_DIR, Assistant
from agrochat.chat import variants as V
from agrochat.chat.attribution import variant_effects
from agrochat.data_gen.errors import BadRowLog
from agrochat.data_gen.paths import resolve_data_dir
from agrochat.data_gen.regression import load_regression_rows, rows_by_key
from agrochat.data_gen.sources import load_synthetic
from agrochat.domain import tasks as T
from agrochat.domain.effects import load_effects
from agrochat.domain.motifs import CPE_NAMES, default_scanner

ROOT = Path(__file__).resolve().parents[1]
BENCH_KEYS = ("promoter_strength/leaf", "promoter_strength/protoplast")
# Supp. Table 6 names of the added core elements -> annotator names
ADDED = {"TATA-box": "TATA", "Inr": "Inr", "Y patch": "Ypatch"}
T0 = time.perf_counter()


def log(msg: str) -> None:
    print(f"[{time.perf_counter() - T0:7.1f}s] {msg}", flush=True)


class CachedScorer:
    """A scorer that can record the sequences asked for (answering zeros), score them in big batches, then
    answer from the cache. Unknown sequences outside recording are scored on the spot."""

    def __init__(self, score, chunk: int = 2048) -> None:
        self.score, self.chunk = score, chunk
        self.cache: dict[tuple[str, str], tuple[float, float, bool, str]] = {}
        self.pending: dict[str, dict[str, None]] = defaultdict(dict)
        self.recording = False
        self.scored = 0

    def __call__(self, seqs, key):
        if self.recording:
            for s in seqs:
                if (key, s) not in self.cache:
                    self.pending[key][s] = None
            n = len(seqs)
            return np.zeros(n), np.zeros(n), [False] * n, [""] * n
        missing = [s for s in dict.fromkeys(seqs) if (key, s) not in self.cache]
        if missing:
            self._score(key, missing)
        got = [self.cache[(key, s)] for s in seqs]
        return (
            np.array([g[0] for g in got]),
            np.array([g[1] for g in got]),
            [g[2] for g in got],
            [g[3] for g in got],
        )

    def _score(self, key: str, seqs: list[str]) -> None:
        for i in range(0, len(seqs), self.chunk):
            part = seqs[i : i + self.chunk]
            v, s, o, r = self.score(part, key)
            for j, seq in enumerate(part):
                self.cache[(key, seq)] = (float(v[j]), float(s[j]), bool(o[j]), r[j])
            self.scored += len(part)

    def flush(self, what: str) -> None:
        for key, seqs in self.pending.items():
            seqs = list(seqs)
            t = time.perf_counter()
            self._score(key, seqs)
            dt = time.perf_counter() - t
            log(
                f"  {what}: scored {len(seqs)} sequences for {key} in {dt:.1f}s "
                f"({len(seqs) / max(dt, 1e-9):.0f}/s)"
            )
        self.pending.clear()


def batched_effects(
    cs: CachedScorer, jobs: list[tuple[str, str, list]], replicates: int, seed: int, what: str
):
    """``variant_effects`` for every ``(sequence, key, edit_sets)`` job, all scored in large batches."""
    cs.recording = True
    for seq, key, sets in jobs:
        variant_effects(cs, seq, key, sets, replicates, seed)
    cs.recording = False
    cs.flush(what)
    return [variant_effects(cs, seq, key, sets, replicates, seed) for seq, key, sets in jobs]


def split_rows(keys, split: str, data_dir=None) -> dict[str, list[dict]]:
    """Rows of ``split`` per key, with the loader ``agrochat eval`` uses (a key without any: a one-line error)."""
    return rows_by_key(data_dir, split, list(keys))


def share(x) -> float | None:
    x = np.asarray(x, dtype=bool)
    return float(x.mean()) if x.size else None


def corr(x, y) -> dict:
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 3 or np.std(x) == 0 or np.std(y) == 0:
        return {"n": int(len(x)), "pearson": None, "pearson_p": None, "spearman": None, "spearman_p": None}
    p, s = stats.pearsonr(x, y), stats.spearmanr(x, y)
    return {
        "n": int(len(x)),
        "pearson": float(p[0]),
        "pearson_p": float(p[1]),
        "spearman": float(s[0]),
        "spearman_p": float(s[1]),
    }


# ---- 1. TATA knockouts on the split's promoters ---------------------------------------------------------
def check_tata(cs, rows_by_key, anns_by_key, replicates, seed) -> dict:
    out = {}
    for key in BENCH_KEYS:
        rows, anns = rows_by_key[key], anns_by_key[key]
        jobs = []
        for r, ann in zip(rows, anns, strict=True):
            hit = ann.get("TATA")
            if hit is not None:
                jobs.append((r["sequence"], key, [("ko:TATA", [V.Knockout(hit, "ko:TATA")])]))
        log(f"1. TATA knockouts, {key}: {len(jobs)} of {len(rows)} promoters carry a TATA box")
        effs = [e[0] for e in batched_effects(cs, jobs, replicates, seed, "TATA knockouts")]
        d = np.array([e.delta for e in effs])
        u = np.array([e.uncertainty for e in effs])
        out[key] = {
            "promoters": len(rows),
            "with_tata": len(effs),
            "share_lowered": share(d < 0),
            "share_lowered_beyond_uncertainty": share(d < -u),
            "share_raised_beyond_uncertainty": share(d > u),
            "median_delta": float(np.median(d)),
            "mean_delta": float(d.mean()),
            "quartiles_delta": [float(q) for q in np.percentile(d, [25, 75])],
            "median_uncertainty": float(np.median(u)),
            "share_knockout_flagged_ood": share([e.ood for e in effs]),
            "paper_supp_table4_tata_effect": _paper(T.effect_condition(key), "TATA"),
        }
        o = out[key]
        log(
            f"   lowered {o['share_lowered']:.1%}, beyond uncertainty "
            f"{o['share_lowered_beyond_uncertainty']:.1%}, "
            f"median delta {o['median_delta']:+.3f}"
        )
    return out


def _paper(cond, name):
    e = load_effects().effect(name, cond)
    return None if e is None else {"condition": cond, "mean": e.mean, "p": e.p, "significant": e.significant}


# ---- 2. Supp. Table 6 pairs ----------------------------------------------------------------------
def synthetic_split() -> dict[str, str]:
    """Split of every synthetic sequence, as the training data builder assigns it."""
    keys = [T.make_key(T.SYNTHETIC, c) for c in T.CONDITIONS]
    where: dict[str, set[str]] = defaultdict(set)
    for split in ("train", "validation", "test"):
        for r in load_regression_rows(None, split, keys=keys):
            where[r["sequence"]].add(split)
    bad = [s for s, v in where.items() if len(v) > 1]
    if bad:
        raise AssertionError(f"{len(bad)} synthetic sequences in two splits")
    return {s: next(iter(v)) for s, v in where.items()}


def check_synthetic(a: Assistant, cs: CachedScorer) -> dict:
    log("2. Supp. Table 6: pairs differing by one added core element")
    split_of = synthetic_split()
    meas = load_synthetic(resolve_data_dir(None), BadRowLog(on_bad="error"))
    constructs: dict[tuple, dict] = {}
    for m in meas:
        cpes = frozenset(
            ADDED[c.strip()] for c in m.extra["cpes"].split(",") if c.strip() and c.strip() != "none"
        )
        c = constructs.setdefault(
            (m.name, cpes, m.extra["tfbs"].strip()), {"sequence": m.sequence, "values": {}}
        )
        if c["sequence"] != m.sequence:
            raise AssertionError(f"two sequences for construct {m.name} {sorted(cpes)} {m.extra['tfbs']}")
        c["values"][T.split_key(m.key)[1]] = m.value
    bg_splits: dict[str, set[str]] = defaultdict(set)
    for (bg, _, _), c in constructs.items():
        bg_splits[bg].add(split_of.get(c["sequence"], "not in any split"))
    held_out = sorted(bg for bg, s in bg_splits.items() if "train" not in s)
    trained = sorted(bg for bg, s in bg_splits.items() if "train" in s)
    log(
        f"   {len(bg_splits)} backgrounds; never trained on (validation split): {held_out}; "
        f"trained: {len(trained)}"
    )
    pairs = []
    for (bg, cpes, tfbs), c in constructs.items():
        for el in ADDED.values():
            if el in cpes:
                continue
            w = constructs.get((bg, cpes | {el}, tfbs))
            if w is not None:
                pairs.append(
                    {
                        "background": bg,
                        "element": el,
                        "others": sorted(cpes),
                        "tfbs": tfbs,
                        "without": c,
                        "with": w,
                    }
                )
    # keys the model has: the synthetic_promoter key of each condition, and the benchmark keys beside the
    # condition they were trained on (with 35S enhancer, dark)
    key_cond = [
        (T.make_key(T.SYNTHETIC, c), c) for c in T.CONDITIONS if T.make_key(T.SYNTHETIC, c) in a.known_keys
    ]
    key_cond += [(k, T.effect_condition(k)) for k in BENCH_KEYS]
    seqs = sorted({p[s]["sequence"] for p in pairs for s in ("with", "without")})
    for key, _ in key_cond:
        cs(seqs, key)
    log(f"   {len(pairs)} pairs ({len(seqs)} sequences) scored for {len(key_cond)} keys")
    per: dict[str, dict] = {}
    held_pairs = []
    for key, cond in key_cond:
        for el in ADDED.values():
            for group, bgs in (("never_trained", held_out), ("trained", trained)):
                pm, mm = [], []
                for p in pairs:
                    if p["element"] != el or p["background"] not in bgs:
                        continue
                    mw, mo = p["with"]["values"].get(cond), p["without"]["values"].get(cond)
                    if mw is None or mo is None:
                        continue
                    v, _, _, _ = cs([p["with"]["sequence"], p["without"]["sequence"]], key)
                    pm.append(float(v[0] - v[1]))
                    mm.append(mw - mo)
                    if group == "never_trained":
                        held_pairs.append(
                            {
                                "key": key,
                                "condition": cond,
                                "background": p["background"],
                                "element": el,
                                "others": p["others"],
                                "tfbs": p["tfbs"],
                                "predicted_delta": round(pm[-1], 4),
                                "measured_delta": round(mm[-1], 4),
                            }
                        )
                pm_a, mm_a = np.array(pm), np.array(mm)
                big = np.abs(mm_a) >= 0.5
                per.setdefault(key, {"condition": cond}).setdefault(el, {})[group] = {
                    "pairs": len(pm),
                    "sign_agreement": share(np.sign(pm_a) == np.sign(mm_a)),
                    "pairs_measured_abs_ge_0.5": int(big.sum()),
                    "sign_agreement_measured_abs_ge_0.5": share(np.sign(pm_a[big]) == np.sign(mm_a[big])),
                    "mean_predicted_delta": float(pm_a.mean()) if len(pm) else None,
                    "mean_measured_delta": float(mm_a.mean()) if len(mm) else None,
                    "pearson_deltas": corr(pm_a, mm_a)["pearson"],
                }
    return {
        "backgrounds": len(bg_splits),
        "never_trained_backgrounds": held_out,
        "trained_backgrounds": trained,
        "background_splits": {bg: sorted(s) for bg, s in sorted(bg_splits.items())},
        "pairs_total": len(pairs),
        "per_key": per,
        "never_trained_pairs": held_pairs,
    }


# ---- 3. element knockouts vs Supp. Table 4 -------------------------------------------------------
def check_elements(cs, rows_by_key, anns_by_key, replicates, seed, max_carriers, min_carriers) -> dict:
    effects = load_effects()
    out = {}
    for key in BENCH_KEYS:
        cond = T.effect_condition(key)
        rows, anns = rows_by_key[key], anns_by_key[key]
        carriers: dict[str, list[int]] = defaultdict(list)
        for i, ann in enumerate(anns):
            for h in ann.hits:
                carriers[h.name].append(i)
        rng = np.random.default_rng(seed)
        jobs, meta = [], []
        skipped = {}
        for name in sorted(carriers, key=lambda n: (n not in CPE_NAMES, len(n), n)):
            idx = carriers[name]
            if len(idx) < min_carriers or effects.effect(name, cond) is None:
                skipped[name] = len(idx)
                continue
            chosen = np.sort(rng.choice(idx, size=min(max_carriers, len(idx)), replace=False))
            for i in chosen:
                hit = anns[i].get(name)
                jobs.append((rows[i]["sequence"], key, [(f"ko:{name}", [V.Knockout(hit, f"ko:{name}")])]))
                meta.append(name)
        log(
            f"3. element knockouts, {key}: {len(set(meta))} elements with >= {min_carriers} carriers, "
            f"{len(jobs)} knockouts"
        )
        effs = batched_effects(cs, jobs, replicates, seed, "element knockouts")
        contrib: dict[str, list[float]] = defaultdict(list)
        for name, e in zip(meta, effs, strict=True):
            contrib[name].append(e[0].contribution)
        table = []
        for name, c in contrib.items():
            e = effects.effect(name, cond)
            table.append(
                {
                    "element": name,
                    "family": effects.family(name),
                    "carriers": len(carriers[name]),
                    "knocked_out": len(c),
                    "model_mean_contribution": float(np.mean(c)),
                    "model_median_contribution": float(np.median(c)),
                    "paper_mean": e.mean,
                    "paper_p": e.p,
                    "paper_significant": e.significant,
                }
            )
        model = [t["model_mean_contribution"] for t in table]
        paper = [t["paper_mean"] for t in table]
        sig = [t for t in table if t["paper_significant"]]
        core = [t for t in table if t["element"] in CPE_NAMES]
        out[key] = {
            "condition": cond,
            "all": corr(model, paper),
            "paper_significant_only": corr(
                [t["model_mean_contribution"] for t in sig], [t["paper_mean"] for t in sig]
            ),
            "tf_clusters_only": corr(
                [t["model_mean_contribution"] for t in table if t["element"] not in CPE_NAMES],
                [t["paper_mean"] for t in table if t["element"] not in CPE_NAMES],
            ),
            "sign_agreement_paper_significant": share(
                [np.sign(t["model_mean_contribution"]) == np.sign(t["paper_mean"]) for t in sig]
            ),
            "core_elements": {
                t["element"]: {
                    "model": round(t["model_mean_contribution"], 4),
                    "paper": t["paper_mean"],
                    "knocked_out": t["knocked_out"],
                }
                for t in core
            },
            "excluded_too_few_carriers": skipped,
            "elements": sorted(table, key=lambda t: t["element"]),
        }
        o = out[key]
        log(
            f"   Pearson {o['all']['pearson']:.3f}, Spearman {o['all']['spearman']:.3f} over "
            f"{o['all']['n']} elements"
        )
    return out


# ---- 4. design -----------------------------------------------------------------------------------
def check_design(a: Assistant, rows_by_key, keys, n, k, seed) -> dict:
    out = {}
    for key in keys:
        rows = rows_by_key[key]
        idx = np.sort(np.random.default_rng(seed).choice(len(rows), size=min(n, len(rows)), replace=False))
        task, tissue = T.split_key(key)
        log(f"4. design, {key}: {len(idx)} promoters, goal stronger, {k} substitutions")
        g5, g10, times, ood_start, ood5, ood10, used, stopped = [], [], [], [], [], [], [], 0
        for j, i in enumerate(idx):
            t = time.perf_counter()
            res = a.design(rows[i]["sequence"], task, tissue, goal="stronger", max_mutations=k, seed=seed)
            times.append(time.perf_counter() - t)
            steps = res.steps
            at = {s.round: s for s in steps}
            last = steps[-1]
            s5 = at.get(k // 2, last if last.round < k // 2 else None)
            g5.append(s5.values[key] - steps[0].values[key])
            g10.append(last.values[key] - steps[0].values[key])
            ood_start.append(steps[0].ood)
            ood5.append(s5.ood)
            ood10.append(last.ood)
            used.append(last.round)
            stopped += bool(res.stopped)
            if (j + 1) % 10 == 0:
                log(
                    f"   {j + 1}/{len(idx)} designs, {np.mean(times):.2f}s each, mean gain after {k}: "
                    f"{np.mean(g10):+.2f}"
                )
        out[key] = {
            "designs": len(idx),
            "max_mutations": k,
            "beam": 1,
            "seed": seed,
            f"gain_after_{k // 2}": {
                "mean": float(np.mean(g5)),
                "median": float(np.median(g5)),
                "min": float(np.min(g5)),
            },
            f"gain_after_{k}": {
                "mean": float(np.mean(g10)),
                "median": float(np.median(g10)),
                "min": float(np.min(g10)),
            },
            "share_ood_start": share(ood_start),
            f"share_ood_after_{k // 2}": share(ood5),
            f"share_ood_after_{k}": share(ood10),
            "stopped_early": stopped,
            "mean_substitutions_used": float(np.mean(used)),
            "seconds_per_design": {"mean": float(np.mean(times)), "median": float(np.median(times))},
            "unit": a.registry.get(key).unit,
        }
    return out


# ---- report --------------------------------------------------------------------------------------
def _f(x, fmt="{:.3f}"):
    return "–" if x is None else fmt.format(x)


def _pct(x):
    return "–" if x is None else f"{x:.0%}"


def markdown(res: dict) -> str:
    split = "official test" if res["meta"]["split"] == "test" else res["meta"]["split"]
    L = [
        f"# Biology checks of the shipped model ({res['meta']['date']})",
        "",
        f"`{res['meta']['command']}`: {res['meta']['seconds_total'] / 60:.1f} min on "
        f"{res['meta']['cpu_count']} CPU cores ({res['meta']['torch_threads']} torch threads, "
        "machine shared with "
        f"other work; load average {res['meta']['loadavg_start']} at the start). Knockouts: "
        f"{res['meta']['replicates']} random replacements each, seed {res['meta']['seed']}.",
        "",
        f"## 1. TATA knockout on {split} promoters with an annotated TATA box",
        "",
        f"| key | {split} promoters | with TATA | knockout lowers | lowers by more than its uncertainty | "
        "raises beyond uncertainty | median Δ (IQR) | library TATA effect (Supp. Table 4) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, o in res["tata_knockout"].items():
        p = o["paper_supp_table4_tata_effect"]
        L.append(
            f"| {key} | {o['promoters']} | {o['with_tata']} | {_pct(o['share_lowered'])} | "
            f"{_pct(o['share_lowered_beyond_uncertainty'])} | {_pct(o['share_raised_beyond_uncertainty'])} | "
            f"{o['median_delta']:+.3f} ({o['quartiles_delta'][0]:+.2f} to {o['quartiles_delta'][1]:+.2f}) | "
            f"{p['mean']:+.2f} ({p['condition']}) |"
        )
    s = res["synthetic_pairs"]
    L += [
        "",
        "## 2. Synthetic promoters (Supp. Table 6): predicted vs measured sign of adding an element",
        "",
        f"{s['backgrounds']} backgrounds; {s['pairs_total']} pairs (same background, same other "
        "core elements and "
        f"TF sites, differing by one added element). Backgrounds the model never trained on: "
        f"**{', '.join(s['never_trained_backgrounds']) or 'none'}** "
        f"({len(s['never_trained_backgrounds'])}; the "
        f"split code put them in validation, used only to pick the best checkpoint). The other "
        f"{len(s['trained_backgrounds'])} backgrounds were in training: those numbers are labelled "
        "*in training*.",
        "",
        "| key (measured condition) | element | never-trained pairs | sign agreement | in-training pairs | "
        "sign agreement (in training) | in training, pairs with measured abs(Δ) ≥ 0.5 | agreement | "
        "Pearson Δ (in training) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, per in s["per_key"].items():
        for el in ADDED.values():
            h, t = per[el]["never_trained"], per[el]["trained"]
            L.append(
                f"| {key} ({per['condition']}) | {el} | {h['pairs']} | {_pct(h['sign_agreement'])} | "
                f"{t['pairs']} | {_pct(t['sign_agreement'])} | {t['pairs_measured_abs_ge_0.5']} | "
                f"{_pct(t['sign_agreement_measured_abs_ge_0.5'])} | {_f(t['pearson_deltas'], '{:.2f}')} |"
            )
    tot = {g: [0, 0] for g in ("never_trained", "trained")}
    for per in s["per_key"].values():
        for el in ADDED.values():
            for g in tot:
                o = per[el][g]
                if o["pairs"]:
                    tot[g][0] += round(o["sign_agreement"] * o["pairs"])
                    tot[g][1] += o["pairs"]
    L += [
        "",
        "Pooled over keys and elements: never-trained "
        f"{tot['never_trained'][0]}/{tot['never_trained'][1]} "
        f"({_pct(tot['never_trained'][0] / max(tot['never_trained'][1], 1))}); in training "
        f"{tot['trained'][0]}/{tot['trained'][1]} ({_pct(tot['trained'][0] / max(tot['trained'][1], 1))}). "
        "Pairs are not independent across keys (the same sequences, several conditions).",
    ]
    L += [
        "",
        "## 3. Model knockout effect per element vs the paper's element effect (Supp. Table 4)",
        "",
        f"Mean over {split} promoters carrying the element of (prediction − knocked-out prediction), against the "
        "library's mean strength difference with vs without the element in the matching condition.",
        "",
        "| key (condition) | elements | Pearson r | Spearman r | paper-significant elements: n, "
        "Pearson, Spearman, "
        "same sign | TF clusters only: n, Pearson, Spearman | core elements model / paper |",
        "|---|---:|---:|---:|---|---|---|",
    ]
    for key, o in res["element_effects"].items():
        a_, g, tf = o["all"], o["paper_significant_only"], o["tf_clusters_only"]
        core = "; ".join(f"{n} {v['model']:+.2f} / {v['paper']:+.2f}" for n, v in o["core_elements"].items())
        L.append(
            f"| {key} ({o['condition']}) | {a_['n']} | {_f(a_['pearson'])} (p "
            f"{_f(a_['pearson_p'], '{:.1g}')}) | "
            f"{_f(a_['spearman'])} | {g['n']}, {_f(g['pearson'])}, {_f(g['spearman'])}, "
            f"{_pct(o['sign_agreement_paper_significant'])} | {tf['n']}, {_f(tf['pearson'])}, "
            f"{_f(tf['spearman'])} | {core} |"
        )
    ks = sorted({o["max_mutations"] for o in res["design"].values()}) or [10]
    L += [
        "",
        f"## 4. Design: greedy, goal stronger, on random {split} promoters",
        "",
        f"| key | designs | gain after {ks[0] // 2} (mean / median) | gain after {ks[0]} (mean / "
        "median) | OOD at start "
        f"/ after {ks[0] // 2} / after {ks[0]} | stopped early | s per design |",
        "|---|---:|---|---|---|---:|---:|",
    ]
    for key, o in res["design"].items():
        k = o["max_mutations"]
        a5, a10 = o[f"gain_after_{k // 2}"], o[f"gain_after_{k}"]
        L.append(
            f"| {key} | {o['designs']} | {a5['mean']:+.2f} / {a5['median']:+.2f} | {a10['mean']:+.2f} / "
            f"{a10['median']:+.2f} | {_pct(o['share_ood_start'])} / {_pct(o[f'share_ood_after_{k // 2}'])} / "
            f"{_pct(o[f'share_ood_after_{k}'])} | {o['stopped_early']} | "
            f"{o['seconds_per_design']['mean']:.1f} |"
        )
    L += ["", "Gains are the model's own predictions (log2 units), not measurements.", ""]
    return "\n".join(L)


def file_hashes(paths) -> dict:
    out = {}
    for p in paths:
        f = ROOT / p
        out[p] = hashlib.sha256(f.read_bytes()).hexdigest()[:16] if f.exists() else None
    return out


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--replicates", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--carriers", type=int, default=150, help="knockouts per element (check 3)")
    ap.add_argument("--min-carriers", type=int, default=30)
    ap.add_argument("--designs", type=int, default=100)
    ap.add_argument("--design-keys", default=",".join(BENCH_KEYS))
    ap.add_argument("--max-mutations", type=int, default=10)
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (0: torch's default); on this shared 2-core machine 1 thread scored 3x faster "
        "than 2 while another process ran",
    )
    ap.add_argument(
        "--quick", action="store_true", help="small smoke run; writes to /tmp unless --out is given"
    )
    ap.add_argument(
        "--out", type=Path, default=None, help="output stem (default bench/results/biology_checks)"
    )
    ap.add_argument("--data-dir", default=None, help="source data or a build (default ../shared/data)")
    add_split_argument(ap)
    return ap


def main() -> None:
    from agrochat.provenance import provenance

    args = parser().parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.quick:
        args.carriers, args.designs, args.max_mutations = 10, 2, 4
    out = args.out or (
        Path("/tmp/biology_checks_quick") if args.quick else ROOT / "bench/results/biology_checks"
    )
    load0 = os.getloadavg()
    torch.set_grad_enabled(False)
    a = Assistant.from_pretrained()
    cs = CachedScorer(a.scorer(batch_size=256))
    log(f"loading the {args.split} promoters")
    rows_by_key = split_rows(BENCH_KEYS, args.split, args.data_dir)
    if args.quick:
        rows_by_key = {k: v[:400] for k, v in rows_by_key.items()}
    n_rows = sum(len(v) for v in rows_by_key.values())
    prov = provenance(args.split, DEFAULT_MODEL_DIR, n_rows, resolve_data_dir(args.data_dir))
    scanner = default_scanner()
    anns_by_key = {
        k: scanner.annotate_many([r["sequence"] for r in v], "promoter") for k, v in rows_by_key.items()
    }
    times: dict[str, float] = {}
    res: dict = {"tata_knockout": {}, "synthetic_pairs": {}, "element_effects": {}, "design": {}}

    def save(done: bool) -> None:
        res["meta"] = meta(args, cs, load0, times, done)
        res["provenance"] = prov
        out.parent.mkdir(parents=True, exist_ok=True)
        Path(f"{out}.json").write_text(json.dumps(res, indent=1) + "\n")
        if done:
            Path(f"{out}.md").write_text(markdown(res))

    t = time.perf_counter()
    res["tata_knockout"] = check_tata(cs, rows_by_key, anns_by_key, args.replicates, args.seed)
    times["tata_knockout"] = time.perf_counter() - t
    save(False)
    t = time.perf_counter()
    res["synthetic_pairs"] = check_synthetic(a, cs)
    times["synthetic_pairs"] = time.perf_counter() - t
    save(False)
    t = time.perf_counter()
    res["element_effects"] = check_elements(
        cs, rows_by_key, anns_by_key, args.replicates, args.seed, args.carriers, args.min_carriers
    )
    times["element_effects"] = time.perf_counter() - t
    save(False)
    t = time.perf_counter()
    for key in [k for k in args.design_keys.split(",") if k]:
        res["design"].update(check_design(a, rows_by_key, [key], args.designs, args.max_mutations, args.seed))
        times["design"] = time.perf_counter() - t
        save(False)
    save(True)
    print(markdown(res))
    log(f"wrote {out}.json and {out}.md")


def meta(args, cs: CachedScorer, load0, times: dict, done: bool) -> dict:
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--short", "chat", "bridge", "data_gen"], cwd=ROOT, capture_output=True, text=True
    ).stdout.split("\n")
    return {
        "complete": done,
        "command": "python bench/biology_checks.py " + " ".join(sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "git_head": commit,
        "uncommitted_code_measured": [d for d in dirty if d],
        "code_sha256_16": file_hashes(
            [
                "chat/attribution.py",
                "chat/variants.py",
                "chat/design.py",
                "chat/assistant.py",
                "bridge/ood.py",
                "bridge/model.py",
                "data_gen/motifs.py",
                "data_gen/splits.py",
            ]
        ),
        "model": "chat/default_model",
        "replicates": args.replicates,
        "seed": args.seed,
        "carriers_per_element": args.carriers,
        "min_carriers": args.min_carriers,
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "loadavg_start": [round(x, 2) for x in load0],
        "loadavg_now": [round(x, 2) for x in os.getloadavg()],
        "sequences_scored_by_cache": cs.scored,
        "seconds": {k: round(v, 1) for k, v in times.items()},
        "seconds_total": round(time.perf_counter() - T0, 1),
        "quick": args.quick,
        "split": args.split,
    }


if __name__ == "__main__":
    main()
