"""What the model learned, as motifs: TF-MoDISco on its attributions, per task key (``agrochat motifs``).

Per key:

1. **Attributions.** Hypothetical contributions ``(N, 4, L)`` of every base at every position: DeepLIFT/SHAP
   (tangermeme's ``deep_lift_shap(..., hypothetical=True)``, dinucleotide-shuffled references; the natural input
   for TF-MoDISco) or, for models without input gradients, in-silico saturation mutagenesis (the predicted change
   of every substitution, centred over the four bases).
2. **Patterns.** TF-MoDISco (modisco-lite) collects high-attribution windows (seqlets) and clusters them into
   patterns, positive (the bases raise the prediction) and negative; each pattern's contribution weight matrix
   (CWM) is trimmed to the positions carrying at least 30% of its largest per-position contribution.
3. **Names.** TOMTOM (memelite) of each trimmed pattern's PPM against the shipped motif library (Jores et al. 2021
   core promoter elements and TF clusters, JASPAR 2026 CORE plants): the three best, with p-values.
4. **Effect.** The pattern's consensus (argmax of the trimmed PPM) is inserted into backgrounds, on the strand
   most of its seqlets lie on, at their median position (tangermeme's ``marginalize``); the effect is the mean of
   prediction after minus before, with its standard deviation over the backgrounds. Backgrounds are
   dinucleotide shuffles of the key's own sequences: promoter-like composition without their motifs' order.

Coordinates: positions are reported relative to the TSS for promoter keys (:func:`promoter_rel`, no position 0),
to the cleavage site for terminator keys, and 1-based otherwise.
"""

from __future__ import annotations

import json
import time
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from agrochat.bridge.onehot import one_hot_sequences
from agrochat.domain.motifs import promoter_rel, terminator_rel
from agrochat.errors import ConfigError, InputError, UnknownTaskError

from .interpret import MOTIF_SOURCES, cache_numba_kernels, motif_library, predictor

METHODS = ("deeplift_shap", "ism")
TRIM_FRACTION = 0.3  # CWM positions kept: at least this share of the largest per-position |contribution|
TOP_MATCHES = 3
Progress = Callable[[str, str, int, int], None]  # (key, stage, done, total)


@dataclass
class MotifReportConfig:
    """What ``agrochat motifs`` computes. Validated on construction (:class:`ConfigError`)."""

    keys: tuple[str, ...] = ("promoter_strength/leaf", "promoter_strength/protoplast")
    n: int = 2000  # sequences per key: validation rows first, then a seeded sample of training rows
    method: str = (
        "deeplift_shap"  # hypothetical contributions: deeplift_shap | ism (slow; no gradients needed)
    )
    n_shuffles: int = 10  # DeepLIFT/SHAP references per sequence (dinucleotide shuffles)
    seed: int = 0  # rows sampled, references, backgrounds
    max_seqlets: int = 2000  # per metacluster (positive, negative), TF-MoDISco's max_seqlets_per_metacluster
    out: Path = Path("docs/motifs")  # report.md, report.json and the logos go here
    window: int = 15  # TF-MoDISco sliding_window_size (bp); suits 170-bp sequences
    flank: int = 5  # TF-MoDISco flank_size (bp)
    fdr: float = 0.05  # TF-MoDISco target_seqlet_fdr
    min_metacluster: int = 100  # TF-MoDISco min_metacluster_size: fewer seqlets of a sign, no patterns of it
    min_cluster: int = 20  # TF-MoDISco final_min_cluster_size: seqlets a pattern needs
    leiden_runs: int = 20  # TF-MoDISco n_leiden_runs (clustering restarts; 50 in modisco-lite)
    backgrounds: int = 100  # dinucleotide-shuffled sequences each consensus is inserted into
    batch_size: int = 32  # sequences per attribution batch

    def __post_init__(self) -> None:
        self.keys = tuple(self.keys)
        self.out = Path(self.out)
        if not self.keys:
            raise ConfigError("motif report: give at least one key")
        if len(set(self.keys)) != len(self.keys):
            raise ConfigError(f"motif report: keys repeat: {', '.join(self.keys)}")
        if self.method not in METHODS:
            raise ConfigError(f"unknown attribution {self.method!r}; choose one of {', '.join(METHODS)}")
        positive = ("n", "n_shuffles", "max_seqlets", "window", "min_metacluster", "min_cluster")
        positive += ("leiden_runs", "backgrounds", "batch_size")
        for name in positive:
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"motif report: {name} must be at least 1, got {getattr(self, name)}")
        if self.flank < 0:
            raise ConfigError(f"motif report: flank must be 0 or more, got {self.flank}")
        if not 0 < self.fdr < 1:
            raise ConfigError(f"motif report: fdr must lie in (0, 1), got {self.fdr}")

    def to_dict(self) -> dict:
        return {**asdict(self), "keys": list(self.keys), "out": str(self.out)}


