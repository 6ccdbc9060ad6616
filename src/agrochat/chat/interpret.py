"""Attributions and named regions, computed with the field's tools (tangermeme, memelite).

- **Attribution** of each base: in-silico saturation mutagenesis (ISM, tangermeme's ``saturation_mutagenesis``:
  every base changed to the three others; per position the changes are centred over the four bases and read at
  the observed base) or DeepLIFT/SHAP (tangermeme's ``deep_lift_shap``, dinucleotide-shuffled references; needs
  the CNN encoder's gradients). Answers use ISM (:data:`ANSWER_ATTRIBUTION`): it is the model's own behaviour
  for every single change, with no approximation. DeepLIFT/SHAP agrees with it only moderately on the shipped
  model (median per-base r 0.74 / 0.78 on 200 test promoters per system) and does not sum to the output
  difference (about 23 % off: the squeeze-and-excitation product and the peak pooling have no DeepLIFT rule);
  ``bench/attributions.py``.
- **Regions**: seqlets called on the attribution (tangermeme's ``recursive_seqlets``); each region's *effect* is
  the prediction minus the mean prediction with the region's bases shuffled (tangermeme's ``ablate``, 20 shuffles;
  positive: the region raises the prediction).
- **Matches**: FIMO (memelite) of the Jores et al. 2021 core elements and TF clusters and the JASPAR 2026 CORE
  plant profiles (promoters), or the poly(A) signals the annotator finds (terminators), listed under the region
  they overlap, so a region is one cause however many profiles match it.

Coordinates: ``start``/``end`` are 0-based, end-exclusive here; :meth:`Region.to_dict` writes 1-based, inclusive
positions in the sequence, and positions relative to the TSS (promoters) or the cleavage site (terminators).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import torch

from agrochat.bridge.onehot import OneHotPredictor, one_hot_sequences
from agrochat.domain.explain import DISPLAY
from agrochat.domain.motifs import Annotation, promoter_rel, terminator_rel
from agrochat.domain.paths import MOTIFS_DIR
from agrochat.errors import InputError

BASES = "ACGT"
ATTRIBUTIONS = ("ism", "deeplift_shap")
ANSWER_ATTRIBUTION = "ism"
MOTIF_SOURCES = (  # file, source named in answers
    ("CPEs.meme", "Jores et al. 2021 core promoter elements"),
    ("TF-clusters.meme", "Jores et al. 2021 TF clusters"),
    ("JASPAR2026_CORE_plants.meme", "JASPAR 2026 CORE plants"),
)


@dataclass
class MotifMatch:
    """A motif profile matching part of the sequence."""

    name: str  # readable: "TATA box", "TF_65 (Trihelix)", "ATMYB31 (MYB; JASPAR MA1738.1)"
    source: str
    start: int  # 0-based, end exclusive
    end: int
    strand: str
    p_value: float | None  # FIMO's p-value (None for the annotator's poly(A) signals)
    element: str | None = (
        None  # the Jores et al. 2021 element ("TATA", "TF_65"), whose library effect is known
    )

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "source": self.source,
            "start": self.start + 1,
            "end": self.end,
            "strand": self.strand,
            "p_value": None if self.p_value is None else float(f"{self.p_value:.3g}"),
        }


@dataclass
class Region:
    """A stretch the attribution marks as important, its effect by ablation and the profiles it matches."""

    start: int  # 0-based, end exclusive
    end: int
    rel_start: int  # relative to the TSS / cleavage site
    rel_end: int
    sequence: str
    attribution: float  # sum of the per-base attribution over the region
    effect: float  # prediction - mean prediction with the region shuffled (positive: the region raises it)
    spread: float  # standard deviation of the predictions over the shuffles
    matches: list[MotifMatch] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "start": self.start + 1,
            "end": self.end,
            "relative_start": self.rel_start,
            "relative_end": self.rel_end,
            "sequence": self.sequence,
            "attribution": round(self.attribution, 4),
            "effect": round(self.effect, 4),
            "effect_spread": round(self.spread, 4),
            "matches": [m.to_dict() for m in self.matches],
        }


def predictor(model, key: str, score=None) -> OneHotPredictor:
    """The model's number for ``key`` as a module on one-hot bases (eval mode); ``score(sequences) -> values``
    answers where the model has no one-hot path (a tokenised encoder, or a number read from the decoder)."""
    return OneHotPredictor(model, key, score).eval()


def ism(pred: OneHotPredictor, sequence: str, batch_size: int = 512) -> np.ndarray:
    """(L, 4) predicted change for every single-base substitution (A, C, G, T; 0 at the observed base; at an N
    all four bases are substitutions)."""
    if set(sequence) - set(
        BASES
    ):  # tangermeme holds the one-hot as int8: an N (0.25 per base) would read as 0
        return _ism_by_mutants(pred, sequence, batch_size)
    from tangermeme.saturation_mutagenesis import saturation_mutagenesis

    x = one_hot_sequences([sequence])  # (1, 4, L)
    with torch.no_grad():
        raw = saturation_mutagenesis(pred, x, batch_size=batch_size, raw_outputs=True, device="cpu")
    y0, y = raw.y0, raw.y_hat  # (1, 1), (1, 4, L, 1)
    return (y[0, :, :, 0] - y0[0, 0]).T.numpy().astype(float)  # (L, 4)


def _ism_by_mutants(pred: OneHotPredictor, sequence: str, batch_size: int) -> np.ndarray:
    """The same for a sequence with other letters than A, C, G, T, by scoring every mutant as it is."""
    n = len(sequence)
    mutants = [sequence[:i] + b + sequence[i + 1 :] for i in range(n) for b in BASES]
    x = one_hot_sequences([sequence, *mutants])  # (1 + 4L, 4, L)
    with torch.no_grad():
        y = torch.cat([pred(x[j : j + batch_size]) for j in range(0, len(x), batch_size)])[:, 0]  # (1 + 4L,)
    effects = (y[1:] - y[0]).view(n, 4).numpy().astype(float)  # (L, 4)
    for i, c in enumerate(sequence):
        if c in BASES:
            effects[i, BASES.index(c)] = 0.0
    return effects


def ism_attribution(effects: np.ndarray) -> np.ndarray:
    """(L,) attribution of the observed bases from ISM changes (L, 4): the change at the observed base (0) minus
    the mean change over the four bases (tangermeme's convention), i.e. minus a quarter of the changes' sum."""
    return -effects.sum(1) / 4.0


def deeplift_shap(pred: OneHotPredictor, sequence: str, n_shuffles: int = 20, seed: int = 0) -> np.ndarray:
    """(L,) DeepLIFT/SHAP attribution of the observed bases (dinucleotide-shuffled references)."""
    from tangermeme.deep_lift_shap import deep_lift_shap

    pred.require_gradients("DeepLIFT/SHAP")
    if set(sequence) - set(BASES):
        raise InputError("DeepLIFT/SHAP reads A, C, G, T only; this sequence has other letters: use ism")
    x = one_hot_sequences([sequence])
    with warnings.catch_warnings():  # convergence is measured in bench/attributions.py, not repeated per call
        warnings.simplefilter("ignore")
        attr = deep_lift_shap(pred, x, n_shuffles=n_shuffles, random_state=seed, device="cpu")
    return attr[0].sum(0).detach().numpy().astype(float)  # (L,)


def attribution(pred: OneHotPredictor, sequence: str, method: str = ANSWER_ATTRIBUTION) -> np.ndarray:
    """(L,) per-base attribution by ``method`` (:data:`ATTRIBUTIONS`)."""
    if method == "ism":
        return ism_attribution(ism(pred, sequence))
    if method == "deeplift_shap":
        return deeplift_shap(pred, sequence)
    raise InputError(f"unknown attribution {method!r}; choose one of {', '.join(ATTRIBUTIONS)}")


def cache_numba_kernels(module) -> None:
    """Let the numba kernels of ``module`` (a library compiled without ``cache=True``) keep their compiled code on
    disk, so a new process does not spend seconds compiling them again."""
    import numba

    for name in dir(module):
        fn = getattr(module, name)
        if isinstance(fn, numba.core.registry.CPUDispatcher):
            try:
                fn.enable_caching()
            except Exception:  # noqa: BLE001 - a read-only install: compile in memory as the library does
                pass


@lru_cache(maxsize=1)
def _seqlet_caller():
    """tangermeme's recursive seqlet caller, its numba kernels cached on disk."""
    import tangermeme.seqlet as seqlet

    cache_numba_kernels(seqlet)
    return seqlet.recursive_seqlets


def call_regions(
    attr: np.ndarray, threshold: float = 0.01, min_len: int = 4, max_len: int = 25
) -> list[tuple[int, int]]:
    """(start, end) spans, 0-based end-exclusive, of the seqlets of a per-base attribution (L,), 5' to 3'."""
    found = _seqlet_caller()(
        torch.tensor(attr, dtype=torch.float32)[None],
        threshold=threshold,
        min_seqlet_len=min_len,
        max_seqlet_len=max_len,
    )
    return sorted((int(r.start), int(r.end)) for r in found.itertuples())


def ablate_regions(
    pred: OneHotPredictor, sequence: str, spans: list[tuple[int, int]], n: int = 20, seed: int = 0
) -> list[tuple[float, float]]:
    """(effect, spread) of each span: prediction minus the mean over ``n`` shuffles of the span's bases, and the
    standard deviation of those predictions."""
    from tangermeme.ablate import ablate

    x = one_hot_sequences([sequence])
    out = []
    for start, end in spans:
        with torch.no_grad():
            res = ablate(pred, x, start, end, n=n, random_state=seed, device="cpu")
        before, after = res.y_before, res.y_after  # (1, 1), (1, n, 1)
        out.append((float(before[0, 0] - after[0, :, 0].mean()), float(after[0, :, 0].std())))
    return out


@lru_cache(maxsize=1)
def motif_library() -> tuple[dict, dict]:
    """(PWMs by MEME key, (readable name, source, Jores element or None, source rank) by MEME key) of the
    shipped motif files."""
    from memelite.io import read_meme

    pwms, names = {}, {}
    for rank, (file, source) in enumerate(MOTIF_SOURCES):
        for key, pwm in read_meme(str(MOTIFS_DIR / file)).items():
            pwms[key] = pwm
            names[key] = (*_readable(key, file), source, rank)
    return pwms, names


def _readable(key: str, file: str) -> tuple[str, str | None]:
    """(readable name, Jores element name or None) of a MEME key of ``file``."""
    ident, _, alt = key.partition(" ")
    if file == "CPEs.meme":
        element = alt or ident
        return DISPLAY.get(element, element), element
    if file == "TF-clusters.meme":
        element = f"TF_{ident.rsplit('_', 1)[-1]}"
        return f"{element} ({alt.replace('/', ', ')})", element
    name, _, family = alt.partition("|")
    return f"{name} ({family.replace('_', ' ')}; JASPAR {ident})", None


def motif_matches(sequence: str, threshold: float = 1e-4) -> list[MotifMatch]:
    """FIMO hits (p < ``threshold``, both strands) of every shipped profile in ``sequence``: the Jores et al.
    2021 elements first (the assay's own elements, with measured effects), then JASPAR; each by p-value."""
    from memelite import fimo

    pwms, names = motif_library()
    x = one_hot_sequences([sequence]).numpy()
    hits = fimo(pwms, x, threshold=threshold, dim=1)[0]
    ranked = []
    for key, start, end, strand, p in zip(
        hits["motif_name"], hits["start"], hits["end"], hits["strand"], hits["p-value"], strict=True
    ):
        name, element, source, rank = names[key]
        ranked.append(
            (rank, float(p), MotifMatch(name, source, int(start), int(end), str(strand), float(p), element))
        )
    return [m for _, _, m in sorted(ranked, key=lambda t: t[:2])]


def annotated_matches(annotation: Annotation) -> list[MotifMatch]:
    """The annotator's hits as matches (terminators: the poly(A) signals)."""
    return [
        MotifMatch(DISPLAY.get(h.name, h.name), "poly(A) signal scan", h.start, h.end, h.strand, None, h.name)
        for h in annotation.hits
    ]


def overlapping(matches: list[MotifMatch], start: int, end: int) -> list[MotifMatch]:
    """The matches lying at least half inside ``[start, end)`` (half of the shorter of the two), one per name."""
    out, seen = [], set()
    for m in matches:
        inside = min(end, m.end) - max(start, m.start)
        if inside > 0 and inside * 2 >= min(end - start, m.end - m.start) and m.name not in seen:
            out.append(m)
            seen.add(m.name)
    return out


def regions(
    pred: OneHotPredictor,
    sequence: str,
    attr: np.ndarray,
    kind: str,
    matches: list[MotifMatch],
    max_matches: int = 5,
    shuffles: int = 20,
    seed: int = 0,
) -> list[Region]:
    """Seqlets of ``attr`` with their ablation effects and the ``matches`` under each (at most
    ``max_matches``), largest effect first."""
    spans = call_regions(attr)
    effects = ablate_regions(pred, sequence, spans, n=shuffles, seed=seed)
    rel = promoter_rel if kind == "promoter" else terminator_rel
    n = len(sequence)
    out = [
        Region(
            s,
            e,
            rel(s, n),
            rel(e - 1, n),
            sequence[s:e],
            float(attr[s:e].sum()),
            eff,
            spread,
            overlapping(matches, s, e)[:max_matches],
        )
        for (s, e), (eff, spread) in zip(spans, effects, strict=True)
    ]
    return sorted(out, key=lambda r: -abs(r.effect))


__all__ = [
    "ANSWER_ATTRIBUTION",
    "ATTRIBUTIONS",
    "MotifMatch",
    "Region",
    "ablate_regions",
    "annotated_matches",
    "attribution",
    "call_regions",
    "deeplift_shap",
    "ism",
    "ism_attribution",
    "motif_matches",
    "overlapping",
    "predictor",
    "regions",
]