@dataclass
class Match:
    """A library motif similar to a pattern (TOMTOM)."""

    name: str  # readable: "TATA box", "TF_65 (Trihelix)", "ATMYB31 (MYB; JASPAR MA1738.1)"
    source: str
    p_value: float

    def to_dict(self) -> dict:
        return {"name": self.name, "source": self.source, "p_value": float(f"{self.p_value:.3g}")}


@dataclass
class Pattern:
    """One TF-MoDISco pattern, trimmed, with its position, effect and library matches."""

    name: str  # "pos_0": metacluster and rank (most seqlets first)
    sign: str  # "pos" (raises the prediction) | "neg"
    seqlets: int
    consensus: str  # argmax of the trimmed PPM, in the pattern's orientation
    cwm: np.ndarray  # (W, 4) trimmed contribution weight matrix (A, C, G, T)
    ppm: np.ndarray  # (W, 4) trimmed position probability matrix
    position_mean: float  # centre of the trimmed motif in its seqlets, relative coordinate (module docstring)
    position_sd: float
    strand: str  # "+" | "-": where most seqlets lie; the consensus is inserted on it
    insert_start: int  # 0-based start of the insertion (median seqlet start of the trimmed motif)
    effect: float  # mean over backgrounds of prediction after - before inserting the consensus
    effect_sd: float
    matches: list[Match] = field(default_factory=list)
    logo: str | None = None  # file name of the CWM logo, once written

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "sign": self.sign,
            "seqlets": self.seqlets,
            "consensus": self.consensus,
            "position_mean": round(self.position_mean, 1),
            "position_sd": round(self.position_sd, 1),
            "strand": self.strand,
            "insert_start": self.insert_start + 1,
            "effect": round(self.effect, 4),
            "effect_sd": round(self.effect_sd, 4),
            "matches": [m.to_dict() for m in self.matches],
            "cwm": np.round(self.cwm, 5).tolist(),
            "ppm": np.round(self.ppm, 4).tolist(),
            "logo": self.logo,
        }


@dataclass
class KeyResult:
    """The patterns of one key."""

    key: str
    sequences: dict[str, int]  # sequences attributed, by split
    unit: str
    patterns: list[Pattern]
    seconds: dict[str, float]  # by stage

    def to_dict(self) -> dict:
        return {
            "key": self.key,
            "sequences": self.sequences,
            "unit": self.unit,
            "patterns": [p.to_dict() for p in self.patterns],
            "seconds": {k: round(v, 1) for k, v in self.seconds.items()},
        }


@dataclass
class MotifReport:
    config: MotifReportConfig
    results: list[KeyResult]
    background: str = "dinucleotide shuffles of the key's attributed sequences"

    def to_dict(self) -> dict:
        return {
            "config": self.config.to_dict(),
            "background": self.background,
            "results": [r.to_dict() for r in self.results],
        }


# ---- rows -------------------------------------------------------------------------------------------------------
def report_rows(data_dir, keys: tuple[str, ...] | list[str], n: int, seed: int = 0) -> dict[str, list[dict]]:
    """Up to ``n`` rows per key: the validation rows (a seeded sample if more), then a seeded sample of training
    rows to fill up. Never the test split."""
    from agrochat.data_gen.regression import rows_by_key

    valid = rows_by_key(data_dir, "validation", list(keys))
    train = (
        rows_by_key(data_dir, "train", list(keys), required=False)
        if any(len(rs) < n for rs in valid.values())
        else {}
    )
    rng = np.random.default_rng(seed)
    out = {}
    for key in keys:
        rows = _sample(valid[key], n, rng)
        out[key] = rows + _sample(train.get(key, []), n - len(rows), rng)
    return out


def _sample(rows: list[dict], n: int, rng: np.random.Generator) -> list[dict]:
    if len(rows) <= n:
        return list(rows)
    return [rows[i] for i in np.sort(rng.choice(len(rows), size=n, replace=False))]


# ---- attributions -----------------------------------------------------------------------------------------------
def hypothetical_attributions(
    pred, x: torch.Tensor, cfg: MotifReportConfig, tick: Callable[[int], None] | None = None
) -> np.ndarray:
    """(N, 4, L) hypothetical contributions of one-hot ``x`` (N, 4, L) by ``cfg.method``, in batches."""
    out = []
    for i in range(0, len(x), cfg.batch_size):
        chunk = x[i : i + cfg.batch_size]  # (B, 4, L)
        out.append(_attribute(pred, chunk, cfg, seed=cfg.seed + i))
        if tick is not None:
            tick(i + len(chunk))
    return np.concatenate(out).astype(np.float32)  # (N, 4, L)


def _attribute(pred, x: torch.Tensor, cfg: MotifReportConfig, seed: int) -> np.ndarray:
    if cfg.method == "ism":
        from tangermeme.saturation_mutagenesis import saturation_mutagenesis

        with torch.no_grad():
            attr = saturation_mutagenesis(pred, x, hypothetical=True, batch_size=256, device="cpu")
        return attr.numpy()  # (B, 4, L)
    from tangermeme.deep_lift_shap import deep_lift_shap

    if hasattr(pred, "require_gradients"):  # a model's predictor: one line when its encoder has no gradients
        pred.require_gradients("DeepLIFT/SHAP")
    with warnings.catch_warnings():  # convergence is measured in bench/attributions.py
        warnings.simplefilter("ignore")
        attr = deep_lift_shap(
            pred,
            x,
            n_shuffles=cfg.n_shuffles,
            hypothetical=True,
            batch_size=cfg.batch_size,
            random_state=seed,
            device="cpu",
        )
    return attr.detach().numpy()  # (B, 4, L)


# ---- TF-MoDISco -------------------------------------------------------------------------------------------------
def run_modisco(x: np.ndarray, attr: np.ndarray, cfg: MotifReportConfig) -> list[tuple[str, object]]:
    """TF-MoDISco patterns of one-hot ``x`` and hypothetical contributions ``attr`` (both (N, 4, L)) as
    ("pos" | "neg", modisco-lite SeqletSet), most seqlets first within each sign. Torch's thread count is kept:
    modisco-lite sets numba's, which under the OpenMP layer is torch's too."""
    threads = torch.get_num_threads()
    try:
        pos, neg = _find_patterns(x, attr, cfg)
    finally:
        torch.set_num_threads(threads)
    out = []
    for sign, found in (("pos", pos), ("neg", neg)):
        out += [(sign, p) for p in sorted(found or [], key=lambda p: -len(p.seqlets))]
    return out


def _find_patterns(
    x: np.ndarray, attr: np.ndarray, cfg: MotifReportConfig
) -> tuple[list | None, list | None]:
    return _modisco()(
        one_hot=np.ascontiguousarray(x.transpose(0, 2, 1), dtype=np.float32),  # (N, L, 4)
        hypothetical_contribs=np.ascontiguousarray(attr.transpose(0, 2, 1), dtype=np.float32),  # (N, L, 4)
        sliding_window_size=cfg.window,
        flank_size=cfg.flank,
        target_seqlet_fdr=cfg.fdr,
        max_seqlets_per_metacluster=cfg.max_seqlets,
        min_metacluster_size=cfg.min_metacluster,
        final_min_cluster_size=cfg.min_cluster,
        n_leiden_runs=cfg.leiden_runs,
        trim_to_window_size=cfg.window + 2 * cfg.flank,
        initial_flank_to_add=cfg.flank,
    )


@lru_cache(maxsize=1)
def _modisco():
    """modisco-lite's ``TFMoDISco`` with its numba kernels cached on disk. Its own precompiler caches them only
    in a process with no other thread, and tangermeme's progress bars start one (tqdm's monitor), so without
    this every process would compile them again (about 20 s)."""
    import importlib

    parts = (
        "affinitymat",
        "aggregator",
        "cluster",
        "core",
        "extract_seqlets",
        "gapped_kmer",
        "tfmodisco",
        "util",
    )
    for part in parts:
        cache_numba_kernels(importlib.import_module(f"modiscolite.{part}"))
    return importlib.import_module("modiscolite.tfmodisco").TFMoDISco


def trim_span(cwm: np.ndarray, fraction: float = TRIM_FRACTION) -> tuple[int, int]:
    """[start, end) of the positions of a CWM (W, 4) from the first to the last whose summed |contribution|
    reaches ``fraction`` of the largest (modisco-lite's report trimming)."""
    score = np.abs(cwm).sum(1)  # (W,)
    keep = np.flatnonzero(score >= score.max() * fraction)
    return int(keep[0]), int(keep[-1]) + 1


def consensus(ppm: np.ndarray) -> str:
    """The most probable base at each position of a PPM (W, 4)."""
    return "".join("ACGT"[i] for i in ppm.argmax(1))


def revcomp(seq: str) -> str:
    return seq[::-1].translate(str.maketrans("ACGT", "TGCA"))


def seqlet_spans(pattern, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
    """(starts (S,), reverse strand (S,) bool) in their sequences of the trimmed part [start, end) of each of
    ``pattern``'s seqlets (a reverse-complement seqlet reads the pattern on the minus strand)."""
    starts, minus = [], []
    for s in pattern.seqlets:
        starts.append(s.end - end if s.is_revcomp else s.start + start)
        minus.append(bool(s.is_revcomp))
    return np.array(starts, dtype=int), np.array(minus, dtype=bool)


def relative(index0: np.ndarray, length: int, key: str) -> np.ndarray:
    """Relative coordinates (module docstring) of 0-based indices (float: centres may fall between bases)."""
    rel = {"promoter": promoter_rel, "terminator": terminator_rel}.get(key.split("_", 1)[0])
    if rel is None:
        return index0 + 1.0
    lo = np.floor(index0).astype(int)
    frac = index0 - lo
    return np.array([rel(int(i), length) for i in lo]) + frac


# ---- names and effects ------------------------------------------------------------------------------------------
def tomtom_matches(ppm: np.ndarray, top: int = TOP_MATCHES) -> list[Match]:
    """The ``top`` library motifs most similar to a PPM (W, 4) by TOMTOM p-value (both strands), best first."""
    from memelite import tomtom

    pwms, names = motif_library()
    keys = list(pwms)
    targets = [np.asarray(pwms[k], dtype=np.float64) for k in keys]  # each (4, W')
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p, *_, idx = tomtom([np.asarray(ppm.T, dtype=np.float64)], targets, n_nearest=top, n_jobs=1)
    return [
        Match(*_name_and_source(names[keys[int(j)]]), float(pv)) for j, pv in zip(idx[0], p[0], strict=True)
    ]


def _name_and_source(entry: tuple) -> tuple[str, str]:
    """(readable name, source) of a :func:`motif_library` name entry (the name first, the source among the rest)."""
    sources = {source for _, source in MOTIF_SOURCES}
    return entry[0], next((x for x in entry[1:] if x in sources), "")


def backgrounds(x: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """(n, 4, L) dinucleotide shuffles of ``n`` sequences drawn (seeded) from one-hot ``x`` (N, 4, L)."""
    from tangermeme.ersatz import dinucleotide_shuffle

    rng = np.random.default_rng(seed)
    pick = rng.choice(len(x), size=n, replace=len(x) < n)
    return dinucleotide_shuffle(x[pick], n=1, random_state=seed)[:, 0].float()  # (n, 4, L)


def marginal_effect(pred, background: torch.Tensor, motif: str, start: int) -> tuple[float, float]:
    """(mean, sd) over the backgrounds (n, 4, L) of the prediction after minus before inserting ``motif`` at
    0-based ``start`` (tangermeme's ``marginalize``)."""
    from tangermeme.marginalize import marginalize

    with torch.no_grad():
        res = marginalize(pred, background, motif, start=start, device="cpu", batch_size=128)
    diff = (res.y_after - res.y_before)[:, 0].numpy().astype(float)  # (n,)
    return float(diff.mean()), float(diff.std())


# ---- per key ----------------------------------------------------------------------------------------------------
def describe_pattern(
    name: str, sign: str, raw, length: int, key: str, pred, background: torch.Tensor
) -> Pattern:
    """A modisco-lite pattern trimmed, placed, named and marginalised."""
    cwm_full = np.asarray(raw.contrib_scores)  # (W0, 4)
    a, b = trim_span(cwm_full)
    cwm, ppm = cwm_full[a:b], np.asarray(raw.sequence)[a:b]  # (W, 4), (W, 4)
    starts, minus = seqlet_spans(raw, a, b)
    centres = relative(starts + (b - a - 1) / 2.0, length, key)  # (S,)
    strand = "-" if minus.mean() > 0.5 else "+"
    motif = consensus(ppm)
    insert = int(np.clip(np.median(starts), 0, length - len(motif)))
    effect, sd = marginal_effect(pred, background, revcomp(motif) if strand == "-" else motif, insert)
    return Pattern(
        name=name,
        sign=sign,
        seqlets=len(raw.seqlets),
        consensus=motif,
        cwm=cwm,
        ppm=ppm,
        position_mean=float(centres.mean()),
        position_sd=float(centres.std()),
        strand=strand,
        insert_start=insert,
        effect=effect,
        effect_sd=sd,
        matches=tomtom_matches(ppm),
    )


def key_report(
    pred, key: str, rows: list[dict], cfg: MotifReportConfig, progress: Progress | None = None, unit: str = ""
) -> KeyResult:
    """Attributions, patterns and their descriptions for one key's rows; ``pred`` maps one-hot (B, 4, L) to the
    key's prediction (B, 1) (:func:`~agrochat.chat.interpret.predictor`). Rows of another length than most are
    left out."""
    say = progress or (lambda *_: None)
    length = Counter(len(r["sequence"]) for r in rows).most_common(1)[0][0]
    rows = [r for r in rows if len(r["sequence"]) == length]
    x = one_hot_sequences([r["sequence"] for r in rows])  # (N, 4, L)
    seconds = {}
    t = time.perf_counter()
    attr = hypothetical_attributions(pred, x, cfg, tick=lambda d: say(key, "attributions", d, len(x)))
    seconds["attributions"] = time.perf_counter() - t
    t = time.perf_counter()
    say(key, "modisco", 0, 1)
    raw = run_modisco(x.numpy(), attr, cfg)
    say(key, "modisco", 1, 1)
    seconds["modisco"] = time.perf_counter() - t
    t = time.perf_counter()
    bg = backgrounds(x, cfg.backgrounds, cfg.seed)  # (n, 4, L)
    patterns, rank = [], Counter()
    for i, (sign, p) in enumerate(raw):
        patterns.append(describe_pattern(f"{sign}_{rank[sign]}", sign, p, length, key, pred, bg))
        rank[sign] += 1
        say(key, "patterns", i + 1, len(raw))
    seconds["patterns"] = time.perf_counter() - t
    splits = dict(Counter(r.get("split", "?") for r in rows))
    return KeyResult(key, splits, unit, patterns, seconds)


def check_keys(model, keys: tuple[str, ...] | list[str]) -> None:
    """:class:`UnknownTaskError` for a key ``model`` has no number for, listing those it has."""
    known = list(model.config.numeric_head.keys)
    for key in keys:
        if key not in known:
            raise UnknownTaskError(f"this model has no key {key!r}; it answers for: {', '.join(known)}")


def motif_report(
    model, cfg: MotifReportConfig, rows_by_key: dict[str, list[dict]], progress: Progress | None = None
) -> MotifReport:
    """TF-MoDISco patterns of ``model``'s attributions on each key's rows (``rows_by_key[key]``: dicts with a
    ``sequence`` and, for the report, a ``split``). ``progress(key, stage, done, total)`` is called as work is done.
    Unknown keys raise :class:`UnknownTaskError`, keys without rows :class:`InputError`."""
    check_keys(model, cfg.keys)
    for key in cfg.keys:
        if not rows_by_key.get(key):
            raise InputError(f"{key}: no sequences to attribute")
    units = getattr(model.config.numeric_head, "units", None) or {}
    results = [
        key_report(predictor(model, key), key, rows_by_key[key], cfg, progress, units.get(key, ""))
        for key in cfg.keys
    ]
    return MotifReport(cfg, results)


# ---- writing ----------------------------------------------------------------------------------------------------
def write_report(report: MotifReport, out_dir: str | Path, header: dict | None = None) -> Path:
    """``report.md`` (a table per key, ``header`` items first: command, date, model hash, ...), ``report.json``
    and one CWM logo PNG per pattern (``<key with _>/<pattern>.png``) in ``out_dir``; returns report.md's path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for res in report.results:
        for p in res.patterns:
            p.logo = f"{res.key.replace('/', '_')}/{p.name}.png"
            write_logo(p.cwm, out / p.logo, title=f"{res.key} {p.name}")
    data = {"header": header or {}, **report.to_dict()}
    (out / "report.json").write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    path = out / "report.md"
    path.write_text(markdown(report, header or {}), encoding="utf-8")
    return path


def write_logo(cwm: np.ndarray, path: Path, title: str = "", dpi: int = 80) -> None:
    """A small sequence logo of a CWM (W, 4) (logomaker, matplotlib Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import logomaker
    import matplotlib.pyplot as plt
    import pandas as pd

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(max(1.6, 0.16 * len(cwm)), 0.9))
    logomaker.Logo(pd.DataFrame(cwm, columns=list("ACGT")), ax=ax, color_scheme="classic")
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_xticks([])
    ax.tick_params(labelsize=5)
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    if title:
        ax.set_title(title, fontsize=6)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(fig)


def _matches_text(p: Pattern) -> str:
    return "; ".join(f"{m.name} ({m.p_value:.1g})" for m in p.matches) or "-"


def markdown(report: MotifReport, header: dict) -> str:
    """The report as Markdown: header items, method, a table per key."""
    cfg = report.config
    lines = ["# What the model learned about promoters: TF-MoDISco patterns", ""]
    lines += [f"- **{k}**: {v}" for k, v in header.items()]
    attribution = (
        f"DeepLIFT/SHAP hypothetical contributions ({cfg.n_shuffles} dinucleotide-shuffled references each)"
        if cfg.method == "deeplift_shap"
        else "in-silico saturation mutagenesis, centred over the four bases"
    )
    lines += [
        f"- **attributions**: {attribution}",
        f"- **TF-MoDISco** (modisco-lite): sliding window {cfg.window} bp, flank {cfg.flank} bp, target seqlet "
        f"FDR {cfg.fdr}, at most {cfg.max_seqlets} seqlets per sign, patterns of at least {cfg.min_cluster} "
        f"seqlets, {cfg.leiden_runs} Leiden runs",
        f"- **matches**: TOMTOM (memelite) of each trimmed pattern (positions with at least "
        f"{TRIM_FRACTION:.0%} of the largest contribution) against the shipped library (Jores et al. 2021 core "
        "promoter elements and TF clusters, JASPAR 2026 CORE plants); the three best, TOMTOM p-value in brackets",
        f"- **effect**: the consensus inserted into {cfg.backgrounds} backgrounds ({report.background}) at the "
        "median position of the pattern's seqlets, on the strand most of them lie on (tangermeme `marginalize`); "
        "mean and standard deviation of prediction after minus before",
        "- **position**: mean ± sd of the trimmed motif's centre in its seqlets, relative to the TSS (no position "
        "0; the TSS is +1)",
        "",
        _summary(report),
    ]
    for res in report.results:
        lines += ["", *_key_section(res)]
    return "\n".join(lines) + "\n"


def _summary(report: MotifReport) -> str:
    parts = []
    for res in report.results:
        tata = [p.name for p in res.patterns if any(m.name == "TATA box" for m in p.matches)]
        parts.append(
            f"{res.key}: {len(res.patterns)} pattern{'' if len(res.patterns) == 1 else 's'}"
            + (
                f", TATA box among the top matches of {', '.join(tata)}"
                if tata
                else ", none matching the TATA box"
            )
        )
    return "**Summary.** " + "; ".join(parts) + "."


def _key_section(res: KeyResult) -> list[str]:
    seqs = ", ".join(f"{n} {split}" for split, n in res.sequences.items())
    unit = f" Effects in {res.unit}." if res.unit else ""
    lines = [f"## {res.key}", "", f"{sum(res.sequences.values())} sequences ({seqs}).{unit}", ""]
    if not res.patterns:
        return lines + ["TF-MoDISco found no pattern."]
    lines += [
        "| pattern | logo (CWM) | seqlets | consensus | position | effect | top matches |",
        "|---|---|---:|---|---:|---:|---|",
    ]
    for p in res.patterns:
        logo = f"![{p.name}]({p.logo})" if p.logo else ""
        lines.append(
            f"| {p.name} | {logo} | {p.seqlets} | `{p.consensus}` ({p.strand}) | "
            f"{p.position_mean:+.0f} ± {p.position_sd:.0f} | {p.effect:+.3f} ± {p.effect_sd:.3f} | "
            f"{_matches_text(p)} |"
        )
    return lines


__all__ = [
    "METHODS",
    "KeyResult",
    "Match",
    "MotifReport",
    "MotifReportConfig",
    "Pattern",
    "backgrounds",
    "check_keys",
    "consensus",
    "hypothetical_attributions",
    "key_report",
    "marginal_effect",
    "motif_report",
    "report_rows",
    "run_modisco",
    "tomtom_matches",
    "trim_span",
    "write_report",
]
